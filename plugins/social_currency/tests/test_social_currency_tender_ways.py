"""The social currency tells the till how a member pays (account and PIN, member card,
voucher), and the till's page and ``/pos/methods`` pass it on in the reader's language."""

from __future__ import annotations

import re

from feria_social_currency import tokens
from feria_social_currency.till import SocialCurrencyPayment

from feria.payments import SECRET_DATA_KEYS


def fields_of(ways):
    return {w.code: [(f.key, f.kind) for f in w.fields] for w in ways}


def test_the_social_currency_declares_its_three_ways_to_pay(luca):
    ways = SocialCurrencyPayment().tender_ways(fair=None)
    assert fields_of(ways) == {
        "account": [("account", "text"), ("pin", "secret")],
        "card": [("card", "scan")],
        "voucher": [("voucher", "scan")],
    }
    assert [w.label for w in ways] == ["Account and PIN", "Member card", "Voucher"]
    # The PIN is secret under a key the journal never records.
    assert {f.key for w in ways for f in w.fields if f.kind == "secret"} <= SECRET_DATA_KEYS


def test_without_the_signing_secret_cards_and_vouchers_are_not_offered(luca, monkeypatch):
    monkeypatch.delenv(tokens.SECRET_ENV)
    assert list(fields_of(SocialCurrencyPayment().tender_ways(fair=None))) == ["account"]


def test_pos_methods_gives_the_ways_translated_and_the_currency_to_tender_in(luca, client_as):
    cashier = client_as("cashier")
    methods = {m["code"]: m for m in cashier.get("/pos/methods?lang=es").json()}
    social = methods["social_currency"]
    assert social["currencies"] == ["LUCA"]  # not the fair's CLP: it takes only LUCA
    assert [w["code"] for w in social["ways"]] == ["account", "card", "voucher"]
    assert social["ways"][0] == {
        "code": "account",
        "label": "Cuenta y PIN",
        "fields": [
            {"key": "account", "label": "Número de cuenta", "kind": "text"},
            {"key": "pin", "label": "PIN", "kind": "secret"},
        ],
    }
    assert methods["cash"]["ways"] == [] and methods["cash"]["currencies"] == ["CLP"]
    english = {m["code"]: m for m in cashier.get("/pos/methods?lang=en").json()}
    assert english["social_currency"]["ways"][2]["label"] == "Voucher"


def test_the_till_page_draws_a_labelled_input_for_each_field(luca, client_as):
    page = client_as("cashier").get("/pos?lang=en").text
    box = re.search(
        r'<div class="tender-ways" data-method="social_currency".*?\n        </div>', page, re.S
    )
    assert box is not None
    html = box.group(0)
    pin = re.search(r'<input id="(tender-social_currency-account-pin)"[^>]*>', html)
    assert pin and 'type="password"' in pin.group(0)
    assert f'<label for="{pin.group(1)}">PIN</label>' in html
    for way in ("card", "voucher"):
        scan = re.search(rf'<input id="tender-social_currency-{way}-{way}"[^>]*>', html)
        assert scan and 'type="text"' in scan.group(0) and 'data-kind="scan"' in scan.group(0)
    # A method that asks nothing gets no inputs.
    assert 'data-method="cash"' not in page


def test_a_social_currency_without_a_rate_at_the_fair_is_not_offered_at_its_till(
    engine, fair, client_as
):
    import feria_social_currency as sc

    sc.create_currency(
        engine,
        code="HORA",
        name="Horas",
        decimals=2,
        kind="mutual_credit",
        debit_limit=5_000,
        credit_limit=8_000,
        user_id=fair.users["organizer"],
    )
    codes = [m["code"] for m in client_as("cashier").get("/pos/methods").json()]
    assert "cash" in codes and "social_currency" not in codes


def test_the_demo_tells_its_cashier_an_account_and_pin_and_vouchers_that_pay(engine, pm, capsys):
    import uuid

    from feria.cashbox.sales import LineRequest, TenderRequest, record_sale
    from feria.cashbox.sessions import open_session
    from feria.demo import load_demo

    info = load_demo(engine, pm, with_sales=False)
    pm.hook.feria_load_demo(engine=engine, pm=pm, fair_slug=info.fair_slug)  # as `feria demo`
    printed = capsys.readouterr().out
    account, pin = re.search(r"account (\S+) \(.*\), PIN (\d+)", printed).groups()
    vouchers = re.findall(r"^ {4}(\S+)$", printed, re.M)
    assert len(vouchers) == 5
    cashier = next(u for u in info.logins if u.role == "cashier")
    from sqlalchemy import select

    from feria.accounts import User
    from feria.db import read_session

    with read_session(engine) as db:
        cashier_id = db.scalar(select(User.id).where(User.username == cashier.username))
    session = open_session(engine, till_id=info.tills["T1"], user_id=cashier_id, float_amount=0)

    def pay(**data):
        return record_sale(
            engine,
            pm,
            key=uuid.uuid4().hex,
            session_id=session.id,
            lines=[LineRequest(producer_code="P01", amount=10_000)],
            tenders=[TenderRequest("social_currency", 1_000, currency="LUCA", data=data)],
        )

    assert pay(account=account, pin=pin).body["tenders"][0]["data"]["account"] == account
    pay(voucher=vouchers[0])
    # Started again, the demo no longer lists the voucher that was spent.
    pm.hook.feria_load_demo(engine=engine, pm=pm, fair_slug=info.fair_slug)
    again = capsys.readouterr().out
    assert vouchers[0] not in again and vouchers[1] in again
