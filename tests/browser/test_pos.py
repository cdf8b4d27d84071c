"""The till in a real browser: a practised cashier's keyboard sale, the server going away
mid-sale, opening and closing a session, refunds, phone and laptop screens, accessibility."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select

from feria.cashbox.models import CashSession, Sale
from feria.db import read_session
from feria.testing.browser import LAPTOP, PHONE, TABLET
from feria.web.api.cashbox import load_sale

pytestmark = pytest.mark.browser

SCARF = "7800000000023"  # Bufanda, P07, 12.990 by the piece


class Keyboard:
    """Types on the page and counts keystrokes the way a cashier's hands do.

    Counting rule: every key pressed is one keystroke (Enter, F8, space, each digit and
    letter; nothing here needs Shift: producer codes may be typed in lower case). A barcode
    scanner's burst (it types the code and Enter by itself) is one keystroke: the one pull
    of the trigger. A scale label is scanned the same way.
    """

    def __init__(self, page) -> None:
        self.page = page
        self.count = 0

    def scan(self, code: str) -> None:
        self.page.keyboard.type(code)
        self.page.keyboard.press("Enter")
        self.count += 1

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)
        self.count += len(text)

    def press(self, key: str) -> None:
        self.page.keyboard.press(key)
        self.count += 1


def open_pos(page, login, till: int) -> None:
    login(page, "cashier", f"/pos?till={till}")
    page.wait_for_selector("#pos[data-ready=true]")


def wait_for_pending(page, n: int, timeout: float = 15.0) -> None:
    """Until ``n`` sales wait in the page's outbox (IndexedDB is asynchronous: evaluate
    awaits the promise, ``wait_for_function`` would not)."""
    deadline = time.monotonic() + timeout
    while (count := page.evaluate("window.feriaPos.pending()")) != n:
        assert time.monotonic() < deadline, f"{count} sales pending, expected {n}"
        time.sleep(0.05)


def sales_of(engine, session_id: int) -> list[Sale]:
    with read_session(engine) as db:
        return list(db.scalars(select(Sale).where(Sale.session_id == session_id)))


def test_three_item_keyboard_sale_takes_twelve_keystrokes_and_is_recorded(
    page, login, live, open_till, screenshot
):
    """Scan, scan a scale label, ``p07 2500`` Enter, F8: 1 + 1 + 9 + 1 = 12 keystrokes.

    The weighed item comes with the label its producer's scale printed (the weight is in the
    barcode); typed instead (``queso*1,25`` Enter) it would cost 11 more keys, which is why
    label scales are the practised path. F8 is the third quick-cash amount (exact, the next
    1.000, the next 5.000): what a shopper most often hands over.
    """
    till, session_id = open_till
    open_pos(page, login, till)
    keys = Keyboard(page)
    expect_focus = page.locator("#command")
    assert expect_focus.evaluate("el => el === document.activeElement")

    keys.scan(SCARF)  # a catalogue item by barcode
    keys.scan(live.scale_label(1250))  # a weighed item: 1,250 kg of cheese
    keys.type("p07 2500")  # a free line: producer P07, 2.500
    keys.press("Enter")
    page.wait_for_selector("#lines-body tr:nth-child(3)")
    # The free line names its producer once: the code is not repeated after the label.
    free_line = page.inner_text("#lines-body tr:nth-child(3) td:first-child")
    assert free_line.count("P07") == 1, free_line
    assert "Cooperativa Textil" in free_line
    assert page.inner_text("#total") == "$25.490"
    keys.press("F8")  # cash given: 30.000, the third quick amount (exact, 26.000, 30.000)

    receipt = page.locator("#receipt article.receipt[data-sale]")
    receipt.wait_for()
    assert keys.count <= 12, f"{keys.count} keystrokes"
    assert page.inner_text("#receipt .receipt-change") == "$4.510"
    assert page.locator("#receipt .qr svg").count() == 1
    sale_id = int(receipt.get_attribute("data-sale"))
    assert page.get_attribute("#receipt .verify-link", "href").endswith(f"/verify/{sale_id}")
    elapsed = page.evaluate("window.feriaPos.timings.at(-1)")
    assert elapsed < 300, f"Enter to receipt took {elapsed:.0f} ms"
    screenshot(page, "pos-receipt-laptop")

    (recorded,) = sales_of(live.engine, session_id)
    assert recorded.id == sale_id
    body = load_sale(live.engine, sale_id).body
    lines = [(ln["product"], ln["quantity"], ln["total"]) for ln in body["lines"]]
    assert lines == [
        (live.products["scarf"], "1", 12990),
        (live.products["cheese"], "1.25", 10000),
        (None, "1", 2500),
    ]
    assert body["lines"][2]["producer"] == live.fair.producers["P07"]
    assert body["total"] == 25490
    (cash,) = body["tenders"]
    assert (cash["method"], cash["amount"], cash["change"]) == ("cash", 30000, 4510)


def test_weights_and_quantities_are_typed_in_the_fairs_locale(page, login, live, open_till):
    till, session_id = open_till
    open_pos(page, login, till)
    page.keyboard.type("miel-kg*1,25")
    page.keyboard.press("Enter")
    page.keyboard.type("2*" + SCARF)
    page.keyboard.press("Enter")
    page.wait_for_selector("#lines-body tr:nth-child(2)")
    assert page.inner_text("#lines-body tr:nth-child(1) td:nth-child(2)") == "1,25 kg"
    assert page.inner_text("#total") == "$35.980"  # 10.000 + 2 × 12.990
    page.keyboard.type("miel-kg*1.25")  # in es the point groups thousands: refused
    page.keyboard.press("Enter")
    assert "1,25" in page.inner_text("#message")
    assert page.locator("#lines-body tr").count() == 2


def test_search_by_name_adds_the_chosen_product(page, login, live, open_till):
    till, _ = open_till
    open_pos(page, login, till)
    page.keyboard.type("bufan")
    page.wait_for_selector("#search-results li")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_selector("#lines-body tr")
    assert "Bufanda" in page.inner_text("#lines-body")


def test_several_tenders_pay_one_sale(page, login, live, open_till):
    till, session_id = open_till
    open_pos(page, login, till)
    page.keyboard.type(SCARF)
    page.keyboard.press("Enter")
    page.keyboard.press("+")
    page.keyboard.type("5000")
    page.keyboard.press("Enter")  # 5.000 in cash, 7.990 still due
    assert page.inner_text("#due") == "$7.990"
    page.keyboard.type("10000")
    page.keyboard.press("Enter")  # and 10.000 more: 2.010 change
    page.locator("#receipt article.receipt[data-sale]").wait_for()
    (sale,) = sales_of(live.engine, session_id)
    tenders = load_sale(live.engine, sale.id).body["tenders"]
    assert [(t["amount"], t["change"]) for t in tenders] == [(5000, 0), (10000, 2010)]


def test_server_stopped_mid_sale_queues_it_and_records_it_once_when_back(
    new_page, login, live, live_server, open_till, screenshot
):
    till, session_id = open_till
    page = new_page(LAPTOP)
    open_pos(page, login, till)
    page.keyboard.type(SCARF)
    page.keyboard.press("Enter")
    page.wait_for_selector("#lines-body tr")

    live_server.stop()  # mid-sale: the server goes away
    page.keyboard.type("p01 3000")
    page.keyboard.press("Enter")
    page.keyboard.press("F6")  # exact cash
    page.wait_for_selector("#receipt .receipt-state.pending")
    assert "Pendiente" in page.inner_text("#receipt") or "Pending" in page.inner_text("#receipt")
    page.wait_for_selector("#pending-list li")
    wait_for_pending(page, 1)
    screenshot(page, "pos-pending-laptop")

    # A second sale while down, then the tab is closed: it stays in IndexedDB.
    page.keyboard.type(SCARF)
    page.keyboard.press("Enter")
    page.keyboard.press("F6")
    wait_for_pending(page, 2)
    assert sales_of(live.engine, session_id) == []

    live_server.start()  # back, on the same port
    wait_for_pending(page, 0)
    page.wait_for_selector("#receipt article.receipt[data-sale]")
    recorded = sales_of(live.engine, session_id)
    assert sorted(s.total for s in recorded) == [12990, 15990]

    # Down again: a sale queued, the tab closed, a new one opened once the server is back.
    live_server.stop()
    page.keyboard.type("p07 1000")
    page.keyboard.press("Enter")
    page.keyboard.press("F6")
    wait_for_pending(page, 1)
    page.close()
    live_server.start()
    again = page.context.new_page()
    again.goto(f"/pos?till={till}")
    again.wait_for_selector("#pos[data-ready=true]")
    wait_for_pending(again, 0)
    recorded = sales_of(live.engine, session_id)
    assert sorted(s.total for s in recorded) == [1000, 12990, 15990]
    keys = [s.idempotency_key for s in recorded]
    assert len(set(keys)) == len(keys) == 3


def test_open_and_close_session_shows_the_discrepancy(page, login, live, till, screenshot):
    open_pos(page, login, till)
    page.wait_for_selector("#open-float")
    page.fill("#open-float", "10.000")
    page.press("#open-float", "Enter")
    page.wait_for_selector("#command:visible")
    with read_session(live.engine) as db:
        cs = db.scalar(
            select(CashSession).where(CashSession.till_id == till, CashSession.closed_at.is_(None))
        )
    assert cs.float_amount == 10000
    page.keyboard.type(SCARF)
    page.keyboard.press("Enter")
    page.keyboard.press("F6")
    page.wait_for_selector("#receipt article.receipt[data-sale]")

    page.click("#x-report")
    page.wait_for_selector("#dialog .report[data-closed=no]")
    assert "$22.990" in page.inner_text("#dialog .expected")
    page.keyboard.press("Escape")

    page.click("#close-open")
    page.fill("#close-counted", "22.490")  # 500 short
    page.press("#close-counted", "Enter")
    page.wait_for_selector("#dialog .report[data-closed=yes]")
    short = page.locator("#dialog .discrepancy")
    assert short.get_attribute("data-amount") == "-500"
    assert "500" in short.inner_text()
    screenshot(page, "pos-close-discrepancy")
    with read_session(live.engine) as db:
        closed = db.get(CashSession, cs.id)
    assert closed.discrepancy == {"CLP": -500}
    assert page.locator("#open-panel").is_visible()


def test_refund_by_sale_number(page, login, live, open_till):
    till, session_id = open_till
    open_pos(page, login, till)
    page.keyboard.type(SCARF)
    page.keyboard.press("Enter")
    page.keyboard.type("p01 3000")
    page.keyboard.press("Enter")
    page.keyboard.press("F6")
    sale_id = int(page.get_attribute("#receipt article.receipt[data-sale]", "data-sale"))

    page.click("#refund-open")
    page.fill("#refund-number", str(sale_id))
    page.press("#refund-number", "Enter")
    page.wait_for_selector("#refund-form")
    page.uncheck("#refund-form input[name=line][value='1']")  # return only the free line
    page.fill("#refund-reason", "no le gustó")
    page.press("#refund-reason", "Enter")
    page.wait_for_selector("#receipt article.receipt[data-kind=refund]")
    refund_id = int(page.get_attribute("#receipt article.receipt", "data-sale"))
    refund = load_sale(live.engine, refund_id).body
    assert refund["refers_to"] == sale_id
    assert [ln["refers_line"] for ln in refund["lines"]] == [2]
    assert refund["total"] == -3000


def test_refund_by_scanning_the_receipt_qr(page, login, live, open_till):
    till, _ = open_till
    open_pos(page, login, till)
    page.keyboard.type(SCARF)
    page.keyboard.press("Enter")
    page.keyboard.press("F6")
    link = page.get_attribute("#receipt .verify-link", "href")
    page.keyboard.type(link)  # a 2D scanner types the QR's URL and Enter
    page.keyboard.press("Enter")
    page.wait_for_selector("#refund-form")
    assert re.search(r"/verify/(\d+)$", link).group(1) == page.get_attribute(
        "#refund-form", "data-sale"
    )


def test_pos_at_phone_tablet_and_laptop_sizes(new_page, login, live, open_till, screenshot):
    till, _ = open_till
    for name, viewport in (("phone", PHONE), ("tablet", TABLET), ("laptop", LAPTOP)):
        page = new_page(viewport)
        open_pos(page, login, till)
        page.keyboard.type(SCARF)
        page.keyboard.press("Enter")
        page.keyboard.type("p07 2500")
        page.keyboard.press("Enter")
        page.wait_for_selector("#lines-body tr:nth-child(2)")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"{name}: the page scrolls sideways ({width} px)"
        assert page.locator("#total").is_visible()
        screenshot(page, f"pos-sale-{name}")


def test_pos_is_accessible(page, login, live, open_till, assert_accessible):
    till, _ = open_till
    open_pos(page, login, till)
    page.keyboard.type(SCARF)
    page.keyboard.press("Enter")
    page.wait_for_selector("#quick-cash button")
    assert_accessible(page)
    page.keyboard.press("F6")
    page.wait_for_selector("#receipt article.receipt[data-sale]")
    assert_accessible(page)


def test_only_cashiers_and_organizers_open_the_till(page, login, live):
    login(page, "producer", "/")
    assert page.goto("/pos").status == 403
    assert page.request.get("/pos/products?q=miel").status == 403


def test_the_tills_api_needs_the_pages_csrf_token(page, login, live, open_till):
    till, session_id = open_till
    open_pos(page, login, till)
    sale = {
        "session": session_id,
        "lines": [{"producer_code": "P01", "amount": 1000}],
        "tenders": [{"method": "cash", "amount": 1000}],
    }
    # The login cookie alone (what a page on another site could make the browser send).
    forged = page.request.post(
        "/pos/api/v1/sales", data=sale, headers={"Idempotency-Key": "forged-0001"}
    )
    assert forged.status == 403
    assert sales_of(live.engine, session_id) == []


def test_the_till_asks_for_answers_in_its_pages_language(page, login, live, open_till):
    till, _ = open_till
    login(page, "cashier", f"/pos?till={till}&lang=pt_BR")
    page.wait_for_selector("#pos[data-ready=true]")
    assert page.get_attribute("html", "lang") == "pt-BR"
    page.keyboard.type(SCARF)
    page.keyboard.press("Enter")
    with page.expect_request(re.compile(r"/pos/api/v1/sales$")) as sent:
        page.keyboard.press("F6")
    assert sent.value.headers["accept-language"] == "pt-BR"  # a refusal comes back in it
    page.wait_for_selector("#receipt article.receipt[data-sale]")
