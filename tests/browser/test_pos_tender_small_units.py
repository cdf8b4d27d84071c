"""Enter alone pays what is due in another currency even when one of its units is worth less
than half of one of the fair's, so nothing once rounded: a community currency with cents at
par with the Chilean peso, which has none. The page works out what to offer from the rate,
never by dividing by what one unit is worth (which is 0).

The server and database are this module's own: a fair in pesos and LUKA, 2 decimals.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from feria.cashbox.models import Sale
from feria.db import read_session
from feria.web.api.cashbox import load_sale

pytestmark = pytest.mark.browser

sc = pytest.importorskip("feria_social_currency", reason="the social currency plugin pays here")

CODE = "LUKA"
PIN = "2468"
SOCIAL = "input[name=method][value=social_currency]"
ACCOUNT = "#tender-social_currency-account-account"


@pytest.fixture(scope="module")
def live(currency_fair):
    """A fair in pesos (no cents) with LUKA (2 decimals) at par, a member holding 10,000."""
    with currency_fair(CODE, name="Luka", rate="1", issued=1_000_000, pin=PIN) as fair:
        yield fair


@pytest.mark.parametrize(
    ("rate", "offered", "amount"),
    [
        # At par: 1.990 pesos are 1.990,00 LUKA exactly, not the 1.990,49 that rounds to it.
        ("1", "1.990,00 LUKA", 199_000),
        # 1.990 / 1,3 is 1.530,769…: 1.530,76 is worth 1.989,988, so 1.990; 1.530,77 is
        # worth 1.990,001, rounded 1.990 too; 1.530,78 is worth 1.990,014, still 1.990…
        # up to 1.531,15, worth 1.990,495: the most that is not worth more than the due.
        ("1.3", "1.531,15 LUKA", 153_115),
    ],
)
def test_enter_alone_pays_the_due_in_a_currency_whose_unit_is_worth_nothing_once_rounded(
    page, login, live, open_till, rate, offered, amount
):
    sc.set_rate(
        live.engine,
        code=CODE,
        rate=rate,
        user_id=live.fair.users["organizer"],
        fairs=["feria-test"],
    )
    till, session_id = open_till
    login(page, "cashier", f"/pos?till={till}")
    page.wait_for_selector("#pos[data-ready=true]")
    page.keyboard.type("p01 1990")  # a free line of 1.990 pesos
    page.keyboard.press("Enter")
    page.wait_for_selector("#lines-body tr")
    page.keyboard.press("+")
    page.check(SOCIAL)
    page.wait_for_selector(f"{ACCOUNT}:visible")
    assert offered in page.inner_text("#tender-rate")
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
    assert (tender["currency"], tender["amount"]) == (CODE, amount)
