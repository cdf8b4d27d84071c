"""Cash sessions: a cashier's shift at a till, from the opening float to the counted close.

The drawer is never "fixed": at close the counted cash is compared with what the record
says should be there, and the difference is recorded as it is, in the journal, for the
organizers to see.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import pluggy
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from feria import journal
from feria.cashbox.errors import InvalidTender, NotAllowed, SessionClosed, SessionNotFound
from feria.cashbox.models import CashMovement, CashSession, Sale, Split, Tender, Till
from feria.catalogue.models import Fair, utcnow
from feria.db import read_session, write_session
from feria.errors import FeriaError
from feria.i18n import N_
from feria.money import Money, MoneyError, currency

MOVEMENT_KINDS = ("paid_in", "paid_out")


class InvalidCount(FeriaError):
    code = "invalid_count"


def _denominations(detail: dict[str, int] | None, code: str) -> tuple[int, dict[str, int]]:
    """Total of a count by denomination (``{"10000": 3, "500": 4}``: value in minor units →
    how many), so a cashier can count notes and coins instead of adding them up."""
    total = 0
    clean: dict[str, int] = {}
    for value, count in (detail or {}).items():
        try:
            v = int(value)
        except (TypeError, ValueError) as exc:
            raise InvalidCount(
                N_("denomination {value}: expected a value in {currency} minor units"),
                params={"value": repr(value), "currency": code},
                field="float_detail",
            ) from exc
        if v <= 0 or type(count) is not int or count < 0:
            raise InvalidCount(
                N_("denomination {value}: expected a positive value and a count of 0 or more"),
                params={"value": value},
                field="float_detail",
            )
        clean[str(v)] = count
        total += v * count
    return total, clean


# The rows these entries record, one mapping shared with ``feria verify``, which re-derives
# every row from its entry.


def session_row_from_body(body: dict[str, Any], seq: int, at: dt.datetime) -> dict[str, Any]:
    """The ``cash_sessions`` row a ``session_open`` entry records."""
    return {
        "id": body["session"],
        "fair_id": body["fair"],
        "till_id": body["till"],
        "cashier_id": body["user"],
        "currency": body["currency"],
        "opened_at": at,
        "float_amount": body["float"],
        "float_detail": body["float_detail"],
        "open_seq": seq,
    }


def session_close_values(body: dict[str, Any], seq: int, at: dt.datetime) -> dict[str, Any]:
    """The columns a ``session_close`` entry fills in its session's row."""
    return {
        "closed_at": at,
        "expected": body["expected"],
        "counted": body["counted"],
        "discrepancy": body["discrepancy"],
        "close_seq": seq,
    }


def movement_row_from_body(
    kind: str, body: dict[str, Any], seq: int, at: dt.datetime
) -> dict[str, Any]:
    """The ``cash_movements`` row (without its id) a ``paid_in``/``paid_out`` entry records."""
    return {
        "session_id": body["session"],
        "kind": kind,
        "amount": body["amount"],
        "currency": body["currency"],
        "reason": body["reason"],
        "user_id": body["user"],
        "at": at,
        "seq": seq,
    }


def open_session(
    engine: Engine,
    *,
    till_id: int,
    user_id: int,
    float_amount: int | None = None,
    float_detail: dict[str, int] | None = None,
    now: dt.datetime | None = None,
) -> CashSession:
    """Open a session at ``till_id`` with the float counted into the drawer."""
    now = now or utcnow()
    with write_session(engine) as db:
        # Every check below holds until the commit: on PostgreSQL two opens at one till,
        # or a sale and the close of its session, are serialized by this lock.
        locked = journal.lock_head(db)
        till = db.get(Till, till_id)
        if till is None:
            raise SessionNotFound(
                N_("there is no till {till}"), params={"till": till_id}, field="till"
            )
        fair = db.get(Fair, till.fair_id)
        open_here = db.scalar(
            select(CashSession.id).where(
                CashSession.till_id == till_id, CashSession.closed_at.is_(None)
            )
        )
        if open_here is not None:
            raise SessionClosed(
                N_("till {till} already has an open session ({session}); close it first"),
                params={"till": till.code, "session": open_here},
                field="till",
            )
        counted, detail = _denominations(float_detail, fair.currency)
        if float_amount is None:
            float_amount = counted
        elif type(float_amount) is not int or float_amount < 0:
            raise InvalidCount(
                N_("expected a float of 0 or more minor units"), field="float_amount"
            )
        elif detail and counted != float_amount:
            raise InvalidCount(
                N_("the denominations add up to {counted}, not {float}"),
                params={
                    "counted": str(Money(counted, fair.currency)),
                    "float": str(Money(float_amount, fair.currency)),
                },
                field="float_detail",
            )
        sid = (db.scalar(select(func.max(CashSession.id))) or 0) + 1
        body = {
            "session": sid,
            "fair": fair.id,
            "till": till.id,
            "user": user_id,
            "currency": fair.currency,
            "float": float_amount,
            "float_detail": detail,
        }
        appended = journal.append(db, "session_open", body, fair_id=fair.id, at=now, locked=locked)
        cs = CashSession(**session_row_from_body(body, appended.seq, now))
        db.add(cs)
        db.flush()
        return cs


def record_movement(
    engine: Engine,
    *,
    session_id: int,
    kind: str,
    amount: int,
    reason: str,
    user_id: int,
    currency_code: str | None = None,
    now: dt.datetime | None = None,
) -> CashMovement:
    """A paid-in or paid-out: cash put into or taken from the drawer, with its reason."""
    if kind not in MOVEMENT_KINDS:
        raise InvalidTender(
            N_("expected one of {kinds}"), params={"kinds": ", ".join(MOVEMENT_KINDS)}, field="kind"
        )
    if type(amount) is not int or amount <= 0:
        raise InvalidTender(N_("expected an amount greater than zero"), field="amount")
    if not (reason or "").strip():
        raise InvalidTender(N_("say why the cash moved"), field="reason")
    now = now or utcnow()
    with write_session(engine) as db:
        locked = journal.lock_head(db)  # the session cannot close before this is written
        cs = _get_open(db, session_id)
        code = currency_code or cs.currency
        try:
            currency(code)
        except MoneyError as exc:
            raise InvalidTender(str(exc), field="currency") from exc
        body = {
            "session": cs.id,
            "fair": cs.fair_id,
            "user": user_id,
            "amount": amount,
            "currency": code,
            "reason": reason.strip(),
        }
        appended = journal.append(db, kind, body, fair_id=cs.fair_id, at=now, locked=locked)
        mv = CashMovement(**movement_row_from_body(kind, body, appended.seq, now))
        db.add(mv)
        db.flush()
        return mv


def _get(db: Session, session_id: int) -> CashSession:
    cs = db.get(CashSession, session_id)
    if cs is None:
        raise SessionNotFound(
            N_("there is no cash session {session}"),
            params={"session": session_id},
            field="session",
        )
    return cs


def _get_open(db: Session, session_id: int) -> CashSession:
    cs = _get(db, session_id)
    if cs.closed_at is not None:
        raise SessionClosed(
            N_("cash session {session} is closed"), params={"session": session_id}, field="session"
        )
    return cs


def report(db: Session, session_id: int) -> dict[str, Any]:
    """The X-report: what the session has taken so far, and the cash that should be in the
    drawer. Amounts are minor units keyed by currency code."""
    cs = _get(db, session_id)
    by_method: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    expected: dict[str, int] = defaultdict(int)
    expected[cs.currency] += cs.float_amount
    for method, cur, applied, in_drawer in db.execute(
        select(Tender.method, Tender.currency, func.sum(Tender.applied), Tender.in_drawer)
        .join(Sale, Sale.id == Tender.sale_id)
        .where(Sale.session_id == cs.id)
        .group_by(Tender.method, Tender.currency, Tender.in_drawer)
    ):
        by_method[method][cur] += int(applied)
        if in_drawer:
            expected[cur] += int(applied)
    movements: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for kind, cur, amount in db.execute(
        select(CashMovement.kind, CashMovement.currency, func.sum(CashMovement.amount))
        .where(CashMovement.session_id == cs.id)
        .group_by(CashMovement.kind, CashMovement.currency)
    ):
        movements[kind][cur] += int(amount)
        expected[cur] += int(amount) if kind == "paid_in" else -int(amount)
    by_producer: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for pid, cur, gross in db.execute(
        select(Split.producer_id, Split.currency, func.sum(Split.gross))
        .join(Sale, Sale.id == Split.sale_id)
        .where(Sale.session_id == cs.id)
        .group_by(Split.producer_id, Split.currency)
    ):
        by_producer[str(pid)][cur] += int(gross)
    counts = {"sale": 0, "refund": 0, "void": 0}
    for kind, n in db.execute(
        select(Sale.kind, func.count()).where(Sale.session_id == cs.id).group_by(Sale.kind)
    ):
        counts[kind] = int(n)
    totals = {"sale": 0, "refund": 0, "void": 0}
    for kind, total in db.execute(
        select(Sale.kind, func.sum(Sale.total)).where(Sale.session_id == cs.id).group_by(Sale.kind)
    ):
        totals[kind] = int(total)
    return {
        "session": cs.id,
        "till": cs.till_id,
        "cashier": cs.cashier_id,
        "currency": cs.currency,
        "opened_at": cs.opened_at.isoformat(timespec="seconds"),
        "closed_at": cs.closed_at.isoformat(timespec="seconds") if cs.closed_at else None,
        "float": cs.float_amount,
        "by_method": {m: dict(v) for m, v in sorted(by_method.items())},
        "by_producer": {
            p: dict(v) for p, v in sorted(by_producer.items(), key=lambda i: int(i[0]))
        },
        "movements": {k: dict(v) for k, v in sorted(movements.items())},
        "counts": counts,
        "totals": totals,
        "expected_cash": dict(sorted(expected.items())),
        "counted_cash": cs.counted,
        "discrepancy": cs.discrepancy,
    }


def x_report(engine: Engine, session_id: int) -> dict[str, Any]:
    with read_session(engine) as db:
        return report(db, session_id)


def close_session(
    engine: Engine,
    pm: pluggy.PluginManager | None,
    *,
    session_id: int,
    user_id: int,
    counted: dict[str, int] | None = None,
    counted_detail: dict[str, int] | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Close a session with the cash counted in the drawer and return its Z-report.

    ``counted`` maps currency → minor units; ``counted_detail`` counts the fair currency by
    denomination instead. The discrepancy (counted − expected) is recorded, never corrected.
    """
    now = now or utcnow()
    with write_session(engine) as db:
        # Lock before reading the session's figures: a sale, refund or movement committed
        # after the report below would otherwise be missing from the Z-report.
        locked = journal.lock_head(db)
        cs = _get_open(db, session_id)
        if user_id != cs.cashier_id:
            from feria.accounts import User

            user = db.get(User, user_id)
            if user is None or user.role != "organizer":
                raise NotAllowed(
                    N_("only the session's cashier or an organizer can close it"), field="session"
                )
        counted_map: dict[str, int] = {}
        if counted_detail:
            counted_map[cs.currency], _ = _denominations(counted_detail, cs.currency)
        for code, amount in (counted or {}).items():
            if type(amount) is not int or amount < 0:
                raise InvalidCount(
                    N_("expected a counted amount of 0 or more {currency} minor units"),
                    params={"currency": code},
                    field=f"counted.{code}",
                )
            counted_map[code] = amount
        if not counted_map:
            raise InvalidCount(N_("count the cash in the drawer first"), field="counted")
        z = report(db, cs.id)
        expected = z["expected_cash"]
        codes = sorted(set(expected) | set(counted_map))
        counted_all = {c: counted_map.get(c, 0) for c in codes}
        discrepancy = {c: counted_all[c] - expected.get(c, 0) for c in codes}
        body = {
            "session": cs.id,
            "fair": cs.fair_id,
            "user": user_id,
            "expected": {c: expected.get(c, 0) for c in codes},
            "counted": counted_all,
            "discrepancy": discrepancy,
            "counted_detail": {str(k): v for k, v in (counted_detail or {}).items()},
        }
        appended = journal.append(
            db, "session_close", body, fair_id=cs.fair_id, at=now, locked=locked
        )
        db.execute(
            update(CashSession)
            .where(CashSession.id == cs.id)
            .values(**session_close_values(body, appended.seq, now))
        )
        z.update(
            closed_at=now.isoformat(timespec="seconds"),
            expected_cash=body["expected"],
            counted_cash=counted_all,
            discrepancy=discrepancy,
            seq=appended.seq,
            hash=appended.hash,
        )
    if pm is not None:
        with read_session(engine) as db:
            closed = db.get(CashSession, session_id)
        pm.hook.feria_cash_session_closed(session=closed, report=z)
        pm.hook.feria_journal_appended(
            entry_seq=appended.seq, kind="session_close", fair_id=closed.fair_id
        )
    return z


def add_till(
    db: Session, fair: Fair, code: str, name: str = "", printer: dict | None = None
) -> Till:
    code = (code or "").strip()
    if not code:
        raise InvalidTender(N_("a till needs a code"), field="code")
    if db.scalar(select(Till.id).where(Till.fair_id == fair.id, Till.code == code)):
        raise InvalidTender(
            N_("till {till} already exists at {fair}"),
            params={"till": code, "fair": fair.name},
            field="code",
        )
    till = Till(fair_id=fair.id, code=code, name=name or code, printer=printer or {})
    db.add(till)
    db.flush()
    return till
