"""The community bank: issuance and redemption move the backing fund, only an organizer
may do them, balances always sum to zero, and every movement is in the journal."""

from __future__ import annotations

import datetime as dt

import feria_social_currency as sc
import pytest
from feria_social_currency import ledger, models, verify
from feria_social_currency.errors import (
    BackingShort,
    LimitExceeded,
    NotAllowed,
    NotIssuable,
)
from sqlalchemy import text

from feria.db import read_session, write_session
from feria.journal import JournalTampered, verify_chain
from feria.money import Money
from feria.verify import verify_engine


def position(engine, code):
    with read_session(engine) as db:
        return sc.bank_position(db, code)


def test_issuance_adds_to_the_backing_fund_beside_the_circulating_amount(engine, luca):
    pos = position(engine, "LUCA")
    assert pos.circulating == Money(10_000, "LUCA")  # 100.00 luca issued by the fixture
    assert pos.backing == Money(100_000, "CLP")  # at 1000 CLP per luca
    assert pos.coverage_bp == 10_000

    sc.issue(engine, code="LUCA", amount=5_000, to=luca.consumer, user_id=luca.organizer)
    pos = position(engine, "LUCA")
    assert (pos.circulating, pos.backing) == (Money(15_000, "LUCA"), Money(150_000, "CLP"))


def test_redemption_takes_from_the_backing_fund_at_the_network_rate(engine, luca):
    paid = sc.redeem(engine, code="LUCA", amount=2_000, from_=luca.consumer, user_id=luca.organizer)
    assert paid == Money(20_000, "CLP")
    pos = position(engine, "LUCA")
    assert (pos.circulating, pos.backing) == (Money(8_000, "LUCA"), Money(80_000, "CLP"))
    with read_session(engine) as db:
        assert ledger.balance_of(db, luca.consumer) == Money(8_000, "LUCA")


def test_a_new_rate_applies_to_later_issuance_and_reaches_the_fair_rules(engine, luca):
    from feria.catalogue.models import Fair
    from feria.catalogue.rules import rule_in_force

    sc.set_rate(engine, code="LUCA", rate="1100", user_id=luca.organizer, fairs=["feria-test"])
    sc.issue(engine, code="LUCA", amount=1_000, to=luca.consumer, user_id=luca.organizer)
    assert position(engine, "LUCA").backing == Money(111_000, "CLP")
    with read_session(engine) as db:
        fair = db.query(Fair).filter_by(slug="feria-test").one()
        assert rule_in_force(db, fair.id, models.utcnow()).rates["LUCA"] == "1100"


def test_redemption_beyond_the_fund_is_refused(engine, luca):
    # Unbacked community credit circulates but the fund cannot pay it out.
    sc.issue(engine, code="LUCA", amount=5_000, to=luca.consumer, backing=0, user_id=luca.organizer)
    assert position(engine, "LUCA").coverage_bp == 6_666
    with pytest.raises(BackingShort, match="backing fund holds 100000 CLP"):
        sc.redeem(engine, code="LUCA", amount=15_000, from_=luca.consumer, user_id=luca.organizer)


def test_redeeming_more_than_the_account_holds_is_refused(engine, luca):
    sc.issue(engine, code="LUCA", amount=1_000, to=luca.producer, user_id=luca.organizer)
    with pytest.raises(LimitExceeded, match="may not go below zero"):
        sc.redeem(engine, code="LUCA", amount=1_500, from_=luca.producer, user_id=luca.organizer)


def test_only_an_organizer_issues_or_redeems(engine, fair, luca):
    for role in ("cashier", "producer", "shopper"):
        with pytest.raises(NotAllowed, match="only an organizer"):
            sc.issue(engine, code="LUCA", amount=100, to=luca.consumer, user_id=fair.users[role])
        with pytest.raises(NotAllowed, match="only an organizer"):
            sc.redeem(
                engine, code="LUCA", amount=100, from_=luca.consumer, user_id=fair.users[role]
            )
    assert position(engine, "LUCA").circulating == Money(10_000, "LUCA")


def test_mutual_credit_is_never_issued(engine, hours):
    with pytest.raises(NotIssuable, match="created by members trading"):
        sc.issue(engine, code="HORA", amount=100, to=hours.accounts[0], user_id=hours.organizer)


def test_balances_sum_to_zero_and_every_movement_is_in_the_journal(engine, luca):
    sc.make_vouchers(engine, code="LUCA", count=2, amount=500, user_id=luca.organizer)
    sc.transfer(engine, from_=luca.consumer, to=luca.producer, amount=700, pin="4321")
    with read_session(engine) as db:
        assert sum(ledger.balances(db, "LUCA").values()) == 0
        assert verify.verify_ledger(db) == 3  # the fixture's issue, the vouchers, the transfer
        verify_chain(db)
    result = verify_engine(engine)
    assert "social_currency.issue" in result.unchecked_kinds


def test_a_changed_movement_is_refused_by_the_database(engine, luca):
    with pytest.raises(Exception, match="append-only"), write_session(engine) as db:
        db.execute(text("UPDATE social_currency_movements SET amount = amount + 1"))
    with pytest.raises(Exception, match="append-only"), write_session(engine) as db:
        db.execute(text("DELETE FROM social_currency_redemptions"))
        db.execute(text("DELETE FROM social_currency_movements"))


def test_verify_ledger_finds_a_movement_the_journal_does_not_record(engine, luca):
    with write_session(engine) as db:  # an administrator slipping value into an account
        issuer = ledger.account(db, "LUCA-ISSUER")
        mine = ledger.account(db, luca.producer)
        ledger.move(
            db, seq=1, kind="issue", payer=issuer, payee=mine, amount=99_900, at=models.utcnow()
        )
    with read_session(engine) as db, pytest.raises(JournalTampered, match="does not record"):
        verify.verify_ledger(db)


def test_statement_shows_every_movement_with_a_running_balance(engine, luca):
    sc.transfer(engine, from_=luca.consumer, to=luca.producer, amount=1_250, pin="4321")
    with read_session(engine) as db:
        st = sc.statement(db, luca.consumer)
    assert [(ln.kind, ln.amount.amount, ln.balance.amount) for ln in st.lines] == [
        ("issue", 10_000, 10_000),
        ("transfer", -1_250, 8_750),
    ]
    assert st.closing == Money(8_750, "LUCA")
    rows = st.to_csv().splitlines()
    assert rows[0] == "date,entry,kind,counterparty,reference,amount,balance,currency"
    assert rows[-2].endswith(",transfer,Miel del Sur,,-12.50,87.50,LUCA")  # a name
    assert rows[-1] == ",,closing,,,,87.50,LUCA"


def test_statement_csv_writes_a_note_that_starts_like_a_formula_as_text(engine, luca):
    note = '=HYPERLINK("http://x.example","y")'
    sc.transfer(engine, from_=luca.consumer, to=luca.producer, amount=1_250, pin="4321", note=note)
    with read_session(engine) as db:
        rows = sc.statement(db, luca.consumer).to_csv().splitlines()
    assert rows[-2].endswith(',"\'=HYPERLINK(""http://x.example"",""y"")",-12.50,87.50,LUCA')


def test_demurrage_charges_positive_balances_once_per_period(engine, luca):
    sc.set_demurrage(
        engine,
        code="LUCA",
        bp=200,
        user_id=luca.organizer,
        effective_at=dt.datetime(2026, 1, 1),
    )
    first = sc.apply_demurrage(engine, "LUCA", dt.datetime(2026, 12, 10))
    again = sc.apply_demurrage(engine, "LUCA", dt.datetime(2026, 12, 28))
    assert first.period == again.period == "2026-12" and again.seq == first.seq
    with read_session(engine) as db:
        assert ledger.balance_of(db, luca.consumer) == Money(9_800, "LUCA")  # 2% of 100.00
        assert ledger.balance_of(db, "LUCA-FUND") == Money(200, "LUCA")
    sc.apply_demurrage(engine, "LUCA", dt.datetime(2027, 1, 3))
    with read_session(engine) as db:
        assert ledger.balance_of(db, luca.consumer) == Money(9_604, "LUCA")
        assert sum(ledger.balances(db, "LUCA").values()) == 0
        verify.verify_ledger(db)


def test_no_demurrage_without_a_rule(engine, luca):
    assert sc.apply_demurrage(engine, "LUCA", dt.datetime(2026, 12, 10)) is None
