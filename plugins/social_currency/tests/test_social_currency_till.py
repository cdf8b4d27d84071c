"""Paying at the caja común in a social currency: account and PIN, member card, vouchers;
a mixed sale splits exactly per currency; refusals leave nothing recorded and are logged."""

from __future__ import annotations

import json
import os
from collections import defaultdict

import feria_social_currency as sc
import pytest
from feria_social_currency import accounts, caja, ledger, tokens, verify
from feria_social_currency.errors import UnknownAccount
from feria_social_currency.models import RefusedAttempt
from sqlalchemy import func, select

from feria import journal
from feria.cashbox.errors import PaymentRefused
from feria.cashbox.models import Sale
from feria.cashbox.refunds import refund_sale, void_sale
from feria.cashbox.sales import TenderRequest
from feria.db import read_session
from feria.journal import JournalEntry
from feria.money import Money
from feria.settlement import settle

PIN = "4321"  # the luca fixture's consumer PIN
SCARF = {"barcode": "7800000000023"}  # 12,990 CLP
HONEY_KG = {"barcode": "7800000000016", "quantity": "1"}  # 8,000 CLP


def luca_tender(amount, **data):
    return TenderRequest("social_currency", amount, currency="LUCA", data=data)


def balance(engine, number):
    with read_session(engine) as db:
        return ledger.balance_of(db, number).amount


def refused(engine):
    with read_session(engine) as db:
        return [
            (r.what, r.subject, r.reason)
            for r in db.scalars(select(RefusedAttempt).order_by(RefusedAttempt.id))
        ]


def sales_count(engine):
    with read_session(engine) as db:
        return db.scalar(select(func.count(Sale.id)))


def test_a_mixed_sale_splits_exactly_per_currency(engine, fair, luca, sell):
    # 20,990 CLP: 10.00 LUCA (= 10,000 CLP at the fair's rate) and 11,000 CLP in cash.
    sale = sell(
        [SCARF, HONEY_KG],
        [luca_tender(1_000, account=luca.consumer, pin=PIN), TenderRequest("cash", 11_000)],
    )
    assert sale.total == Money(20_990, "CLP") and sale.change == Money(10, "CLP")
    tenders = {t["currency"]: t for t in sale.body["tenders"]}
    gross = defaultdict(int)
    for _no, _producer, code, g, withheld, fee, net in sale.body["splits"]:
        gross[code] += g
        assert net + withheld + fee == g
    assert gross == {"LUCA": tenders["LUCA"]["applied"], "CLP": tenders["CLP"]["applied"]}
    assert gross == {"LUCA": 1_000, "CLP": 10_990}
    # The consumer paid, the fair's caja común holds it until the producers are paid out.
    assert balance(engine, luca.consumer) == 9_000
    assert balance(engine, f"LUCA-FAIR{fair.fair_id}") == 1_000
    # Each producer's settlement shows its share in LUCA beside its CLP.
    with read_session(engine) as db:
        settlement = settle(db, fair.fair_id)
    luca_net = {(p.code, p.currency): p for p in settlement.producers if p.currency == "LUCA"}
    assert set(luca_net) == {("P01", "LUCA"), ("P07", "LUCA")}
    assert sum(p.gross.amount for p in luca_net.values()) == 1_000


def test_the_pin_never_reaches_the_journal(engine, luca, sell):
    sale = sell([SCARF], [luca_tender(1_299, account=luca.consumer, pin=PIN)])
    with read_session(engine) as db:
        raw = db.get(JournalEntry, sale.seq).body
    tender = json.loads(raw)["tenders"][0]
    assert tender["data"] == {"account": luca.consumer}
    assert PIN not in raw


def test_a_wrong_pin_is_refused_logged_and_nothing_is_recorded(engine, luca, sell):
    before = sales_count(engine)
    with pytest.raises(PaymentRefused, match=f"wrong PIN for account {luca.consumer}"):
        sell([SCARF], [luca_tender(1_299, account=luca.consumer, pin="0000")])
    assert sales_count(engine) == before
    assert balance(engine, luca.consumer) == 10_000
    assert refused(engine) == [("pin", luca.consumer, f"wrong PIN for account {luca.consumer}")]


def test_repeated_wrong_pins_lock_the_account_for_a_while(engine, luca, sell):
    for _ in range(accounts.MAX_PIN_FAILURES):
        with pytest.raises(PaymentRefused, match="wrong PIN"):
            sell([SCARF], [luca_tender(1_299, account=luca.consumer, pin="0000")])
    with pytest.raises(PaymentRefused, match="too many wrong PINs"):
        sell([SCARF], [luca_tender(1_299, account=luca.consumer, pin=PIN)])


def test_a_payment_past_the_limit_is_refused_with_the_figures(engine, luca, sell):
    for _ in range(2):
        sell([SCARF], [luca_tender(1_299, account=luca.consumer, pin=PIN)])
    with pytest.raises(PaymentRefused) as refusal:
        sell(
            [{"barcode": "7800000000016", "quantity": "10"}],  # 80,000 CLP = 80.00 LUCA
            [luca_tender(8_000, account=luca.consumer, pin=PIN)],
        )
    assert refusal.value.message == (
        f"social currency refused: account {luca.consumer} (Rosa) has 74.02 LUCA and may not "
        "go below zero: a payment of 80.00 LUCA would leave it at -5.98 LUCA"
    )
    assert balance(engine, luca.consumer) == 7_402
    assert refused(engine)[-1][:2] == ("limit", luca.consumer)


def test_member_card_pays_and_a_tampered_or_replaced_card_is_refused(engine, luca, sell):
    card = sc.issue_card(engine, number=luca.consumer, user_id=luca.organizer)
    sell([SCARF], [luca_tender(1_299, card=card)])
    assert balance(engine, luca.consumer) == 10_000 - 1_299

    # Someone edits the account number in the QR to spend another member's balance.
    tampered = card.replace(luca.consumer, luca.producer)
    with pytest.raises(PaymentRefused, match="forged or altered"):
        sell([SCARF], [luca_tender(1_299, card=tampered)])
    # A card made with another network's secret.
    forged = card.rsplit(":", 1)[0] + ":" + "A" * 52
    with pytest.raises(PaymentRefused, match="forged or altered"):
        sell([SCARF], [luca_tender(1_299, card=forged)])
    # The member reports the card lost: a new one is issued and the old one stops paying.
    sc.issue_card(engine, number=luca.consumer, user_id=luca.organizer)
    with pytest.raises(PaymentRefused, match="was replaced by card no. 2"):
        sell([SCARF], [luca_tender(1_299, card=card)])
    assert [r[0] for r in refused(engine)] == ["card", "card", "card"]
    assert balance(engine, luca.consumer) == 10_000 - 1_299


def test_a_voucher_is_spent_once_and_forged_or_altered_ones_are_refused(
    engine, luca, sell, monkeypatch
):
    secret = os.environ[tokens.SECRET_ENV]
    v1, v2 = sc.make_vouchers(engine, code="LUCA", count=2, amount=1_000, user_id=luca.organizer)
    assert v1.serial == "LUCA000001"
    # A voucher is spent whole; the rest of the scarf (12,990 CLP) is paid in cash.
    sale = sell([SCARF], [luca_tender(1_000, voucher=v1.payload), TenderRequest("cash", 3_000)])
    assert sale.body["tenders"][0]["data"] == {"voucher": v1.serial}
    assert sale.body["tenders"][0]["reference"] == f"voucher {v1.serial}"

    with pytest.raises(PaymentRefused, match=f"voucher {v1.serial} was already spent"):
        sell([SCARF], [luca_tender(1_000, voucher=v1.payload), TenderRequest("cash", 3_000)])
    altered = v2.payload.replace(":1000:", ":1200:")  # 10.00 made into 12.00
    with pytest.raises(PaymentRefused, match="forged or altered"):
        sell([SCARF], [luca_tender(1_200, voucher=altered), TenderRequest("cash", 1_000)])
    # A perfect signature cannot be made without the secret...
    monkeypatch.setenv(tokens.SECRET_ENV, "another network's secret, long enough to be used")
    forged = tokens.voucher_payload("LUCA", "LUCA000777", 1_000)
    monkeypatch.setenv(tokens.SECRET_ENV, secret)
    with pytest.raises(PaymentRefused, match="forged or altered"):
        sell([SCARF], [luca_tender(1_000, voucher=forged), TenderRequest("cash", 3_000)])
    # ...and a well-signed serial that was never issued (a stolen secret) is refused too.
    with pytest.raises(PaymentRefused, match="LUCA000777 was never issued"):
        sell(
            [SCARF],
            [
                luca_tender(1_000, voucher=tokens.voucher_payload("LUCA", "LUCA000777", 1_000)),
                TenderRequest("cash", 3_000),
            ],
        )
    with pytest.raises(PaymentRefused, match="this is not a voucher"):
        sell([SCARF], [luca_tender(1_000, voucher="hello"), TenderRequest("cash", 3_000)])
    attempts = refused(engine)
    assert [(what, subject) for what, subject, _ in attempts] == [
        ("voucher", v1.serial),
        ("voucher", v2.serial),
        ("voucher", "LUCA000777"),
        ("voucher", "LUCA000777"),
        ("voucher", ""),
    ]
    with read_session(engine) as db:
        pos = sc.bank_position(db, "LUCA")
        assert pos.vouchers == Money(1_000, "LUCA")  # v2 is still out there, unspent
        assert verify.verify_ledger(db) == 3  # the issue, the vouchers, the one spent


def test_vouchers_and_cards_need_the_signing_secret(engine, luca, monkeypatch):
    from feria_social_currency.errors import SecretMissing

    monkeypatch.delenv(tokens.SECRET_ENV)
    with pytest.raises(SecretMissing, match=tokens.SECRET_ENV):
        sc.make_vouchers(engine, code="LUCA", count=1, amount=100, user_id=luca.organizer)
    with pytest.raises(SecretMissing):
        sc.issue_card(engine, number=luca.consumer, user_id=luca.organizer)
    monkeypatch.setenv(tokens.SECRET_ENV, "x" * 40)
    sc.make_vouchers(engine, code="LUCA", count=1, amount=100, user_id=luca.organizer)
    monkeypatch.delenv(tokens.SECRET_ENV)
    with pytest.raises(SecretMissing):  # the app refuses to start now that vouchers exist
        caja.check_configuration(engine)


def test_void_and_refund_pay_back_into_the_account(engine, pm, fair, luca, sell):
    sale = sell([SCARF, HONEY_KG], [luca_tender(2_099, account=luca.consumer, pin=PIN)])
    assert balance(engine, luca.consumer) == 10_000 - 2_099
    refund_sale(
        engine,
        pm,
        sale_id=sale.id,
        key="refund-honey-1",
        user_id=fair.users["cashier"],
        line_nos=[2],
        tenders=[luca_tender(800, account=luca.consumer)],
    )
    sc.reconcile(engine)  # mirrors the refund if the core did not call feria_sale_writing
    assert balance(engine, luca.consumer) == 10_000 - 2_099 + 800
    other = sell([SCARF], [luca_tender(1_299, account=luca.consumer, pin=PIN)])
    void_sale(engine, pm, sale_id=other.id, key="void-scarf-1", user_id=fair.users["organizer"])
    assert sc.reconcile(engine) in (0, 1)
    assert sc.reconcile(engine) == 0  # exactly once
    assert balance(engine, luca.consumer) == 10_000 - 2_099 + 800
    with read_session(engine) as db:
        assert verify.verify_ledger(db) >= 5
        assert sum(ledger.balances(db, "LUCA").values()) == 0


def test_a_refund_to_an_unknown_account_is_refused_and_writes_nothing(engine, pm, fair, luca, sell):
    sale = sell([SCARF], [luca_tender(1_299, account=luca.consumer, pin=PIN)])
    with read_session(engine) as db:
        before = journal.head(db)
    with pytest.raises(UnknownAccount, match="LUCA-9999"):
        refund_sale(
            engine,
            pm,
            sale_id=sale.id,
            key="refund-typo-1",
            user_id=fair.users["cashier"],
            tenders=[luca_tender(1_299, account="LUCA-9999")],  # a typo at the till
        )
    with read_session(engine) as db:
        assert journal.head(db) == before  # the refund and its movement roll back together
        verify.verify_ledger(db)
    assert balance(engine, luca.consumer) == 10_000 - 1_299


def test_a_voucher_tender_cannot_be_voided(engine, fair, luca, sell, pm):
    (v,) = sc.make_vouchers(engine, code="LUCA", count=1, amount=1_299, user_id=luca.organizer)
    sale = sell([SCARF], [luca_tender(1_299, voucher=v.payload)])
    with pytest.raises(PaymentRefused, match="spent voucher is not given back"):
        void_sale(engine, pm, sale_id=sale.id, key="void-voucher", user_id=fair.users["organizer"])


def test_producers_are_paid_out_into_their_accounts(engine, fair, luca, sell):
    sell([HONEY_KG], [luca_tender(800, account=luca.consumer, pin=PIN)])
    with read_session(engine) as db:
        owed = next(
            p for p in settle(db, fair.fair_id).producers if (p.code, p.currency) == ("P01", "LUCA")
        )
    assert owed.net == Money(760, "LUCA")  # 5% to the solidarity fund
    sc.pay_producer(
        engine,
        fair_id=fair.fair_id,
        producer_id=fair.producers["P01"],
        code="LUCA",
        amount=760,
        user_id=luca.organizer,
    )
    assert balance(engine, luca.producer) == 760
    assert balance(engine, f"LUCA-FAIR{fair.fair_id}") == 40  # the fund's share stays
    with read_session(engine) as db:
        assert verify.verify_ledger(db) == 3


def test_a_tender_must_say_who_pays(engine, luca, sell):
    with pytest.raises(PaymentRefused, match="say who pays"):
        sell([SCARF], [luca_tender(1_299)])
    with pytest.raises(PaymentRefused, match="PIN of account .* is missing"):
        sell([SCARF], [luca_tender(1_299, account=luca.consumer)])
