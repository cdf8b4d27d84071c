"""A tender in another currency is worth, on the till's screen, exactly what the engine will
count it for: the fair's rate, rounded once, half away from zero (feria.money.convert). A
float product on the page would be a unit off now and then, and the engine then refuses
the sale the page thought paid, or the amount the page offered to pay.

The server and database are this module's own: a fair in reais, where a community
currency with cents is worth 0,70 (0.7 × 45 is 31.499… as a float, 31.5 exactly).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from feria.cashbox.models import Sale
from feria.db import read_session
from feria.web.api.cashbox import load_sale

pytestmark = pytest.mark.browser

sc = pytest.importorskip("feria_social_currency", reason="the social currency plugin pays here")

CODE = "PALMA"
PIN = "2468"
SOCIAL = "input[name=method][value=social_currency]"
ACCOUNT = "#tender-social_currency-account-account"
PIN_INPUT = "#tender-social_currency-account-pin"


@pytest.fixture(scope="module")
def live(currency_fair):
    """A fair in reais with PALMA at 0.7, a member holding 100.00 PALMA."""
    with currency_fair(
        CODE, name="Palma", rate="0.7", issued=10_000, pin=PIN, fair_currency="BRL"
    ) as fair:
        yield fair


def test_enter_alone_pays_in_the_other_currency_what_the_engine_takes_for_the_due(
    page, login, live, open_till
):
    till, session_id = open_till
    login(page, "cashier", f"/pos?till={till}")
    page.wait_for_selector("#pos[data-ready=true]")
    page.keyboard.type("p01 0,31")  # a free line of R$ 0,31
    page.keyboard.press("Enter")
    page.wait_for_selector("#lines-body tr")
    page.keyboard.press("+")
    page.check(SOCIAL)
    page.wait_for_selector(f"{ACCOUNT}:visible")
    # 0,45 PALMA is worth 0,315, so R$ 0,32: too much. 0,44 is worth 0,308, so R$ 0,31.
    assert "0,44 PALMA" in page.inner_text("#tender-rate")
    page.focus("#tender-amount")
    page.keyboard.press("Enter")
    page.keyboard.type(live.member)
    page.keyboard.press("Enter")
    page.keyboard.type(PIN)
    page.keyboard.press("Enter")

    page.locator("#receipt article.receipt[data-sale]").wait_for()
    with read_session(live.engine) as db:
        (recorded,) = db.scalars(select(Sale).where(Sale.session_id == session_id))
    (tender,) = load_sale(live.engine, recorded.id).body["tenders"]
    assert (tender["currency"], tender["amount"], tender["applied"]) == (CODE, 44, 44)


def test_a_typed_amount_that_pays_the_due_exactly_is_taken_as_paying_it(
    page, login, live, open_till
):
    till, session_id = open_till
    login(page, "cashier", f"/pos?till={till}")
    page.wait_for_selector("#pos[data-ready=true]")
    page.keyboard.type("p01 0,32")  # R$ 0,32, which 0,45 PALMA pays: 0,315 rounds up
    page.keyboard.press("Enter")
    page.wait_for_selector("#lines-body tr")
    page.keyboard.press("+")
    page.check(SOCIAL)
    page.wait_for_selector(f"{ACCOUNT}:visible")
    page.fill("#tender-amount", "0,45")
    page.fill(ACCOUNT, live.member)
    page.fill(PIN_INPUT, PIN)
    page.focus(PIN_INPUT)
    page.keyboard.press("Enter")

    page.locator("#receipt article.receipt[data-sale]").wait_for()
    with read_session(live.engine) as db:
        (recorded,) = db.scalars(select(Sale).where(Sale.session_id == session_id))
    (tender,) = load_sale(live.engine, recorded.id).body["tenders"]
    assert (tender["currency"], tender["amount"]) == (CODE, 45)
