"""Receipts as the cashier and the shopper meet them: a sale at a till with a network
printer comes out of the (virtual) printer with every line, the accents, the totals and a
QR code that leads to the sale's verification page; a printer that is down never holds up
a sale, and what was queued prints once when it is back.

Every test runs on SQLite and on PostgreSQL; the bytes are python-escpos's own, sent over a
real socket to the virtual printer.
"""

from __future__ import annotations

import re
import time
import uuid

import pytest
from printing_helpers import sale_number, wait_until
from sqlalchemy import func, select

from feria import hookimpl, journal
from feria.cashbox.models import Sale
from feria.cashbox.refunds import refund_sale
from feria.cashbox.sessions import close_session
from feria.db import read_session
from feria.money import Money
from feria.payments import Authorization, PaymentMethod
from feria.receipts import print_settlement_slip, print_x_report, printer_status, reprint

SOLD = [
    {"barcode": "7800000000016", "quantity": "0.5"},  # honey, by the kilo
    {"sku": "TOM-G", "quantity": "350"},  # tomatoes, by the gram
    {"sku": "BUF", "quantity": 2},  # two scarves
    {"producer_code": "P01", "amount": 1500, "description": "Empanada de piñón"},
    {"producer_code": "P07", "amount": 2990, "description": "Pão de açaí, plátano"},
]


def clp(amount: int) -> str:
    return Money(amount, "CLP").format("es_CL")


class Card(PaymentMethod):
    code = "card"
    name = "Card"

    def authorize(self, tender, sale):
        return Authorization.approve(reference="AUTH-1")


class CardTerminal:
    @hookimpl
    def feria_payment_methods(self, fair):
        return [Card()]


@pytest.fixture
def card(pm):
    plugin = CardTerminal()
    pm.register(plugin, name="test-card")
    yield
    pm.unregister(plugin)


def test_a_sale_prints_every_line_the_accents_the_totals_and_a_qr_to_its_verification_page(
    engine, fair, printing_till, virtual_printer, spooler, sell
):
    sale = sell(SOLD, [{"method": "cash", "amount": 100_000}])

    receipt = virtual_printer.wait_for(1)[0]
    text = receipt.text
    for expected in (
        "FERIA DE PRUEBA",
        "Santiago",
        f"Comprobante N° {sale.id}",
        "Atendió: caja",
        "P01 Miel del Sur",
        "P02 Huerta Comunitaria",
        "P07 Cooperativa Textil",
        "Miel",
        "0,5 kg x $8.000/kg",
        "Tomates",
        "350 g x $3/g",
        "Bufanda",
        "2 x $12.990",
        "Empanada de piñón",
        "Pão de açaí, plátano",
        "Efectivo",
        "Vuelto",
    ):
        assert expected in text, f"{expected!r} is not on the receipt:\n{text}"
    total = Money(sale.body["total"], "CLP").format("es_CL")
    change = Money(sale.change.amount, "CLP").format("es_CL")
    assert re.search(rf"TOTAL +{re.escape(total)}$", text, re.M)
    assert re.search(rf"Vuelto +{re.escape(change)}$", text, re.M)
    assert re.search(r"Aporte al fondo solidario \(5%\) +\$\d", text)
    assert sale.hash[:16] in text
    assert receipt.qr_codes == [f"{spooler.base_url}/verify/{sale.id}"]
    assert receipt.code_pages == [2], "one code page (CP850) for the whole receipt"
    assert receipt.cut


def test_the_cash_drawer_opens_for_a_cash_sale_and_not_for_a_card_sale(
    engine, fair, printing_till, virtual_printer, spooler, sell, card
):
    sell([{"sku": "BUF", "quantity": 1}], [{"method": "card", "amount": 12_990}])
    sell([{"sku": "BUF", "quantity": 1}], [{"method": "cash", "amount": 20_000}])
    sell(
        [{"sku": "BUF", "quantity": 1}],
        [{"method": "card", "amount": 10_000}, {"method": "cash", "amount": 5_000}],
    )

    by_card, by_cash, mixed = virtual_printer.wait_for(3)
    assert "Tarjeta" in by_card.text and by_card.drawer_kicks == 0
    assert b"\x1bp" not in by_card.raw
    assert by_cash.drawer_kicks == 1
    assert mixed.drawer_kicks == 1


def test_a_reprint_says_copia_and_leaves_the_drawer_shut(
    engine, pm, fair, printing_till, virtual_printer, spooler, sell
):
    sale = sell([{"sku": "BUF", "quantity": 1}], [{"method": "cash", "amount": 15_000}])
    original = virtual_printer.wait_for(1)[0]

    reprint(engine, pm, sale.id)

    copy = virtual_printer.wait_for(2)[-1]
    assert "COPIA" not in original.text
    assert copy.text.count("COPIA") == 2  # on top and at the bottom
    assert sale_number(copy) == sale.id
    assert copy.qr_codes == original.qr_codes
    assert copy.drawer_kicks == 0
    time.sleep(0.3)
    assert virtual_printer.printed == 2


def test_twenty_sales_while_the_printer_is_down_are_recorded_at_once_and_print_once_when_it_returns(
    engine, fair, printing_till, virtual_printer, spooler, sell
):
    virtual_printer.mode = "offline"
    ids = []
    for i in range(20):
        started = time.monotonic()
        sale = sell(
            [{"producer_code": "P01", "amount": 1_000 + i}], [{"method": "cash", "amount": 5_000}]
        )
        assert time.monotonic() - started < 2.0, "a sale waited for the printer"
        ids.append(sale.id)

    with read_session(engine) as db:
        assert db.scalar(select(func.count()).select_from(Sale).where(Sale.id.in_(ids))) == 20
    status = wait_until(
        lambda: (s := printer_status(engine, printing_till))["state"] == "offline" and s
    )
    assert status["pending"] == 20
    assert status["warning"] is True
    assert "127.0.0.1" in status["last_error"]
    assert virtual_printer.printed == 0

    virtual_printer.mode = "online"

    receipts = virtual_printer.wait_for(20, timeout=30)
    time.sleep(0.5)  # anything printed twice would be out by now
    assert virtual_printer.printed == 20
    assert [sale_number(r) for r in receipts] == ids, "each sale once, in the order rung up"
    assert all("COPIA" not in r.text for r in receipts)
    status = printer_status(engine, printing_till)
    assert (status["state"], status["pending"], status["warning"]) == ("ok", 0, False)
    assert status["last_success_at"] is not None


def test_an_empty_roll_is_reported_and_the_receipt_prints_when_paper_is_back(
    engine, fair, printing_till, virtual_printer, spooler, sell
):
    virtual_printer.mode = "out_of_paper"
    sale = sell([{"sku": "BUF", "quantity": 1}], [{"method": "cash", "amount": 12_990}])

    status = wait_until(
        lambda: (s := printer_status(engine, printing_till))["state"] == "out_of_paper" and s
    )
    assert status["warning"] and status["pending"] == 1
    assert virtual_printer.printed == 0

    virtual_printer.mode = "online"
    (receipt,) = virtual_printer.wait_for(1)
    assert sale_number(receipt) == sale.id


def test_a_printer_that_does_not_answer_is_reported_slow_and_prints_when_it_recovers(
    engine, fair, printing_till, virtual_printer, spooler, sell
):
    virtual_printer.mode = "slow"
    started = time.monotonic()
    sale = sell([{"sku": "BUF", "quantity": 1}], [{"method": "cash", "amount": 12_990}])
    assert time.monotonic() - started < 2.0

    wait_until(lambda: printer_status(engine, printing_till)["state"] == "slow")
    assert virtual_printer.printed == 0

    virtual_printer.mode = "online"
    (receipt,) = virtual_printer.wait_for(1)
    assert sale_number(receipt) == sale.id


def test_a_refund_prints_a_devolucion_and_opens_the_drawer_to_pay_back(
    engine, pm, fair, cash_session, printing_till, virtual_printer, spooler, sell
):
    sale = sell([{"sku": "BUF", "quantity": 1}], [{"method": "cash", "amount": 12_990}])
    refund = refund_sale(
        engine,
        pm,
        sale_id=sale.id,
        key=uuid.uuid4().hex,
        user_id=fair.users["cashier"],
        session_id=cash_session.id,
        reason="talla equivocada",
    )

    _, printed = virtual_printer.wait_for(2)
    assert "DEVOLUCIÓN" in printed.text
    assert f"Del comprobante N° {sale.id}" in printed.text
    assert "Motivo: talla equivocada" in printed.text
    back = Money(-12_990, "CLP").format("es_CL")
    assert re.search(rf"TOTAL +{re.escape(back)}$", printed.text, re.M)
    assert re.search(rf"Efectivo \(devuelto\) +{re.escape(back)}$", printed.text, re.M)
    assert printed.qr_codes == [f"{spooler.base_url}/verify/{refund.id}"]
    assert printed.drawer_kicks == 1


def test_the_z_report_prints_when_the_session_closes(
    engine, pm, fair, cash_session, printing_till, virtual_printer, spooler, sell
):
    sell([{"sku": "BUF", "quantity": 1}], [{"method": "cash", "amount": 12_990}])
    virtual_printer.wait_for(1)

    z = close_session(
        engine,
        pm,
        session_id=cash_session.id,
        user_id=fair.users["cashier"],
        counted={"CLP": 32_000},
    )

    report = virtual_printer.wait_for(2)[-1]
    text = report.text
    assert "INFORME Z - CIERRE" in text
    assert f"Sesión {cash_session.id}" in text
    assert re.search(r"Ventas \(1\) +\$12\.990", text)
    assert re.search(r"Efectivo esperado +\$32\.990", text)
    assert re.search(r"Efectivo contado +\$32\.000", text)
    assert re.search(rf"Diferencia +{re.escape(clp(-990))}$", text, re.M)
    assert "P07 Cooperativa Textil" in text
    assert z["hash"][:16] in text
    assert report.drawer_kicks == 0


def test_an_x_report_and_a_settlement_slip_print_on_request(
    engine, pm, fair, cash_session, printing_till, virtual_printer, spooler, sell
):
    sell([{"sku": "BUF", "quantity": 1}], [{"method": "cash", "amount": 12_990}])
    print_x_report(engine, pm, cash_session.id)
    print_settlement_slip(
        engine, pm, fair_id=fair.fair_id, producer_id=fair.producers["P07"], till_id=printing_till
    )

    _, x_report, slip = virtual_printer.wait_for(3)
    assert "INFORME X" in x_report.text
    assert re.search(r"Efectivo esperado +\$32\.990", x_report.text)
    assert "LIQUIDACIÓN" in slip.text
    assert "P07 Cooperativa Textil" in slip.text
    assert re.search(r"Ventas brutas +\$12\.990", slip.text)
    assert "Ana (60%)" in slip.text
    with read_session(engine) as db:
        head = journal.head(db)
    assert f"Al registro {head.seq} {head.hash[:16]}" in slip.text


def test_a_till_without_printer_settings_queues_nothing(
    engine, fair, virtual_printer, spooler, sell
):
    sell([{"sku": "BUF", "quantity": 1}], [{"method": "cash", "amount": 12_990}])
    time.sleep(0.3)
    assert virtual_printer.printed == 0
    status = printer_status(engine, fair.till_id)
    assert (status["state"], status["pending"], status["warning"]) == ("not_configured", 0, False)
