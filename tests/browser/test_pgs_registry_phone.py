"""The label plugin's public registry on a phone: every label reads as a card, with each
figure under its column's name, and nothing is cut off at the screen's edge."""

from __future__ import annotations

import datetime as dt

import pytest

from feria.db import write_session
from feria.testing.browser import LAPTOP, PHONE

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def label(live) -> None:
    """A label held by P09, who has no stall at the fair (so no other test sees it)."""
    from feria_pgs.certification import (
        Participant,
        add_scheme,
        decide,
        record_visit,
        submit_application,
    )

    fair = live.fair
    today = dt.date.today()
    with write_session(live.engine) as db:
        scheme = add_scheme(db, fair.network_id, "telar", "Telar comunitario", validity_months=12)
        application = submit_application(
            db,
            scheme.id,
            fair.producers["P09"],
            product_ids=[],
            on=today - dt.timedelta(days=20),
            recorded_by=fair.users["organizer"],
        )
        record_visit(
            db,
            application.id,
            visitors=[Participant(producer_code="P02"), Participant(name="Marta Quiroz")],
            findings="Asamblea semanal con actas.",
            on=today - dt.timedelta(days=10),
        )
        decide(
            db,
            application.id,
            "approved",
            committee="Comité de garantía de la Red",
            members=[Participant(producer_code="P02")],
            reasons="Cumple los criterios del sello.",
            on=today,
            recorded_by=fair.users["organizer"],
        )


def test_the_registry_reads_as_cards_on_a_phone(new_page, live, label):
    page = new_page(PHONE)
    page.goto("/-/plugins/pgs/registry?lang=es")
    row = page.locator(".pgs-table tbody tr", has_text="Telar comunitario")

    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    box = row.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    # The column headings are left to screen readers; each cell carries its own name.
    assert page.locator(".pgs-table thead").first.bounding_box()["height"] <= 1
    held_by = row.locator("td[data-label='Lo tiene']")
    assert held_by.evaluate("td => getComputedStyle(td, '::before').content") == '"Lo tiene"'
    assert "No participa" in held_by.inner_text()


def test_the_registry_is_a_table_on_a_laptop(new_page, live, label):
    page = new_page(LAPTOP)
    page.goto("/-/plugins/pgs/registry?lang=es")

    assert page.locator(".pgs-table thead th").first.is_visible()
    assert page.locator(".pgs-table").first.evaluate("t => getComputedStyle(t).display") == "table"
