"""What a newcomer sees trying the demo on a laptop and on a phone: nothing peeks out where it
should not, and what the cashier typed last never lingers into the next sale."""

from __future__ import annotations

import pytest

from feria.testing.browser import LAPTOP, PHONE

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_the_skip_link_is_out_of_sight_until_it_has_the_focus(new_page, viewport):
    page = new_page(viewport)
    page.goto("/")
    link = page.locator(".skip-link")
    box = link.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 0, box
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    box = link.bounding_box()
    assert box is not None and box["y"] >= 0, box


def test_the_cash_typed_for_one_sale_is_gone_when_the_next_sale_is_paid(
    new_page, login, live, open_till
):
    """A sale paid by typing 20.000, then the next one paid with Enter alone: the hint says
    Enter alone pays what is due, so the second shopper gets no change for money never
    handed over."""
    from sqlalchemy import select

    from feria.cashbox.models import Sale
    from feria.db import read_session
    from feria.web.api.cashbox import load_sale

    till, session_id = open_till
    page = new_page(PHONE)
    login(page, "cashier", f"/pos?till={till}")
    page.wait_for_selector("#pos[data-ready=true]")
    for typed in ("20000", ""):
        page.keyboard.type("p07 2500")
        page.keyboard.press("Enter")
        page.wait_for_selector("#lines-body tr")
        page.keyboard.type("+")  # on to the payment
        assert page.evaluate("document.activeElement.id") == "tender-amount"
        assert page.input_value("#tender-amount") == ""  # nothing left from the sale before
        page.keyboard.type(typed)
        page.keyboard.press("Enter")
        page.locator("#receipt article.receipt[data-sale]").wait_for()
        page.wait_for_function("document.activeElement.id === 'command'")
    assert page.input_value("#tender-amount") == ""
    with read_session(live.engine) as db:
        ids = list(db.scalars(select(Sale.id).where(Sale.session_id == session_id)))
    tenders = [load_sale(live.engine, i).body["tenders"][0] for i in sorted(ids)]
    assert [(t["amount"], t["change"]) for t in tenders] == [(20000, 17500), (2500, 0)]
