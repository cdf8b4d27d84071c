"""Fixtures for the label plugin's tests, built on feria's public ones (``engine``, ``pm``,
``fair``): every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from feria_pgs.certification import (
    Participant,
    add_scheme,
    decide,
    record_visit,
    submit_application,
)

from feria.db import write_session

APPLIED = dt.date(2026, 1, 5)
VISITED = dt.date(2026, 1, 20)
DECIDED = dt.date(2026, 2, 1)


@pytest.fixture
def pm(pm):
    assert pm.get_plugin("pgs") is not None, "install the plugin: pip install -e plugins/pgs"
    return pm


@pytest.fixture
def schemes(engine, fair) -> dict[str, int]:
    """Two schemes of the fair's network: ``sin-patron`` (24 months) and ``agro`` (12)."""
    with write_session(engine) as db:
        return {
            "sin-patron": add_scheme(
                db,
                fair.network_id,
                "sin-patron",
                "Hecho sin patrón",
                criteria="Autogestión: sin patrón, decisiones en asamblea.",
                validity_months=24,
            ).id,
            "agro": add_scheme(
                db, fair.network_id, "agro", "Agroecológico SPG", validity_months=12
            ).id,
        }


@pytest.fixture
def grant(engine, fair, schemes) -> Callable[..., int]:
    """``grant(scheme, producer, products=(), decided_on=DECIDED)`` runs the whole cycle
    (application, a visit by P02 and a consumer, an approval) and returns the label's id."""

    def _grant(
        scheme: str = "sin-patron",
        producer: str = "P07",
        products: tuple[str, ...] = (),
        decided_on: dt.date = DECIDED,
    ) -> int:
        peer = "P02" if producer != "P02" else "P01"
        with write_session(engine) as db:
            application = submit_application(
                db,
                schemes[scheme],
                fair.producers[producer],
                product_ids=[fair.products[p] for p in products],
                on=decided_on - dt.timedelta(days=27),
                recorded_by=fair.users["organizer"],
            )
            record_visit(
                db,
                application.id,
                visitors=[Participant(producer_code=peer), Participant(name="Marta Quiroz")],
                findings="Asamblea semanal con actas; reparto de ingresos acordado.",
                on=decided_on - dt.timedelta(days=12),
            )
            decision = decide(
                db,
                application.id,
                "approved",
                committee="Comité de garantía de la Red",
                members=[Participant(producer_code=peer), Participant(username="compra")],
                reasons="Cumple los criterios del sello.",
                on=decided_on,
                recorded_by=fair.users["organizer"],
            )
            return decision.holding.id

    return _grant
