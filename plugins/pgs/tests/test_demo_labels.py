"""The demo fair's labels: two schemes, two labels held by demo producers (one for some
products only), valid today and during the fair, loaded once however often it is asked."""

from __future__ import annotations

import datetime as dt

from feria_pgs.demo import load_demo_labels
from feria_pgs.models import Holding
from sqlalchemy import select

from feria.catalogue.models import Producer, Product
from feria.db import read_session
from feria.demo import DEMO_FAIR_SLUG, load_demo


def test_demo_labels_are_held_by_demo_producers_today_and_during_the_fair(engine, pm):
    info = load_demo(engine, pm, with_sales=False)

    pm.hook.feria_load_demo(engine=engine, pm=pm, fair_slug=DEMO_FAIR_SLUG)  # as `feria demo`
    granted = load_demo_labels(engine, DEMO_FAIR_SLUG)  # the demo starts again

    with read_session(engine) as db:
        assert db.scalars(select(Holding.id).order_by(Holding.id)).all() == granted
    assert len(granted) == 2
    with read_session(engine) as db:
        coop = db.scalar(select(Producer).where(Producer.code == "P07"))
        honey = db.scalar(select(Product).where(Product.sku == "MIEL-500"))
        candles = db.scalar(select(Product).where(Product.sku == "VELAS-CERA"))
        for day in (dt.date.today(), info.starts_on, info.ends_on):
            (coop_labels,) = pm.hook.feria_labels(producer=coop, product=None, on=day, db=db)
            assert [label.name for label in coop_labels] == ["Hecho sin patrón"]
            (honey_labels,) = pm.hook.feria_labels(producer=None, product=honey, on=day, db=db)
            assert [label.name for label in honey_labels] == ["Agroecológico SPG"]
            (candle_labels,) = pm.hook.feria_labels(producer=None, product=candles, on=day, db=db)
            assert candle_labels == []
