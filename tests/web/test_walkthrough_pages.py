"""What a newcomer trying the demo runs into, page by page: every page answers, speaks the
reader's language and adds up."""

from __future__ import annotations

import pytest

from feria import hookimpl
from feria.cashbox.models import Till
from feria.cashbox.printjobs import STATUSES
from feria.db import write_session
from feria.payments import Authorization, PaymentMethod
from feria.receipts import attach

STATES_ES = ("Pendiente", "Imprimiendo", "Impreso", "Falló")


def test_the_print_queue_names_each_job_and_its_state_in_the_readers_language(
    client_as, engine, web_pm, fair, sell
):
    with write_session(engine) as db:
        till = db.get(Till, fair.till_id)
        till.printer = {"driver": "escpos", "connection": "network", "host": "127.0.0.1", "port": 9}
    attach(engine, web_pm)
    sell([{"producer_code": "P01", "amount": 1500}], [{"method": "cash", "amount": 2000}])
    page = client_as("organizer").get("/backoffice/printed?lang=es")
    assert page.status_code == 200
    assert "<h1>Boletas impresas</h1>" in page.text
    assert "<td>Boleta</td>" in page.text
    assert "<td>receipt</td>" not in page.text
    # The spooler may be at it: any state, but in Spanish.
    assert any(f"<td>{state}</td>" in page.text for state in STATES_ES)
    assert not any(f"<td>{state}</td>" in page.text for state in STATUSES)


class _Voucher(PaymentMethod):
    """A method of a plugin's own, not one the core names."""

    code = "gift_voucher"
    name = "Gift voucher"

    def authorize(self, tender, sale):
        return Authorization.approve()


class _VoucherPlugin:
    @hookimpl
    def feria_payment_methods(self, fair):
        return [_Voucher()]


@pytest.fixture
def voucher(web_pm):
    plugin = _VoucherPlugin()
    web_pm.register(plugin, name="test-gift-voucher")
    yield
    web_pm.unregister(plugin)


def test_the_rules_page_offers_a_fee_for_a_plugins_payment_method(client_as, fair, voucher):
    page = client_as("organizer").get("/backoffice/fairs/feria-test/rules")
    assert page.status_code == 200
    assert "Gift voucher: comisión (%)" in page.text
    assert 'name="fee_bp.gift_voucher"' in page.text


def test_the_dashboard_names_a_plugins_payment_method(client_as, fair, voucher, sell):
    sell([{"producer_code": "P01", "amount": 1500}], [{"method": "gift_voucher", "amount": 1500}])
    page = client_as("organizer").get("/backoffice/fairs/feria-test")
    assert page.status_code == 200
    assert '<tr data-method="gift_voucher">' in page.text
    assert "Gift voucher" in page.text


def test_the_till_names_payment_methods_in_the_readers_language(
    client_as, fair, sell, cash_session
):
    sale = sell([{"producer_code": "P01", "amount": 1500}], [{"method": "cash", "amount": 2000}])
    cashier = client_as("cashier")
    page = cashier.get(f"/pos?till={fair.till_id}&lang=es")
    assert page.status_code == 200
    assert 'value="cash" checked> Efectivo</label>' in page.text
    receipt = cashier.get(f"/pos/receipts/{sale.id}")
    assert "<dt>Efectivo</dt>" in receipt.text and "Cash" not in receipt.text
    report = cashier.get(f"/pos/sessions/{cash_session.id}/report")
    assert '<th scope="row">Efectivo</th>' in report.text and "Cash" not in report.text
    methods = cashier.get("/pos/methods").json()
    assert {m["code"]: m["name"] for m in methods}["cash"] == "Efectivo"


def test_the_x_report_shows_cash_paid_out_so_the_expected_cash_adds_up(
    client_as, engine, fair, sell, cash_session
):
    from feria.cashbox.sessions import record_movement

    sell([{"producer_code": "P01", "amount": 1500}], [{"method": "cash", "amount": 1500}])
    record_movement(
        engine,
        session_id=cash_session.id,
        kind="paid_out",
        amount=400,
        reason="Bolsas de papel",
        user_id=fair.users["cashier"],
    )
    report = client_as("cashier").get(f"/pos/sessions/{cash_session.id}/report?lang=es")
    assert report.status_code == 200
    assert (
        '<div class="movement" data-kind="paid_out"><dt>Salidas de efectivo</dt><dd>$400</dd>'
        in (report.text)
    )


def test_the_fairs_first_rules_hold_from_the_start_not_from_a_date_in_1999(client_as, sell):
    sell([{"producer_code": "P01", "amount": 1500}], [{"method": "cash", "amount": 1500}])
    producer = client_as("producer")
    page = producer.get("/producer", follow_redirects=True)
    assert "Versión 1, vigente desde el comienzo: fondo solidario 5%." in page.text
    assert "-99" not in page.text
    organizer = client_as("organizer")
    rules = organizer.get("/backoffice/fairs/feria-test/rules")
    assert "<td>desde el comienzo</td>" in rules.text
    settlement = organizer.get("/backoffice/fairs/feria-test/settlement")
    assert "Versión 1, vigente desde el comienzo" in settlement.text
