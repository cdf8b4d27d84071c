"""Cash sessions: the float, paid-in and paid-out, X- and Z-reports, the counted close.

Every test runs on SQLite and on PostgreSQL (the ``engine`` fixture).
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from feria import hookimpl, journal
from feria.cashbox.errors import InvalidTender, NotAllowed, SessionClosed, SessionNotFound
from feria.cashbox.models import CashMovement, CashSession
from feria.cashbox.refunds import refund_sale, void_sale
from feria.cashbox.sales import LineRequest, TenderRequest, record_sale
from feria.cashbox.sessions import (
    InvalidCount,
    add_till,
    close_session,
    open_session,
    record_movement,
    x_report,
)
from feria.catalogue.models import Fair, RuleVersion
from feria.catalogue.rules import add_rule_version
from feria.db import read_session, write_session
from feria.payments import Authorization, PaymentMethod
from feria.verify import verify

SCARF_BARCODE = "7800000000023"
HONEY_BARCODE = "7800000000016"
THREE_LINES = [
    LineRequest(barcode=SCARF_BARCODE),  # P07, 12990
    LineRequest(barcode=HONEY_BARCODE, quantity="1.235"),  # P01, 9880
    LineRequest(producer_code="P07", amount=2500),  # P07, 2500
]
FLOAT_DETAIL = {"10000": 1, "5000": 1, "1000": 4, "500": 2}  # 20000


class CardMethod(PaymentMethod):
    code = "card"
    name = "Card"
    gives_change = False
    supports_refund = True

    def authorize(self, tender, sale):
        return Authorization.approve()

    def refund(self, tender, sale):
        return Authorization.approve()


class SessionPlugins:
    """A card method, and a listener for closed sessions."""

    def __init__(self) -> None:
        self.closed: list = []

    @hookimpl
    def feria_payment_methods(self, fair):
        return [CardMethod()]

    @hookimpl
    def feria_cash_session_closed(self, session, report):
        self.closed.append((session, report))


@pytest.fixture
def plugins(pm):
    plugin = SessionPlugins()
    pm.register(plugin, name="test-session-plugins")
    yield plugin
    pm.unregister(plugin)


@pytest.fixture
def session(engine, fair) -> CashSession:
    """A session opened with a float counted by denomination."""
    return open_session(
        engine, till_id=fair.till_id, user_id=fair.users["cashier"], float_detail=FLOAT_DETAIL
    )


def sell(engine, pm, session_id: int, lines, tenders, key: str):
    return record_sale(engine, pm, key=key, session_id=session_id, lines=lines, tenders=tenders)


def move(engine, fair, session_id: int, kind: str, amount: int, reason: str = "change coins"):
    return record_movement(
        engine,
        session_id=session_id,
        kind=kind,
        amount=amount,
        reason=reason,
        user_id=fair.users["cashier"],
    )


# -- opening -----------------------------------------------------------------------------------


def test_open_with_a_float_counted_by_denomination(engine, fair, session):
    assert session.float_amount == 20000
    assert session.float_detail == FLOAT_DETAIL
    assert session.is_open and session.cashier_id == fair.users["cashier"]
    with read_session(engine) as db:
        entry = db.get(journal.JournalEntry, session.open_seq)
        row = db.get(CashSession, session.id)
    body = json.loads(entry.body)
    assert entry.kind == "session_open"
    assert (body["session"], body["till"], body["float"], body["float_detail"]) == (
        session.id,
        fair.till_id,
        20000,
        FLOAT_DETAIL,
    )
    assert (row.float_amount, row.currency, row.closed_at) == (20000, "CLP", None)
    assert x_report(engine, session.id)["expected_cash"] == {"CLP": 20000}


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"float_amount": 15000, "float_detail": FLOAT_DETAIL}, "float_detail"),
        ({"float_detail": {"diez mil": 1}}, "float_detail"),
        ({"float_detail": {"1000": -1}}, "float_detail"),
        ({"float_detail": {"0": 3}}, "float_detail"),
        ({"float_amount": -1}, "float_amount"),
    ],
)
def test_open_with_a_float_that_does_not_add_up_is_refused(engine, fair, options, field):
    with pytest.raises(InvalidCount) as err:
        open_session(engine, till_id=fair.till_id, user_id=fair.users["cashier"], **options)
    assert err.value.field == field
    with read_session(engine) as db:
        assert db.scalars(select(CashSession)).all() == []


def test_open_at_an_unknown_till_is_refused(engine, fair):
    with pytest.raises(SessionNotFound) as err:
        open_session(engine, till_id=999, user_id=fair.users["cashier"], float_amount=0)
    assert err.value.field == "till"


def test_second_open_session_at_the_same_till_is_refused(engine, fair, session):
    with pytest.raises(SessionClosed, match="already has an open session") as err:
        open_session(engine, till_id=fair.till_id, user_id=fair.users["organizer"], float_amount=0)
    assert err.value.field == "till"
    with read_session(engine) as db:
        assert [cs.id for cs in db.scalars(select(CashSession))] == [session.id]


def test_till_can_open_again_after_its_session_is_closed(engine, fair, pm, session):
    close_session(
        engine, pm, session_id=session.id, user_id=fair.users["cashier"], counted={"CLP": 20000}
    )
    again = open_session(
        engine, till_id=fair.till_id, user_id=fair.users["cashier"], float_amount=10000
    )
    assert again.id != session.id and again.is_open
    assert x_report(engine, again.id)["expected_cash"] == {"CLP": 10000}


def test_several_tills_open_at_once(engine, fair, pm, session):
    with write_session(engine) as db:
        fair_row = db.get(Fair, fair.fair_id)
        t2, t3 = add_till(db, fair_row, "T2").id, add_till(db, fair_row, "T3").id
    s2 = open_session(engine, till_id=t2, user_id=fair.users["cashier"], float_amount=5000)
    s3 = open_session(engine, till_id=t3, user_id=fair.users["organizer"], float_amount=0)
    assert len({session.id, s2.id, s3.id}) == 3

    sell(engine, pm, session.id, THREE_LINES, [TenderRequest("cash", 25370)], "t1-sale-0001")
    sell(
        engine,
        pm,
        s2.id,
        [LineRequest(barcode=SCARF_BARCODE)],
        [TenderRequest("cash", 13000)],
        "t2-sale-0001",
    )
    close_session(engine, pm, session_id=s3.id, user_id=fair.users["organizer"], counted={"CLP": 0})

    assert x_report(engine, session.id)["expected_cash"] == {"CLP": 20000 + 25370}
    assert x_report(engine, s2.id)["expected_cash"] == {"CLP": 5000 + 12990}
    assert x_report(engine, s2.id)["counts"]["sale"] == 1
    assert x_report(engine, s3.id)["closed_at"] is not None
    # Closing T3 left the other two open.
    sell(
        engine,
        pm,
        s2.id,
        [LineRequest(barcode=SCARF_BARCODE)],
        [TenderRequest("cash", 12990)],
        "t2-sale-0002",
    )
    with pytest.raises(SessionClosed):
        sell(engine, pm, s3.id, THREE_LINES, [TenderRequest("cash", 25370)], "t3-sale-0001")


# -- paid-in, paid-out -------------------------------------------------------------------------


def test_paid_in_and_paid_out_move_the_expected_cash(engine, fair, session):
    mv = move(engine, fair, session.id, "paid_in", 5000, "coins from the bank")
    move(engine, fair, session.id, "paid_out", 2000, "paper bags")

    assert (mv.kind, mv.amount, mv.currency, mv.reason) == (
        "paid_in",
        5000,
        "CLP",
        "coins from the bank",
    )
    with read_session(engine) as db:
        entry = db.get(journal.JournalEntry, mv.seq)
        rows = db.scalars(select(CashMovement).order_by(CashMovement.id)).all()
    assert entry.kind == "paid_in" and json.loads(entry.body)["amount"] == 5000
    assert [(r.kind, r.amount) for r in rows] == [("paid_in", 5000), ("paid_out", 2000)]
    report = x_report(engine, session.id)
    assert report["movements"] == {"paid_in": {"CLP": 5000}, "paid_out": {"CLP": 2000}}
    assert report["expected_cash"] == {"CLP": 23000}


@pytest.mark.parametrize(
    ("kind", "amount", "reason", "field"),
    [
        ("tip", 100, "why", "kind"),
        ("paid_in", 0, "why", "amount"),
        ("paid_out", -5, "why", "amount"),
        ("paid_out", 500, "  ", "reason"),
    ],
)
def test_bad_movement_is_refused(engine, fair, session, kind, amount, reason, field):
    with pytest.raises(InvalidTender) as err:
        move(engine, fair, session.id, kind, amount, reason)
    assert err.value.field == field


def test_movement_in_a_closed_session_is_refused(engine, fair, pm, session):
    close_session(
        engine, pm, session_id=session.id, user_id=fair.users["cashier"], counted={"CLP": 20000}
    )
    with pytest.raises(SessionClosed):
        move(engine, fair, session.id, "paid_out", 1000)


# -- reports and the close ---------------------------------------------------------------------


def _busy_shift(engine, pm, fair, session):
    """A cash sale, a card sale, a paid-in and a paid-out; returns the two sales."""
    cash_sale = sell(
        engine, pm, session.id, THREE_LINES, [TenderRequest("cash", 30000)], "sale-00001"
    )
    card_sale = sell(
        engine,
        pm,
        session.id,
        [LineRequest(barcode=SCARF_BARCODE)],
        [TenderRequest("card", 12990)],
        "sale-00002",
    )
    move(engine, fair, session.id, "paid_in", 5000)
    move(engine, fair, session.id, "paid_out", 2000, "paper bags")
    return cash_sale, card_sale


def test_x_report_shows_the_shift_so_far(engine, fair, pm, plugins, session):
    _busy_shift(engine, pm, fair, session)
    p1, p7 = str(fair.producers["P01"]), str(fair.producers["P07"])

    report = x_report(engine, session.id)
    assert report["session"] == session.id and report["till"] == fair.till_id
    assert report["float"] == 20000
    assert report["by_method"] == {"card": {"CLP": 12990}, "cash": {"CLP": 25370}}
    assert report["by_producer"] == {p1: {"CLP": 9880}, p7: {"CLP": 15490 + 12990}}
    assert report["counts"] == {"sale": 2, "refund": 0, "void": 0}
    assert report["totals"] == {"sale": 25370 + 12990, "refund": 0, "void": 0}
    # Float + cash kept (change given back is not in the drawer) + paid-in − paid-out.
    assert report["expected_cash"] == {"CLP": 20000 + 25370 + 5000 - 2000}
    assert report["closed_at"] is None and report["discrepancy"] is None
    # An X-report is only a reading: nothing is written.
    with read_session(engine) as db:
        head = journal.head(db)
    x_report(engine, session.id)
    with read_session(engine) as db:
        assert journal.head(db) == head


def test_close_records_the_discrepancy_without_fixing_it(engine, fair, pm, plugins, session):
    _busy_shift(engine, pm, fair, session)
    z = close_session(
        engine, pm, session_id=session.id, user_id=fair.users["cashier"], counted={"CLP": 48000}
    )

    assert z["expected_cash"] == {"CLP": 48370}
    assert z["counted_cash"] == {"CLP": 48000}
    assert z["discrepancy"] == {"CLP": -370}
    with read_session(engine) as db:
        row = db.get(CashSession, session.id)
        entry = db.get(journal.JournalEntry, row.close_seq)
        verify(db)
    assert (row.expected, row.counted, row.discrepancy) == (
        {"CLP": 48370},
        {"CLP": 48000},
        {"CLP": -370},
    )
    assert row.closed_at is not None and not row.is_open
    body = json.loads(entry.body)
    assert entry.kind == "session_close" and z["seq"] == entry.seq and z["hash"] == entry.hash
    assert (body["expected"], body["counted"], body["discrepancy"]) == (
        {"CLP": 48370},
        {"CLP": 48000},
        {"CLP": -370},
    )
    # The record still says what should have been there; the difference stays visible.
    after = x_report(engine, session.id)
    assert after["expected_cash"] == {"CLP": 48370}
    assert after["discrepancy"] == {"CLP": -370}
    ((closed, reported),) = plugins.closed
    assert closed.id == session.id and reported["discrepancy"] == {"CLP": -370}


def test_close_counted_by_denomination(engine, fair, pm, session):
    z = close_session(
        engine,
        pm,
        session_id=session.id,
        user_id=fair.users["cashier"],
        counted_detail={"10000": 2, "100": 3},
    )
    assert z["counted_cash"] == {"CLP": 20300} and z["discrepancy"] == {"CLP": 300}


def test_z_report_totals_by_method_producer_and_count(engine, fair, pm, plugins, session):
    cash_sale, card_sale = _busy_shift(engine, pm, fair, session)
    refund_sale(
        engine,
        pm,
        sale_id=cash_sale.id,
        key="refund-0001",
        user_id=fair.users["cashier"],
        session_id=session.id,
        line_nos=[2],
    )
    void_sale(engine, pm, sale_id=card_sale.id, key="void-00001", user_id=fair.users["organizer"])
    p1, p7 = str(fair.producers["P01"]), str(fair.producers["P07"])

    z = close_session(
        engine, pm, session_id=session.id, user_id=fair.users["organizer"], counted={"CLP": 38490}
    )
    assert z["counts"] == {"sale": 2, "refund": 1, "void": 1}
    assert z["totals"] == {"sale": 38360, "refund": -9880, "void": -12990}
    assert z["by_method"] == {"card": {"CLP": 0}, "cash": {"CLP": 25370 - 9880}}
    assert z["by_producer"] == {p1: {"CLP": 0}, p7: {"CLP": 15490}}
    assert z["expected_cash"] == {"CLP": 20000 + 25370 - 9880 + 5000 - 2000}
    assert z["discrepancy"] == {"CLP": 0}


def test_cash_in_a_foreign_currency_is_expected_in_its_own_currency(engine, fair, pm, session):
    with write_session(engine) as db:
        add_rule_version(db, db.get(Fair, fair.fair_id), solidarity_bp=500, rates={"USD": "950"})
    sell(
        engine,
        pm,
        session.id,
        [LineRequest(barcode=SCARF_BARCODE)],
        [TenderRequest("cash", 1000, "USD"), TenderRequest("cash", 5000)],
        "sale-00001",
    )
    # 10.00 USD = 9500 CLP; the pesos tender keeps 3490 of its 5000.
    assert x_report(engine, session.id)["expected_cash"] == {"CLP": 23490, "USD": 1000}
    z = close_session(
        engine, pm, session_id=session.id, user_id=fair.users["cashier"], counted={"CLP": 23490}
    )
    assert z["counted_cash"] == {"CLP": 23490, "USD": 0}
    assert z["discrepancy"] == {"CLP": 0, "USD": -1000}
    with read_session(engine) as db:
        assert db.scalar(select(RuleVersion.version).order_by(RuleVersion.id.desc())) == 2


def test_close_needs_a_count_and_the_right_person(engine, fair, pm, session):
    with pytest.raises(InvalidCount) as err:
        close_session(engine, pm, session_id=session.id, user_id=fair.users["cashier"])
    assert err.value.field == "counted"
    with pytest.raises(InvalidCount):
        close_session(
            engine, pm, session_id=session.id, user_id=fair.users["cashier"], counted={"CLP": -1}
        )
    with pytest.raises(NotAllowed):
        close_session(
            engine, pm, session_id=session.id, user_id=fair.users["producer"], counted={"CLP": 0}
        )
    assert x_report(engine, session.id)["closed_at"] is None


def test_closed_session_cannot_be_closed_again_or_changed(engine, fair, pm, session):
    close_session(
        engine, pm, session_id=session.id, user_id=fair.users["cashier"], counted={"CLP": 19000}
    )
    with pytest.raises(SessionClosed):
        close_session(
            engine, pm, session_id=session.id, user_id=fair.users["cashier"], counted={"CLP": 20000}
        )
    for statement in (
        f"UPDATE cash_sessions SET close_seq = 1 WHERE id = {session.id}",
        f"DELETE FROM cash_sessions WHERE id = {session.id}",
    ):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.exec_driver_sql(statement)
    assert x_report(engine, session.id)["discrepancy"] == {"CLP": -1000}
