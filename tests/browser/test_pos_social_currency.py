"""Paying in the community currency at the till, in a real browser: a member's account and
PIN beside cash, a scanned voucher, and refusals (a wrong PIN, a voucher already spent) that
record nothing and leave the sale to be paid another way.

The social currency lives in a server and database of this module's own: the shared test
fair of the other browser tests never offers it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, func, select

from feria.cashbox.models import Sale
from feria.db import read_session
from feria.testing.browser import LiveServer
from feria.testing.plugin import FairFixture
from feria.web.api.cashbox import load_sale

pytestmark = pytest.mark.browser

sc = pytest.importorskip("feria_social_currency", reason="the social currency plugin pays here")
from feria_social_currency import ledger  # noqa: E402
from feria_social_currency.models import Redemption  # noqa: E402

SCARF = "7800000000023"  # Bufanda, P07, 12.990 by the piece
PIN = "2468"
WRONG_PIN = "8642"
SOCIAL = "input[name=method][value=social_currency]"
ACCOUNT = "#tender-social_currency-account-account"
PIN_INPUT = "#tender-social_currency-account-pin"
VOUCHER = "#tender-social_currency-voucher-voucher"
CARD = "#tender-social_currency-card-card"


@dataclass
class LucaFair:
    """This module's server: the test fair, LUCA at 1.000 CLP (2 decimals), a member with
    100.00 LUCA, PIN ``PIN`` and a member card, and two vouchers of 10.00 LUCA."""

    server: LiveServer
    engine: Engine
    fair: FairFixture
    member: str
    vouchers: list[str]
    card: str

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def live(currency_fair) -> Iterator[LucaFair]:
    with currency_fair("LUCA", name="Luca", rate="1000", issued=10_000, pin=PIN) as base:
        org = base.organizer
        card = sc.issue_card(base.engine, number=base.member, user_id=org)
        vouchers = sc.make_vouchers(base.engine, code="LUCA", count=2, amount=1_000, user_id=org)
        yield LucaFair(
            base.server, base.engine, base.fair, base.member, [v.payload for v in vouchers], card
        )


def open_pos(page, login, till: int) -> None:
    login(page, "cashier", f"/pos?till={till}")
    page.wait_for_selector("#pos[data-ready=true]")


def sales_of(engine, session_id: int) -> list[Sale]:
    with read_session(engine) as db:
        return list(db.scalars(select(Sale).where(Sale.session_id == session_id)))


def balance(engine, number: str) -> int:
    with read_session(engine) as db:
        return ledger.balance_of(db, number).amount


def device_storage(page) -> str:
    """Everything the page keeps in IndexedDB (the outbox and the drafts), as JSON."""
    return page.evaluate(
        """() => new Promise((resolve, reject) => {
            const req = indexedDB.open("feria-pos", 1);
            req.onerror = () => reject(req.error);
            req.onsuccess = () => {
              const tx = req.result.transaction(["outbox", "drafts"], "readonly");
              const out = {};
              for (const name of ["outbox", "drafts"]) {
                const all = tx.objectStore(name).getAll();
                all.onsuccess = () => { out[name] = all.result; };
              }
              tx.oncomplete = () => resolve(JSON.stringify(out));
            };
          })"""
    )


def ring_up_scarf_and_5000_cash(page) -> None:
    page.keyboard.type(SCARF)
    page.keyboard.press("Enter")
    page.wait_for_selector("#lines-body tr")
    page.keyboard.press("+")
    page.keyboard.type("5000")
    page.keyboard.press("Enter")  # cash, the first method: 7.990 still due
    page.wait_for_selector("#tenders li")
    assert page.inner_text("#due") == "$7.990"


def pay_rest_with_account(page, account: str, pin: str, due: str = "7,99 LUCA") -> None:
    """Social currency, then the keyboard: Enter on the empty amount pays all that is due
    and goes to the account; Enter there goes to the PIN; Enter there pays."""
    page.check(SOCIAL)
    page.wait_for_selector(f"{ACCOUNT}:visible")
    assert not page.is_visible("#tender-reference")
    rate = page.inner_text("#tender-rate")
    assert "1 LUCA = $1.000" in rate and due in rate
    page.focus("#tender-amount")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == ACCOUNT[1:]
    page.keyboard.type(account)
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == PIN_INPUT[1:]
    assert page.get_attribute(PIN_INPUT, "type") == "password"
    page.keyboard.type(pin)
    page.keyboard.press("Enter")


def test_a_mixed_sale_of_cash_and_a_members_account_is_recorded_and_debits_the_account(
    page, login, live, open_till
):
    till, session_id = open_till
    before = balance(live.engine, live.member)
    open_pos(page, login, till)
    ring_up_scarf_and_5000_cash(page)
    pay_rest_with_account(page, live.member.lower(), PIN)  # typed in lower case: still found

    receipt = page.locator("#receipt article.receipt[data-sale]")
    receipt.wait_for()
    sale_id = int(receipt.get_attribute("data-sale"))
    assert PIN not in page.inner_text("#receipt")
    (recorded,) = sales_of(live.engine, session_id)
    assert recorded.id == sale_id
    cash, social = load_sale(live.engine, sale_id).body["tenders"]
    assert (cash["method"], cash["currency"], cash["amount"]) == ("cash", "CLP", 5000)
    assert (social["method"], social["currency"], social["amount"]) == (
        "social_currency",
        "LUCA",
        799,
    )
    assert social["data"]["account"] == live.member
    assert not social["data"].get("pin")  # the journal never keeps it
    assert balance(live.engine, live.member) == before - 799
    assert PIN not in device_storage(page)


def test_a_wrong_pin_is_refused_at_the_till_nothing_is_recorded_and_the_cash_stands(
    page, login, live, open_till
):
    till, session_id = open_till
    before = balance(live.engine, live.member)
    open_pos(page, login, till)
    ring_up_scarf_and_5000_cash(page)
    pay_rest_with_account(page, live.member, WRONG_PIN)

    page.wait_for_selector("#message.error")
    assert f"wrong PIN for account {live.member}" in page.inner_text("#message")
    assert sales_of(live.engine, session_id) == []
    assert balance(live.engine, live.member) == before
    # The sale is still on the screen with the cash that was handed over; 7.990 still due.
    assert page.locator("#lines-body tr").count() == 1
    assert page.inner_text("#tenders").splitlines() == [
        "Efectivo: $5.000"
    ]  # in the fair's language
    assert page.inner_text("#due") == "$7.990"
    assert page.input_value(PIN_INPUT) == ""
    for shown in (page.inner_text("#pos"), device_storage(page)):
        assert WRONG_PIN not in shown
    assert page.evaluate("window.feriaPos.pending()") == 0  # a refusal is never resent

    # The shopper types the right PIN: the same sale is recorded, once, with both tenders.
    pay_rest_with_account(page, live.member, PIN)
    page.locator("#receipt article.receipt[data-sale]").wait_for()
    (recorded,) = sales_of(live.engine, session_id)
    tenders = load_sale(live.engine, recorded.id).body["tenders"]
    assert [(t["method"], t["amount"]) for t in tenders] == [
        ("cash", 5000),
        ("social_currency", 799),
    ]
    assert balance(live.engine, live.member) == before - 799


def test_a_scanned_voucher_pays_once_and_a_second_scan_is_refused(page, login, live, open_till):
    till, session_id = open_till
    voucher = live.vouchers[0]
    open_pos(page, login, till)

    def scan_voucher_for_10_luca():
        page.check(SOCIAL)
        page.check("input[name=way-social_currency][value=voucher]")
        page.wait_for_selector(f"{VOUCHER}:visible")
        assert not page.is_visible(ACCOUNT)
        page.fill("#tender-amount", "10")  # the voucher's value, in LUCA
        page.focus(VOUCHER)
        page.keyboard.type(voucher)  # the scanner types the QR's payload…
        page.keyboard.press("Enter")  # …and Enter

    page.keyboard.type("p01 10000")  # a free line of 10.000 = 10.00 LUCA
    page.keyboard.press("Enter")
    page.wait_for_selector("#lines-body tr")
    scan_voucher_for_10_luca()
    receipt = page.locator("#receipt article.receipt[data-sale]")
    receipt.wait_for()
    (recorded,) = sales_of(live.engine, session_id)
    (tender,) = load_sale(live.engine, recorded.id).body["tenders"]
    assert (tender["method"], tender["currency"], tender["amount"]) == (
        "social_currency",
        "LUCA",
        1000,
    )
    with read_session(live.engine) as db:
        spent = db.scalar(
            select(func.count(Redemption.serial)).where(Redemption.sale_id == recorded.id)
        )
    assert spent == 1

    # The same voucher again, for another sale: refused, and that sale is not recorded.
    page.keyboard.type("p01 10000")
    page.keyboard.press("Enter")
    page.wait_for_selector("#lines-body tr")
    scan_voucher_for_10_luca()
    page.wait_for_selector("#message.error")
    assert "already spent" in page.inner_text("#message")
    assert len(sales_of(live.engine, session_id)) == 1
    assert page.locator("#lines-body tr").count() == 1
    assert voucher not in page.inner_text("#pos")


def test_a_pin_sale_queued_while_the_server_is_away_is_sent_once_back_never_storing_the_pin(
    page, login, live, open_till
):
    till, session_id = open_till
    open_pos(page, login, till)
    page.keyboard.type(SCARF)
    page.keyboard.press("Enter")
    page.wait_for_selector("#lines-body tr")
    live.server.stop()
    try:
        page.keyboard.press("+")
        pay_rest_with_account(page, live.member, PIN, due="12,99 LUCA")
        page.wait_for_selector("#receipt .receipt-state.pending")
        assert page.evaluate("window.feriaPos.pending()") == 1
        kept = device_storage(page)
        assert live.member in kept and PIN not in kept  # queued, without its PIN
    finally:
        live.server.start()
    deadline = time.monotonic() + 15
    while page.evaluate("window.feriaPos.pending()"):
        assert time.monotonic() < deadline, "the queued sale was never recorded"
        time.sleep(0.05)
    (recorded,) = sales_of(live.engine, session_id)
    (social,) = load_sale(live.engine, recorded.id).body["tenders"]
    assert (social["currency"], social["amount"]) == ("LUCA", 1299)


def test_a_scanned_card_is_never_written_to_the_device_in_the_sale_nor_in_the_queue(
    page, login, live, open_till
):
    """A member card pays without a PIN: read off the device, it would spend the account.
    It is kept like a PIN, in the page's memory only, and a queued sale is still sent."""
    till, session_id = open_till
    before = balance(live.engine, live.member)
    open_pos(page, login, till)
    page.keyboard.type(SCARF)
    page.keyboard.press("Enter")
    page.wait_for_selector("#lines-body tr")
    page.check(SOCIAL)
    page.check("input[name=way-social_currency][value=card]")
    page.wait_for_selector(f"{CARD}:visible")
    page.fill("#tender-amount", "2")  # 2.00 LUCA of the 12.990 due
    page.focus(CARD)
    page.keyboard.type(live.card)
    page.keyboard.press("Enter")
    page.wait_for_selector("#tenders li")
    assert page.inner_text("#due") == "$10.990"
    assert live.card not in device_storage(page)  # the sale being rung up

    live.server.stop()
    try:
        page.check("input[name=method][value=cash]")
        page.fill("#tender-amount", "10990")
        page.focus("#tender-amount")
        page.keyboard.press("Enter")
        page.wait_for_selector("#receipt .receipt-state.pending")
        assert page.evaluate("window.feriaPos.pending()") == 1
        assert live.card not in device_storage(page)  # the queued sale
    finally:
        live.server.start()
    deadline = time.monotonic() + 15
    while page.evaluate("window.feriaPos.pending()"):
        assert time.monotonic() < deadline, "the queued sale was never recorded"
        time.sleep(0.05)
    (recorded,) = sales_of(live.engine, session_id)
    tenders = load_sale(live.engine, recorded.id).body["tenders"]
    assert [(t["method"], t["amount"]) for t in tenders] == [
        ("social_currency", 200),
        ("cash", 10990),
    ]
    assert balance(live.engine, live.member) == before - 200
    assert live.card not in device_storage(page)


def test_a_queued_sale_the_server_refuses_keeps_none_of_its_tenders_data(
    page, login, live, open_till
):
    till, session_id = open_till
    open_pos(page, login, till)
    page.keyboard.type(SCARF)
    page.keyboard.press("Enter")
    page.wait_for_selector("#lines-body tr")
    live.server.stop()
    try:
        page.keyboard.press("+")
        pay_rest_with_account(page, live.member, WRONG_PIN, due="12,99 LUCA")
        page.wait_for_selector("#receipt .receipt-state.pending")
        assert live.member in device_storage(page)  # queued: sent again with its account
    finally:
        live.server.start()
    page.wait_for_selector("#pending-list .pending-sale.refused", timeout=15_000)
    assert sales_of(live.engine, session_id) == []
    kept = device_storage(page)
    assert WRONG_PIN not in kept
    (refused,) = json.loads(kept)["outbox"]  # still listed, to be seen…
    assert refused["status"] == "refused"
    for tender in refused["body"]["tenders"] + refused["tenders"]:  # …without what paid it
        assert "data" not in tender and live.member not in json.dumps(tender)


def test_the_ways_to_pay_in_the_community_currency_are_accessible(
    page, login, live, open_till, assert_accessible
):
    till, _ = open_till
    open_pos(page, login, till)
    page.keyboard.type(SCARF)
    page.keyboard.press("Enter")
    page.check(SOCIAL)
    page.wait_for_selector(f"{PIN_INPUT}:visible")
    assert_accessible(page)
    page.check("input[name=way-social_currency][value=voucher]")
    page.wait_for_selector(f"{VOUCHER}:visible")
    assert_accessible(page)
