"""Several tills recording at once still build one linear journal.

Four threads (four tills, four open sessions) share one engine; then separate OS processes
(as several app processes share a PostgreSQL database) record at once, also racing on the
same idempotency keys. Afterwards the journal must be one chain numbered 1…N without gaps,
every sale recorded once, and ``verify`` must pass. No till may ever see "database is
locked".
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from feria import hookimpl, journal
from feria.cashbox import sessions
from feria.cashbox.errors import SessionClosed
from feria.cashbox.models import CashMovement, CashSession, Sale
from feria.cashbox.refunds import refund_sale, void_sale
from feria.cashbox.sales import LineRequest, TenderRequest, record_sale
from feria.cashbox.sessions import add_till, close_session, open_session, record_movement
from feria.catalogue.models import Fair
from feria.db import make_engine, read_session, write_session
from feria.payments import Authorization, PaymentMethod
from feria.testing.plugin import make_fair
from feria.verify import verify

WORKER = Path(__file__).with_name("crash_worker.py")

pytestmark = pytest.mark.slow


def open_tills(engine, fx, n: int) -> list[int]:
    """Open a session at each of ``n`` tills (the fixture's and ``n - 1`` more)."""
    with write_session(engine) as db:
        fair = db.get(Fair, fx.fair_id)
        tills = [fx.till_id] + [add_till(db, fair, f"T{k}").id for k in range(2, n + 1)]
    return [
        open_session(engine, till_id=t, user_id=fx.users["cashier"], float_amount=10_000).id
        for t in tills
    ]


def assert_one_linear_chain(engine, expected_sales: int) -> list[Sale]:
    with read_session(engine) as db:
        seqs = db.scalars(select(journal.JournalEntry.seq).order_by(journal.JournalEntry.seq))
        seqs = list(seqs)
        assert seqs == list(range(1, len(seqs) + 1))
        result = verify(db)
        assert result.head.seq == len(seqs)
        sales = list(db.scalars(select(Sale).order_by(Sale.seq)))
    assert len(sales) == expected_sales
    assert [s.id for s in sales] == list(range(1, expected_sales + 1))  # receipt numbers too
    assert len({s.idempotency_key for s in sales}) == expected_sales
    return sales


def interleaved(sales: list[Sale]) -> int:
    """How many times consecutive sales come from different sessions."""
    return sum(1 for a, b in zip(sales, sales[1:], strict=False) if a.session_id != b.session_id)


def test_four_tills_in_threads_build_one_chain(database_url, pm):
    tills, per_till = 4, 40
    engine = make_engine(database_url)
    try:
        fx = make_fair(engine)
        sessions = open_tills(engine, fx, tills)
        start = threading.Barrier(tills)
        errors: list[BaseException] = []
        busy: list[tuple[float, float]] = []  # when each till started and finished

        def till(session_id: int) -> None:
            try:
                start.wait()
                began = time.monotonic()
                for i in range(per_till):
                    record_sale(
                        engine,
                        pm,
                        key=f"till{session_id}-{i:05d}",
                        session_id=session_id,
                        lines=[
                            LineRequest(barcode="7800000000016", quantity=f"0.{100 + i:03d}"),
                            LineRequest(producer_code="P07", amount=500 + session_id),
                        ],
                        tenders=[TenderRequest("cash", 10_000)],
                    )
                busy.append((began, time.monotonic()))
            except BaseException as exc:  # reported below, with the till that saw it
                errors.append(exc)

        threads = [threading.Thread(target=till, args=(sid,)) for sid in sessions]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads)
        assert errors == [], [repr(e) for e in errors]

        sales = assert_one_linear_chain(engine, tills * per_till)
        assert Counter(s.session_id for s in sales) == {sid: per_till for sid in sessions}
        # The four tills were all at work at the same moment (on SQLite they may still have
        # taken turns in blocks: a till waiting for the write lock sleeps and retries).
        assert max(b for b, _ in busy) < min(e for _, e in busy)
    finally:
        engine.dispose()


def run_workers(url: str, jobs: list[tuple[int, str]], count: int) -> list[list[str]]:
    """Start one worker per ``(session, key prefix)``, release them at once, wait for all."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), url, str(sid), "--prefix", prefix]
            + ["--count", str(count), "--wait"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for sid, prefix in jobs
    ]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready", p.stderr.read()
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        outputs = []
        for p in procs:
            out, err = p.communicate(timeout=180)
            assert p.returncode == 0, err
            assert "database is locked" not in err
            outputs.append(out.splitlines())
        return outputs
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def test_two_processes_build_one_chain(database_url):
    per_process = 150
    engine = make_engine(database_url)
    try:
        fx = make_fair(engine)
        sessions = open_tills(engine, fx, 2)
        prefix = uuid.uuid4().hex[:8]
        outputs = run_workers(
            database_url, [(sid, f"{prefix}-{sid}") for sid in sessions], per_process
        )
        for out in outputs:
            assert len(out) == per_process
            assert all(line.split()[3] == "0" for line in out)  # nothing was a replay

        sales = assert_one_linear_chain(engine, 2 * per_process)
        assert Counter(s.session_id for s in sales) == {sid: per_process for sid in sessions}
        if engine.dialect.name == "postgresql":
            # Waiters for the journal lock are served in turn: the writes interleave.
            assert interleaved(sales) > 1
    finally:
        engine.dispose()


def test_two_processes_resending_the_same_sales_record_each_once(database_url):
    """Two app processes get the same sales at once (a till retrying through another
    server): every key is recorded once, and both are told the same sale."""
    per_process = 150
    engine = make_engine(database_url)
    try:
        fx = make_fair(engine)
        (sid,) = open_tills(engine, fx, 1)
        outputs = run_workers(database_url, [(sid, "same"), (sid, "same")], per_process)

        first, second = ([line.split() for line in out] for out in outputs)
        assert [(i, sale_id) for i, sale_id, *_ in first] == [
            (i, sale_id) for i, sale_id, *_ in second
        ]
        # For every sale exactly one of the two recorded it; the other got it replayed.
        assert all(int(a[3]) + int(b[3]) == 1 for a, b in zip(first, second, strict=True))
        assert_one_linear_chain(engine, per_process)
    finally:
        engine.dispose()


# -- checks made before the journal lock must still hold when the entry is written -------------


class Gate:
    """Pauses a payment plugin inside its caller's transaction until the test says so."""

    def __init__(self) -> None:
        self.armed = True
        self.entered = threading.Event()
        self.release = threading.Event()

    def pause(self) -> None:
        if self.armed:
            self.armed = False
            self.entered.set()
            assert self.release.wait(60)


class SlowCard(PaymentMethod):
    code = "card"
    name = "Card"
    gives_change = False
    supports_refund = True

    def __init__(self, gate: Gate) -> None:
        self.gate = gate

    def authorize(self, tender, sale):
        self.gate.pause()
        return Authorization.approve()

    def refund(self, tender, sale):
        self.gate.pause()
        return Authorization.approve()


class SlowCardPlugin:
    def __init__(self) -> None:
        self.gate = Gate()

    @hookimpl
    def feria_payment_methods(self, fair):
        return [SlowCard(self.gate)]


@pytest.fixture
def slow_card(pm):
    plugin = SlowCardPlugin()
    pm.register(plugin, name="slow-card")
    yield plugin.gate
    plugin.gate.release.set()
    pm.unregister(plugin)


def race(gate: Gate, first, second) -> tuple[object, object]:
    """Start ``first`` and let it stop inside its transaction (in the payment plugin); run
    ``second`` meanwhile (giving it a second, or until ``first`` goes on if it has to wait
    for it); then let ``first`` finish. Returns each one's result or exception."""
    results: dict[str, object] = {}

    def run(name, fn):
        try:
            results[name] = fn()
        except Exception as exc:
            results[name] = exc

    a = threading.Thread(target=run, args=("first", first))
    a.start()
    assert gate.entered.wait(60), "the first operation never reached its payment plugin"
    b = threading.Thread(target=run, args=("second", second))
    b.start()
    b.join(1)
    gate.release.set()
    a.join(60)
    b.join(60)
    assert not a.is_alive() and not b.is_alive()
    return results["first"], results["second"]


@pytest.fixture
def shop(database_url):
    engine = make_engine(database_url)
    try:
        fx = make_fair(engine)
        (sid,) = open_tills(engine, fx, 1)
        yield engine, fx, sid
    finally:
        engine.dispose()


SCARF = [LineRequest(barcode="7800000000023")]


def test_sale_in_flight_when_its_session_closes_is_in_the_z_report_or_refused(shop, pm, slow_card):
    engine, fx, sid = shop
    first, second = race(
        slow_card,
        lambda: record_sale(
            engine,
            pm,
            key="inflight-0001",
            session_id=sid,
            lines=SCARF,
            tenders=[TenderRequest("card", 12990)],
        ),
        lambda: close_session(
            engine, pm, session_id=sid, user_id=fx.users["cashier"], counted={"CLP": 10_000}
        ),
    )
    assert isinstance(second, dict), second  # the close went through
    if isinstance(first, Exception):
        assert isinstance(first, SessionClosed), first
        assert second["counts"]["sale"] == 0
    else:
        # The sale was recorded before the close, and the Z-report counts it.
        assert first.seq < second["seq"]
        assert second["counts"]["sale"] == 1
        assert second["by_method"] == {"card": {"CLP": 12990}}
    with read_session(engine) as db:
        closed = db.get(CashSession, sid)
        late = db.scalars(
            select(Sale.id).where(Sale.session_id == sid, Sale.seq > closed.close_seq)
        ).all()
        verify(db)
    assert late == [], "a sale was recorded in a session after its Z-report"


def test_same_line_refunded_twice_at_once_is_refunded_once(shop, pm, slow_card):
    engine, fx, sid = shop
    sale = record_sale(
        engine,
        pm,
        key="sale-000001",
        session_id=sid,
        lines=SCARF,
        tenders=[TenderRequest("cash", 12990)],
    )
    slow_card.armed = True

    def refund(key, method):
        return lambda: refund_sale(
            engine,
            pm,
            sale_id=sale.id,
            key=key,
            user_id=fx.users["cashier"],
            session_id=sid,
            line_nos=[1],
            tenders=[TenderRequest(method, 12990)],
        )

    first, second = race(slow_card, refund("refund-0001", "card"), refund("refund-0002", "cash"))
    outcomes = sorted(type(r).__name__ for r in (first, second))
    assert outcomes == ["RecordedSale", "RefundNotAllowed"], (first, second)
    with read_session(engine) as db:
        assert db.scalar(select(func.sum(Sale.total)).where(Sale.refers_to == sale.id)) == -12990
        verify(db)


def test_void_and_refund_at_once_correct_the_sale_once(shop, pm, slow_card):
    engine, fx, sid = shop
    slow_card.armed = False
    sale = record_sale(
        engine,
        pm,
        key="sale-000001",
        session_id=sid,
        lines=SCARF,
        tenders=[TenderRequest("card", 12990)],
    )
    slow_card.armed = True
    first, second = race(
        slow_card,
        lambda: void_sale(
            engine, pm, sale_id=sale.id, key="void-000001", user_id=fx.users["organizer"]
        ),
        lambda: refund_sale(
            engine,
            pm,
            sale_id=sale.id,
            key="refund-0001",
            user_id=fx.users["cashier"],
            session_id=sid,
            line_nos=[1],
        ),
    )
    outcomes = sorted(type(r).__name__ for r in (first, second))
    assert outcomes == ["RecordedSale", "RefundNotAllowed"], (first, second)
    with read_session(engine) as db:
        assert db.scalar(select(func.sum(Sale.total)).where(Sale.refers_to == sale.id)) == -12990


def _pausing(gate: Gate, fn):
    def wrapper(*args, **kwargs):
        gate.pause()
        return fn(*args, **kwargs)

    return wrapper


def test_two_sessions_opened_at_once_at_one_till_only_one_opens(shop, monkeypatch):
    engine, fx, _ = shop
    with write_session(engine) as db:
        till = add_till(db, db.get(Fair, fx.fair_id), "T9").id
    gate = Gate()
    # Pause the first open inside its transaction, after its "already open?" check.
    monkeypatch.setattr(sessions, "_denominations", _pausing(gate, sessions._denominations))

    def opener():
        return open_session(engine, till_id=till, user_id=fx.users["cashier"], float_amount=0)

    first, second = race(gate, opener, opener)
    outcomes = sorted(type(r).__name__ for r in (first, second))
    assert outcomes == ["CashSession", "SessionClosed"], (first, second)
    with read_session(engine) as db:
        open_here = db.scalars(
            select(CashSession.id).where(
                CashSession.till_id == till, CashSession.closed_at.is_(None)
            )
        ).all()
    assert len(open_here) == 1


def test_cash_moved_while_the_session_closes_is_in_the_z_report_or_refused(shop, pm, monkeypatch):
    engine, fx, sid = shop
    gate = Gate()
    # Pause the paid-out inside its transaction, after its "is the session open?" check.
    monkeypatch.setattr(sessions, "currency", _pausing(gate, sessions.currency))
    first, second = race(
        gate,
        lambda: record_movement(
            engine,
            session_id=sid,
            kind="paid_out",
            amount=3000,
            reason="bags",
            user_id=fx.users["cashier"],
        ),
        lambda: close_session(
            engine, pm, session_id=sid, user_id=fx.users["cashier"], counted={"CLP": 7000}
        ),
    )
    assert isinstance(second, dict), second
    if isinstance(first, Exception):
        assert isinstance(first, SessionClosed), first
        assert second["expected_cash"] == {"CLP": 10_000}
    else:
        assert first.seq < second["seq"]
        assert second["expected_cash"] == {"CLP": 7000}
        assert second["discrepancy"] == {"CLP": 0}
    with read_session(engine) as db:
        closed = db.get(CashSession, sid)
        late = db.scalars(
            select(CashMovement.id).where(
                CashMovement.session_id == sid, CashMovement.seq > closed.close_seq
            )
        ).all()
    assert late == [], "cash moved in a session after its Z-report"
