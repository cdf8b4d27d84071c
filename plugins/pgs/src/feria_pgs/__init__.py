"""Participatory certification labels (sistemas participativos de garantía) for feria.

A label such as "Hecho sin patrón" (made without bosses) is granted to a producer, or to
some of its products, by its peers: other producers and consumers visit it, a committee
decides, and the label is valid for a period unless it is suspended or revoked. The plugin
keeps that whole history in its own tables, shows each label beside the products only
while it is valid, and publishes a registry anyone can check (a QR code on the stall sign
leads to it).

Built only on feria's public hooks, like any plugin an outsider would write.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from feria import hookimpl
from feria_pgs import registry

HERE = Path(__file__).parent


def _day(on: dt.date | None) -> dt.date:
    if on is None:
        return dt.date.today()
    return on.date() if isinstance(on, dt.datetime) else on


@hookimpl
def feria_labels(producer, product, on, db):
    return registry.labels(db, producer, product, _day(on))


@hookimpl
def feria_labels_of_products(products, on, db):
    return registry.labels_of_products(db, products, _day(on))


@hookimpl
def feria_product_badges(product, on, db):
    found = registry.valid_holdings(
        db, producer_id=product.producer_id, product_id=product.id, on=_day(on)
    )
    return [registry.as_badge(h) for h in found]


@hookimpl
def feria_label_filters(fair, db):
    return registry.label_filters(db, fair.network_id, dt.date.today())


@hookimpl
def feria_products_with_label(code, product_ids, on, db):
    return registry.products_with_label(db, code, product_ids, _day(on))


@hookimpl
def feria_migration_dirs():
    return [HERE / "migrations"]


@hookimpl
def feria_routes():
    from feria_pgs.web import routes

    return routes


@hookimpl
def feria_template_dirs():
    return [HERE / "templates"]


@hookimpl
def feria_static_dirs():
    return [("pgs", HERE / "static")]


@hookimpl
def feria_load_demo(engine, fair_slug):
    from feria_pgs.demo import load_demo_labels

    load_demo_labels(engine, fair_slug)


@hookimpl
def feria_cli_commands():
    from feria_pgs.cli import labels

    return [labels]
