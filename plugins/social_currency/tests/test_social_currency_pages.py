"""The social currency on feria's pages: a producer sees their accounts' balances, limits
and latest movements and downloads their statements (theirs only); organizers see what
circulates beside the fund that backs it."""

from __future__ import annotations

import csv
import io
import re

import feria_social_currency as sc
import pytest
from feria_social_currency import accounts

from feria.cashbox.sales import TenderRequest
from feria.db import read_session
from feria.money import Money, format_money

PIN = "4321"  # the luca fixture's consumer PIN
HONEY_KG = {"barcode": "7800000000016", "quantity": "1"}  # P01, 8,000 CLP
TOMATOES = {"producer_code": "P02", "amount": 1_500}  # 1,500 CLP
NBSP = "\u00a0"


def luca_tender(amount, **data):
    return TenderRequest("social_currency", amount, currency="LUCA", data=data)


def csv_url(number: str) -> str:
    return f"/-/plugins/social-currency/accounts/{number}/statement.csv"


def es(amount: int, code: str) -> str:
    """``amount`` as the fair's Spanish pages write it."""
    return format_money(Money(amount, code), "es_CL")


def row_of(page: str, marker: str) -> str:
    """The table row (``<tr …>…</tr>``) that starts with ``marker``."""
    found = re.search(rf"<tr {re.escape(marker)}>.*?</tr>", page, re.S)
    assert found, f"no row {marker} on the page"
    return found.group(0)


@pytest.fixture
def paid_out(engine, fair, luca, sell):
    """Honey (P01) paid 8.00 LUCA at the till by the consumer, and the 7.60 LUCA owed to P01
    after the solidarity fund paid into P01's account."""
    sale = sell([HONEY_KG], [luca_tender(800, account=luca.consumer, pin=PIN)])
    payout = sc.pay_producer(
        engine,
        fair_id=fair.fair_id,
        producer_id=fair.producers["P01"],
        code="LUCA",
        amount=760,
        user_id=luca.organizer,
    )
    return sale, payout


def test_a_producer_sees_their_balance_limits_and_the_payout_of_a_sale_paid_in_luca(
    client_as, fair, luca, paid_out
):
    _, payout = paid_out
    page = client_as("producer").get(f"/producer/{fair.producers['P01']}?lang=es").text

    assert '<section class="panel" id="social-currency"' in page
    assert f'<article class="sc-account" data-account="{luca.producer}">' in page
    assert f'data-figure="sc-balance">7,60{NBSP}LUCA<' in page
    assert f'data-figure="sc-debit-limit">0,00{NBSP}LUCA<' in page  # never below zero
    assert 'data-figure="sc-credit-limit">Sin límite<' in page
    rows = re.findall(r'<tr data-seq="\d+">.*?</tr>', page, re.S)
    assert len(rows) == 1
    movement = rows[0]
    assert f"Pago n.º {payout.id}" in movement
    assert f"LUCA-FAIR{fair.fair_id}" in movement  # from the fair's caja común
    assert movement.count(f"7,60{NBSP}LUCA") == 2  # the amount and the running balance
    assert f'href="{csv_url(luca.producer)}"' in page


def test_a_sale_the_producer_paid_from_their_account_shows_with_its_running_balance(
    engine, client_as, fair, luca, sell
):
    org = luca.organizer
    accounts.set_pin(engine, number=luca.producer, pin=PIN, user_id=org)
    sc.issue(engine, code="LUCA", amount=2_000, to=luca.producer, user_id=org)
    sale = sell([TOMATOES], [luca_tender(150, account=luca.producer, pin=PIN)])

    page = client_as("producer").get(f"/producer/{fair.producers['P01']}?lang=es").text

    assert f'data-figure="sc-balance">18,50{NBSP}LUCA<' in page
    rows = re.findall(r'<tr data-seq="\d+">.*?</tr>', page, re.S)
    assert len(rows) == 2  # newest first: the sale, then the issuance
    assert f'<a href="/verify/{sale.id}">n.º {sale.id}</a>' in rows[0]
    assert f"-1,50{NBSP}LUCA" in rows[0] and f"18,50{NBSP}LUCA" in rows[0]
    assert "Emitido" in rows[1] and f"20,00{NBSP}LUCA" in rows[1]


def test_a_producer_without_an_account_gets_no_social_currency_panel(client_as, fair, luca):
    page = client_as("producer2").get(f"/producer/{fair.producers['P07']}?lang=es").text

    assert '<h2 id="my-sales">' in page  # the page itself is there
    assert 'id="social-currency"' not in page


def test_the_producer_downloads_the_whole_statement_as_csv(engine, client_as, luca, paid_out):
    answer = client_as("producer").get(csv_url(luca.producer.lower()))

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert f'filename="{luca.producer}-statement.csv"' in answer.headers["content-disposition"]
    with read_session(engine) as db:
        assert answer.text == sc.statement(db, luca.producer).to_csv()  # its one format
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == [
        "date",
        "entry",
        "kind",
        "counterparty",
        "reference",
        "amount",
        "balance",
        "currency",
    ]
    assert rows[1][2:] == ["opening", "", "", "", "0.00", "LUCA"]
    assert [r[2] for r in rows[2:-1]] == ["payout"]
    assert rows[2][5:] == ["7.60", "7.60", "LUCA"]
    assert rows[-1][2:] == ["closing", "", "", "", "7.60", "LUCA"]


def test_another_producer_is_refused_any_statement_but_an_organizer_gets_them(
    client_as, luca, paid_out
):
    other = client_as("producer2")
    assert other.get(csv_url(luca.producer)).status_code == 403
    assert other.get(csv_url(luca.consumer)).status_code == 403  # a consumer's, not theirs
    assert other.get(csv_url("LUCA-9999")).status_code == 403  # says nothing of what exists
    producer = client_as("producer")
    assert producer.get(csv_url(luca.consumer)).status_code == 403

    organizer = client_as("organizer")
    assert organizer.get(csv_url(luca.consumer)).status_code == 200
    assert organizer.get(csv_url("LUCA-ISSUER")).status_code == 200
    assert organizer.get(csv_url("LUCA-9999")).status_code == 404
    assert client_as("cashier").get(csv_url(luca.producer)).status_code == 403


def test_the_dashboard_shows_what_circulates_beside_its_backing_as_the_ledger_has_them(
    engine, client_as, luca, paid_out
):
    sc.redeem(engine, code="LUCA", amount=1_000, from_=luca.consumer, user_id=luca.organizer)
    with read_session(engine) as db:
        position = sc.bank_position(db, "LUCA")
    assert position.circulating == Money(9_000, "LUCA")  # 100.00 issued, 10.00 redeemed

    page = client_as("organizer").get("/backoffice/fairs/feria-test?lang=es").text

    row = row_of(page, 'data-currency="LUCA"')  # one row: never one without the other
    circulating = es(position.circulating.amount, "LUCA")
    assert f'<span data-figure="circulating">{circulating}</span>' in row
    assert f'<span data-figure="backing">{es(position.backing.amount, "CLP")}</span>' in row
    assert f'data-figure="rate">1,00{NBSP}LUCA = $1.000<' in row
    assert "Banco comunitario" in row
    assert "short" not in row and "falta" not in row  # fully backed


def test_an_unbacked_issue_shows_how_short_the_fund_is(engine, client_as, luca):
    sc.issue(engine, code="LUCA", amount=5_000, to=luca.consumer, backing=0, user_id=luca.organizer)

    page = client_as("organizer").get("/backoffice/fairs/feria-test?lang=es").text

    row = row_of(page, 'data-currency="LUCA"')
    assert f'<span data-figure="circulating">150,00{NBSP}LUCA</span>' in row
    assert '<span data-figure="backing">$100.000</span>' in row
    assert "faltan $50.000" in row


def test_mutual_credit_shows_no_fund_and_its_balances_sum_to_zero(engine, client_as, hours):
    sc.transfer(engine, from_=hours.accounts[0], to=hours.accounts[1], amount=3_000, pin=PIN)
    sc.transfer(engine, from_=hours.accounts[2], to=hours.accounts[1], amount=1_500, pin=PIN)

    page = client_as("organizer").get("/backoffice/fairs/feria-test?lang=es").text

    row = row_of(page, 'data-currency="HORA"')
    assert f'<span data-figure="circulating">45,00{NBSP}HORA</span>' in row
    assert 'data-figure="backing"' not in row
    accounts_table = page[page.index('data-accounts="HORA"') :]
    assert f"-30,00{NBSP}HORA" in accounts_table and f"45,00{NBSP}HORA" in accounts_table
    assert f'data-figure="sum">0,00{NBSP}HORA<' in accounts_table


def test_the_demo_producer_sees_their_luca_account_with_a_payment_in_it(engine, pm, client):
    from feria_social_currency import load_demo_currency

    from feria.demo import DEMO_FAIR_SLUG, DEMO_PASSWORD, load_demo
    from feria.testing.clients import log_in

    load_demo(engine, pm, with_sales=False)
    demo = load_demo_currency(engine, pm, DEMO_FAIR_SLUG)
    load_demo_currency(engine, pm, DEMO_FAIR_SLUG)  # run again: nothing is paid twice
    honey = next(a for a in demo.accounts if a.producer_code == "P01")

    page = log_in(client, "productor", DEMO_PASSWORD).get("/producer?lang=es").text

    assert f'<article class="sc-account" data-account="{honey.number}">' in page
    assert f'data-figure="sc-balance">36,00{NBSP}LUCA<' in page
    rows = re.findall(r'<tr data-seq="\d+">.*?</tr>', page, re.S)
    assert len(rows) == 1 and "Transferencia" in rows[0]
    assert f'href="{csv_url(honey.number)}"' in page


def test_a_statement_names_the_member_who_paid_and_never_shows_their_account_number(
    engine, client_as, fair, luca
):
    # A member's number and PIN pay at the till: the payee's statement shows a name.
    sc.transfer(engine, from_=luca.consumer, to=luca.producer, amount=1_250, pin=PIN)

    page = client_as("producer").get(f"/producer/{fair.producers['P01']}?lang=es").text
    (movement,) = re.findall(r'<tr data-seq="\d+">.*?</tr>', page, re.S)
    assert "<td>Rosa</td>" in movement
    statement = client_as("producer").get(csv_url(luca.producer)).text
    assert ",transfer,Rosa," in statement
    assert luca.consumer not in page and luca.consumer not in statement


def test_the_dashboard_reads_only_its_networks_currencies_and_accounts(
    engine, client_as, fair, luca
):
    from feria_social_currency.web import positions

    from feria.catalogue.service import add_producer, create_network
    from feria.db import write_session

    with write_session(engine) as db:
        other = create_network(db, "red-norte", "Red del Norte")
        far = add_producer(db, other, code="N01", name="Quesos del Norte").id
    org = luca.organizer
    theirs = sc.open_account(engine, code="LUCA", name="Quesera", user_id=org, producer_id=far)
    sc.create_currency(engine, code="NOR", name="Norte", decimals=0, kind="barter", user_id=org)
    sc.open_account(engine, code="NOR", name="Quesera", user_id=org, producer_id=far)

    page = client_as("organizer").get("/backoffice/fairs/feria-test?lang=es").text
    assert 'data-accounts="LUCA"' in page and luca.producer in page
    assert theirs.number not in page and "Quesos del Norte" not in page
    assert 'data-currency="NOR"' not in page and 'data-accounts="NOR"' not in page
    with read_session(engine) as db:
        from feria.catalogue.models import Fair

        (view,) = positions(db, db.get(Fair, fair.fair_id))
    assert theirs.number not in {a.number for a in view.accounts}
    assert view.count == len(view.accounts) and view.total == 0
