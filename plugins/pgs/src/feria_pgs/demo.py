"""Labels for the demo fair: two schemes of the network and a label of each, held by demo
producers, so the storefront, the till and the registry have something to show.

* "Hecho sin patrón" (made without bosses), to the textile cooperative (P07) as a whole;
* "Agroecológico SPG", to two of the beekeeper's (P01) honeys only.

Idempotent like feria's own demo: a second call finds the schemes and changes nothing.
The dates are set back from today (or from the fair, if it is earlier), so the labels are
valid both today and during the fair.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from feria.accounts import User
from feria.catalogue.models import Fair, Product
from feria.db import write_session
from feria.errors import NotFound
from feria_pgs.certification import (
    Participant,
    add_scheme,
    decide,
    producer_by_code,
    record_visit,
    submit_application,
)
from feria_pgs.models import Holding, Scheme

SCHEMES = (
    (
        "sin-patron",
        "Hecho sin patrón",
        "Lo hace una cooperativa o un grupo de trabajo autogestionado: sin patrón, las "
        "decisiones se toman en asamblea y los ingresos se reparten según lo acordado.",
        24,
    ),
    (
        "agroecologico",
        "Agroecológico SPG",
        "Producción sin agrotóxicos ni transgénicos, que cuida el suelo, el agua y la "
        "biodiversidad, verificada por un sistema participativo de garantía.",
        12,
    ),
)


def _person(db: Session, username: str, fallback: str) -> Participant:
    """A demo user when feria's demo made them, else the same person by name."""
    if db.scalar(select(User.id).where(User.username == username)) is not None:
        return Participant(username=username)
    return Participant(name=fallback)


def load_demo_labels(engine: Engine, fair_slug: str) -> list[int]:
    """Create the demo schemes and labels in the network of ``fair_slug``; return the ids of
    the demo labels granted (the same ids on a second call)."""
    with write_session(engine) as db:
        fair = db.scalar(select(Fair).where(Fair.slug == fair_slug))
        if fair is None:
            raise NotFound(f"there is no fair {fair_slug!r}: load the demo fair first")
        existing = db.scalars(
            select(Holding.id)
            .join(Scheme, Scheme.id == Holding.scheme_id)
            .where(Scheme.network_id == fair.network_id, Scheme.code.in_([s[0] for s in SCHEMES]))
            .order_by(Holding.id)
        ).all()
        if existing:
            return list(existing)
        schemes = {
            code: add_scheme(
                db, fair.network_id, code, name, criteria=criteria, validity_months=months
            )
            for code, name, criteria, months in SCHEMES
        }
        anchor = min(dt.date.today(), fair.starts_on)
        organizer = db.scalar(select(User.id).where(User.role == "organizer").order_by(User.id))
        shopper = _person(db, "compradora", "Sofía Ramírez")
        network = fair.network_id
        coop = producer_by_code(db, "P07", network)
        honey = producer_by_code(db, "P01", network)
        honeys = db.scalars(
            select(Product.id)
            .where(Product.producer_id == honey.id, Product.sku.in_(["MIEL-ULMO-KG", "MIEL-500"]))
            .order_by(Product.id)
        ).all()

        granted = []
        for producer, scheme, product_ids, visitors, findings, members, reasons in (
            (
                coop,
                schemes["sin-patron"],
                (),
                [Participant(producer_code="P11"), shopper],
                "Asamblea semanal con actas; las cuatro socias trabajan en el taller y se "
                "reparten los ingresos por horas trabajadas, como dicen sus estatutos.",
                [Participant(producer_code="P02"), Participant(producer_code="P04"), shopper],
                "Cooperativa de trabajo sin patrón; reparto de ingresos acordado en asamblea.",
            ),
            (
                honey,
                schemes["agroecologico"],
                honeys,
                [Participant(producer_code="P02"), Participant(name="Marta Quiroz")],
                "Colmenas lejos de cultivos fumigados; la miel se cosecha sin calentar y sin "
                "alimentar a las abejas con azúcar.",
                [Participant(producer_code="P07"), Participant(producer_code="P03"), shopper],
                "La miel de ulmo y la multifloral cumplen; las velas y la tintura quedan "
                "fuera hasta la próxima visita.",
            ),
        ):
            application = submit_application(
                db,
                scheme.id,
                producer.id,
                product_ids=product_ids,
                on=anchor - dt.timedelta(days=60),
                recorded_by=organizer,
            )
            record_visit(
                db,
                application.id,
                visitors=visitors,
                findings=findings,
                on=anchor - dt.timedelta(days=35),
                recorded_by=organizer,
            )
            decision = decide(
                db,
                application.id,
                "approved",
                committee="Comité de garantía de la Red",
                members=members,
                reasons=reasons,
                on=anchor - dt.timedelta(days=20),
                recorded_by=organizer,
            )
            granted.append(decision.holding.id)
        return granted
