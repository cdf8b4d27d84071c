"""``feria verify``: prove the record is what the journal says.

Two steps, in this order:

1. **The chain** (:func:`feria.journal.verify_chain`): every entry's hash is recomputed from
   the one before, so a changed, removed, reordered or inserted entry is found, and the
   published head must be the end of the chain. After this step every entry's body is
   authentic (up to the head someone noted down).
2. **The derived tables**: the rows of ``sales``, ``sale_lines``, ``tenders``, ``splits``,
   ``member_splits``, ``cash_sessions``, ``cash_movements``, ``payouts`` and
   ``rule_versions`` are what settlements and reports are computed from, and the chain does
   not cover them. So each entry's rows are derived again from its body and compared with
   the tables, in both directions: a row changed, a row missing, or a row with no entry
   behind it. The journal's own ``kind``, ``at`` and ``fair_id`` columns (outside the
   hash) are compared with the body as well.

The first difference raises :class:`feria.journal.JournalTampered` naming the entry (the
earliest one, in chain order) and what differs. Entries are read in batches and each batch's
rows with a few range queries, so memory stays flat and a million entries take seconds.

Sale-like entries are derived with the engine's own mapping (``sale_row_from_body`` and
``derived_rows`` of :mod:`feria.cashbox.sales`), payouts with
:func:`feria.settlement.payout_row_from_body`; nothing here decides what a sale's rows are.
"""

from __future__ import annotations

import bisect
import datetime as dt
import gc
import json
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import Engine, Table, or_, select
from sqlalchemy.orm import Session

from feria import journal
from feria.cashbox.models import (
    CashMovement,
    CashSession,
    MemberSplit,
    Payout,
    Sale,
    SaleLine,
    Split,
)
from feria.cashbox.models import Tender as TenderRow
from feria.cashbox.sales import derived_rows, sale_row_from_body
from feria.cashbox.sessions import (
    movement_row_from_body,
    session_close_values,
    session_row_from_body,
)
from feria.catalogue.models import RuleVersion
from feria.catalogue.rules import rule_row_from_body
from feria.journal import JournalEntry, JournalTampered
from feria.settlement import payout_ack_values, payout_row_from_body

__all__ = ["VerifyResult", "snapshot", "verify", "verify_chain_only", "verify_engine"]

BATCH = 20_000
SALE_KINDS = ("sale", "refund", "void")


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """What was verified: ``count`` entries up to ``head``; ``rows`` derived rows compared
    per table (empty for a chain-only check); ``unchecked_kinds`` entry kinds this version
    of feria derives no rows from (a newer feria may)."""

    count: int
    head: journal.Head
    rows: dict[str, int] = field(default_factory=dict)
    unchecked_kinds: tuple[str, ...] = ()
    chain_only: bool = False


class Entry(NamedTuple):
    seq: int
    kind: str
    at: dt.datetime  # from the body (authentic), not the column
    body: dict[str, Any]


class Problem(NamedTuple):
    seq: int | None
    message: str


# -- public ----------------------------------------------------------------------------------


def verify_chain_only(db: Session) -> VerifyResult:
    """Only the hash chain and the published head (the fast check)."""
    head = journal.verify_chain(db)
    return VerifyResult(count=head.seq, head=head, chain_only=True)


def verify(db: Session, *, batch: int = BATCH) -> VerifyResult:
    """Verify the chain, then every derived table against the entries.

    Run it in one consistent snapshot (see :func:`snapshot`), or sales recorded meanwhile
    may look like rows with no entry behind them.
    """
    head = journal.verify_chain(db)
    # The check makes millions of short-lived dicts and tuples, none in a cycle; the cycle
    # collector would rescan them over and over (it doubles the time), so it rests meanwhile.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _cross_check(db, head, batch)
    finally:
        if collecting:
            gc.enable()


def _cross_check(db: Session, head: journal.Head, batch: int) -> VerifyResult:
    checkers: list[_Checker] = [
        _SaleTables(db),
        _Sessions(db),
        _Movements(db),
        _Payouts(db),
        _Rules(db),
    ]
    derived = {kind for c in checkers for kind in c.kinds}
    unchecked: set[str] = set()
    for lo, hi, entries, problems in _batches(db, head.seq, batch):
        by_seq = {e.seq: e for e in entries}
        unchecked.update(e.kind for e in entries if e.kind not in derived)
        for checker in checkers:
            problems += checker.check(entries, by_seq, lo, hi)
        _raise_first(problems)
    problems = []
    for checker in checkers:
        problems += checker.finish(head)
    _raise_first(problems)
    rows: dict[str, int] = {}
    for checker in checkers:
        rows.update(checker.counted)
    return VerifyResult(
        count=head.seq,
        head=head,
        rows=dict(sorted(rows.items())),
        unchecked_kinds=tuple(sorted(unchecked)),
    )


@contextmanager
def snapshot(engine: Engine) -> Iterator[Session]:
    """A read-only session that sees one state of the database from its first read to the
    end (REPEATABLE READ on PostgreSQL; SQLite's WAL read transaction gives the same)."""
    if engine.dialect.name == "postgresql":
        engine = engine.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
    with Session(engine) as session:
        try:
            yield session
        finally:
            session.rollback()


def verify_engine(engine: Engine, *, chain_only: bool = False) -> VerifyResult:
    with snapshot(engine) as db:
        return verify_chain_only(db) if chain_only else verify(db)


# -- reading the entries ---------------------------------------------------------------------


def _batches(
    db: Session, last: int, size: int
) -> Iterator[tuple[int, int, list[Entry], list[Problem]]]:
    """``(lo, hi, entries, problems)`` with ``lo < seq <= hi`` for every entry up to
    ``last``; ``problems`` are entries whose own columns disagree with their body."""
    conn = db.connection()
    lo = 0
    loads, fromiso = json.loads, dt.datetime.fromisoformat
    while lo < last:
        hi = min(lo + size, last)
        entries, problems = [], []
        for seq, kind, fair_id, at, raw in conn.execute(
            select(
                JournalEntry.seq,
                JournalEntry.kind,
                JournalEntry.fair_id,
                JournalEntry.at,
                JournalEntry.body,
            )
            .where(JournalEntry.seq > lo, JournalEntry.seq <= hi)
            .order_by(JournalEntry.seq)
        ).all():
            body = loads(raw)
            when = fromiso(body["at"])
            # fair_id is compared when the body names a fair (every kind feria writes does)
            if kind != body["kind"] or at != when or fair_id != body.get("fair", fair_id):
                problems.append(Problem(seq, _column_difference(kind, fair_id, at, body, when)))
            entries.append(Entry(seq, body["kind"], when, body))
        yield lo, hi, entries, problems
        lo = hi


def _column_difference(
    kind: str, fair_id: int | None, at: dt.datetime, body: dict[str, Any], when: dt.datetime
) -> str:
    if kind != body["kind"]:
        return f"its kind column is {kind!r}, the entry says {body['kind']!r}"
    if at != when:
        return f"its at column is {at.isoformat()}, the entry says {when.isoformat()}"
    return f"its fair_id column is {fair_id}, the entry says {body.get('fair')}"


def _raise_first(problems: list[Problem]) -> None:
    if problems:
        first = min(problems, key=lambda p: (p.seq is None, p.seq or 0))
        raise JournalTampered(first.seq, first.message)


# -- comparing rows --------------------------------------------------------------------------


def _show(value: object) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def _difference(columns: Sequence[str], expected: Sequence[Any], actual: Sequence[Any]) -> str:
    for name, want, got in zip(columns, expected, actual, strict=True):
        if want != got:
            return f"{name} is {_show(got)}, the entry says {_show(want)}"
    return "differs from the entry"


def _columns(table: Table, *, skip: tuple[str, ...] = ()) -> list[str]:
    return [c.name for c in table.columns if c.name not in skip]


class _Checker:
    """Compares one family of derived tables with the entries that record them."""

    kinds: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.counted: dict[str, int] = {}

    def check(
        self, entries: list[Entry], by_seq: dict[int, Entry], lo: int, hi: int
    ) -> list[Problem]:
        return []

    def finish(self, head: journal.Head) -> list[Problem]:
        return []


# -- sales, refunds, voids -------------------------------------------------------------------


# Child tables of a sale: (model, natural key within the sale, how to name a row).
_CHILDREN: tuple[tuple[Any, tuple[str, ...], Callable[[dict[str, Any]], str]], ...] = (
    (SaleLine, ("line_no",), lambda r: f"sale_lines row for line {r['line_no']}"),
    (TenderRow, ("tender_no",), lambda r: f"tenders row for tender {r['tender_no']}"),
    (
        Split,
        ("producer_id", "tender_no"),
        lambda r: f"splits row for producer {r['producer_id']}, tender {r['tender_no']}",
    ),
    (
        MemberSplit,
        ("producer_id", "member_id", "currency"),
        lambda r: (
            f"member_splits row for member {r['member_id']} of producer {r['producer_id']}"
            f" ({r['currency']})"
        ),
    ),
)
_LISTS = ("lines", "tenders", "splits", "members")


def _derive(entries: list[Entry]) -> dict[str, list[dict[str, Any]]]:
    """The child rows of many sale-like entries, by the engine's own mapping."""
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in entries:
        for table, derived in derived_rows(e.body).items():
            rows[table].extend(derived)
    return rows


class _SaleTables(_Checker):
    kinds = SALE_KINDS

    def __init__(self, db: Session) -> None:
        super().__init__()
        self.conn = db.connection()
        self.upto = 0  # sale ids up to here have been compared
        self.sale_cols = _columns(Sale.__table__)
        self.sale_row = itemgetter(*self.sale_cols)
        self.seq_at = self.sale_cols.index("seq")
        self.children = []
        for model, key, name in _CHILDREN:
            cols = _columns(model.__table__, skip=("id",))
            # (sale id, natural key...) picked from a fetched row, from a derived row
            pick = itemgetter(0, *(cols.index(k) for k in key))
            self.children.append((model, cols, itemgetter(*cols), pick, name))
        self.counted = {"sales": 0, **{m.__tablename__: 0 for m, *_ in _CHILDREN}}

    def _fetch(self, model: Any, column: Any, cols: list[str], lo: int, hi: int, points):
        table = model.__table__
        cond = (column > lo) & (column <= hi)
        if points:
            cond = or_(cond, column.in_(points))
        rows = self.conn.execute(select(*(table.c[c] for c in cols)).where(cond)).all()
        return list(map(tuple, rows))  # plain tuples compare several times faster than Rows

    def check(self, entries, by_seq, lo, hi):
        sales = [e for e in entries if e.kind in SALE_KINDS]
        if not sales:
            return []
        seq_of = {e.body["sale"]: e.seq for e in sales}
        lo_id, hi_id = self.upto, max(self.upto, *seq_of)
        points = sorted(i for i in seq_of if i <= lo_id)  # only if ids ever went backwards
        self.upto = hi_id
        problems: list[Problem] = []

        # sales: one row per entry, compared whole
        actual = {r[0]: r for r in self._fetch(Sale, Sale.id, self.sale_cols, lo_id, hi_id, points)}
        self.counted["sales"] += len(actual)
        pick = self.sale_row
        for e in sales:
            sid = e.body["sale"]
            want = pick(sale_row_from_body(e.body, e.seq, e.at))
            got = actual.pop(sid, None)
            if got is None:
                problems.append(Problem(e.seq, f"its sales row {sid} is missing"))
                break
            if got != want:
                diff = _difference(self.sale_cols, want, got)
                problems.append(Problem(e.seq, f"sales row {sid}: {diff}"))
                break
        for sid, row in actual.items():
            if sid not in seq_of:
                problems.append(_orphan(f"sales row {sid}", row[self.seq_at], by_seq, lo, hi))

        # the child tables: every derived row, in entry order, against the fetched ones
        derived = _derive(sales)
        for model, cols, row_of, key_of, name in self.children:
            table = model.__tablename__
            rows = self._fetch(model, model.sale_id, cols, lo_id, hi_id, points)
            self.counted[table] += len(rows)
            found: dict[tuple, Any] = {}
            for r in rows:
                k = key_of(r)
                if k in found:
                    label = name(dict(zip(cols, r, strict=True)))
                    problems.append(Problem(seq_of.get(r[0]), f"there are two {label}s"))
                found[k] = r
            wanted = [row_of(d) for d in derived.get(table, ())]
            for want in wanted:
                got = found.get(key_of(want))
                if got is None or got != want:
                    label = name(dict(zip(cols, want, strict=True)))
                    what = (
                        f"its {label} is missing"
                        if got is None
                        else f"{label}: {_difference(cols, want, got)}"
                    )
                    problems.append(Problem(seq_of[want[0]], what))
                    break
            if len(found) != len(wanted) or any(r[0] not in seq_of for r in rows):
                expected = {key_of(w) for w in wanted}
                for k, r in found.items():
                    if k not in expected:
                        label = name(dict(zip(cols, r, strict=True)))
                        if r[0] in seq_of:
                            msg = f"there is a {label} the entry does not have"
                            problems.append(Problem(seq_of[r[0]], msg))
                        else:
                            msg = f"{label} of sale {r[0]} has no entry behind it"
                            problems.append(Problem(None, msg))
                        break
        return problems

    def finish(self, head):
        problems = []
        beyond = or_(Sale.id > self.upto, Sale.id < 1)
        for sid, seq in self.conn.execute(select(Sale.id, Sale.seq).where(beyond).limit(1)):
            claimed = {}
            if seq is not None and 1 <= seq <= head.seq:
                kind = self.conn.execute(
                    select(JournalEntry.kind).where(JournalEntry.seq == seq)
                ).scalar()
                claimed = {seq: Entry(seq, kind, dt.datetime.min, {})}
            problems.append(_orphan(f"sales row {sid}", seq, claimed, 0, head.seq))
        for model, *_ in self.children:
            col = model.sale_id
            for (sid,) in self.conn.execute(
                select(col).where(or_(col > self.upto, col < 1)).limit(1)
            ):
                problems.append(
                    Problem(None, f"{model.__tablename__} rows of sale {sid} have no entry")
                )
        return problems


def _orphan(what: str, seq: int | None, by_seq: dict[int, Entry], lo: int, hi: int) -> Problem:
    """A row that claims entry ``seq`` but that entry does not record it."""
    if seq is None:
        return Problem(None, f"{what} has no entry behind it")
    entry = by_seq.get(seq)
    if entry is not None:
        return Problem(
            seq, f"{what} claims this entry, but it is a {entry.kind} that does not record it"
        )
    if lo < seq <= hi:
        return Problem(seq, f"{what} claims this entry, which does not record it")
    return Problem(seq, f"{what} claims this entry, which does not exist")


# -- the small tables: loaded whole, matched entry by entry ------------------------------------


class _Claims:
    """Rows of a table that name the entry recording them (``open_seq``, ``seq``, …); a
    claim on an entry that does not record that row is a row with no entry behind it."""

    def __init__(self) -> None:
        self.items: list[tuple[int, str, tuple[str, ...], str | None, Any]] = []

    def add(self, seq: int | None, what: str, kinds: tuple[str, ...], key: str | None, ident):
        if seq is not None:
            self.items.append((seq, what, kinds, key, ident))

    def ready(self) -> None:
        self.items.sort(key=lambda c: c[0])
        self.seqs = [c[0] for c in self.items]

    def check(self, by_seq: dict[int, Entry], lo: int, hi: int) -> list[Problem]:
        a, b = bisect.bisect_right(self.seqs, lo), bisect.bisect_right(self.seqs, hi)
        out = []
        for seq, what, kinds, key, ident in self.items[a:b]:
            e = by_seq.get(seq)
            if e is None or e.kind not in kinds or (key is not None and e.body[key] != ident):
                out.append(_orphan(what, seq, by_seq, lo, hi))
        return out

    def outside(self, head: journal.Head) -> list[Problem]:
        return [
            _orphan(what, seq, {}, 0, head.seq)
            for seq, what, _k, _key, _i in self.items
            if not 1 <= seq <= head.seq
        ]


def _load(db: Session, table: Table) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in db.connection().execute(select(table))]


def _compare(seq: int, what: str, want: dict[str, Any], got: dict[str, Any] | None) -> list:
    if got is None:
        return [Problem(seq, f"its {what} is missing")]
    cols = list(want)
    expected = [want[c] for c in cols]
    actual = [got[c] for c in cols]
    if expected != actual:
        return [Problem(seq, f"{what}: {_difference(cols, expected, actual)}")]
    return []


class _Sessions(_Checker):
    kinds = ("session_open", "session_close")
    CLOSE = ("closed_at", "expected", "counted", "discrepancy", "close_seq")

    def __init__(self, db: Session) -> None:
        super().__init__()
        self.rows = {r["id"]: r for r in _load(db, CashSession.__table__)}
        self.counted = {"cash_sessions": len(self.rows)}
        self.opened: set[int] = set()
        self.closed: set[int] = set()
        self.claims = _Claims()
        for r in self.rows.values():
            what = f"cash_sessions row {r['id']}"
            self.claims.add(r["open_seq"], what, ("session_open",), "session", r["id"])
            self.claims.add(r["close_seq"], what, ("session_close",), "session", r["id"])
        self.claims.ready()

    def check(self, entries, by_seq, lo, hi):
        problems = []
        for e in entries:
            if e.kind not in self.kinds:
                continue
            b = e.body
            sid = b["session"]
            row = self.rows.get(sid)
            if e.kind == "session_open":
                self.opened.add(sid)
                want = session_row_from_body(b, e.seq, e.at)
            else:
                self.closed.add(sid)
                want = session_close_values(b, e.seq, e.at)
            problems += _compare(e.seq, f"cash_sessions row {sid}", want, row)
            if problems:
                break
        return problems + self.claims.check(by_seq, lo, hi)

    def finish(self, head):
        problems = self.claims.outside(head)
        for sid, row in sorted(self.rows.items()):
            if sid not in self.opened:
                problems.append(
                    Problem(row["open_seq"], f"cash_sessions row {sid} has no entry behind it")
                )
            elif sid not in self.closed and any(row[c] is not None for c in self.CLOSE):
                problems.append(
                    Problem(
                        row["close_seq"] or row["open_seq"],
                        f"cash_sessions row {sid} is closed, but no entry closes it",
                    )
                )
        return problems


class _Movements(_Checker):
    kinds = ("paid_in", "paid_out")

    def __init__(self, db: Session) -> None:
        super().__init__()
        self.by_seq: dict[int, list[dict[str, Any]]] = defaultdict(list)
        rows = _load(db, CashMovement.__table__)
        self.counted = {"cash_movements": len(rows)}
        self.claims = _Claims()
        for r in rows:
            self.by_seq[r["seq"]].append(r)
            self.claims.add(r["seq"], f"cash_movements row {r['id']}", self.kinds, None, None)
        self.claims.ready()

    def check(self, entries, by_seq, lo, hi):
        problems = []
        for e in entries:
            if e.kind not in self.kinds:
                continue
            b = e.body
            rows = self.by_seq.get(e.seq, [])
            if len(rows) > 1:
                problems.append(Problem(e.seq, "there are two cash_movements rows for it"))
                break
            want = movement_row_from_body(e.kind, b, e.seq, e.at)
            problems += _compare(e.seq, "cash_movements row", want, rows[0] if rows else None)
            if problems:
                break
        return problems + self.claims.check(by_seq, lo, hi)

    def finish(self, head):
        return self.claims.outside(head)


class _Payouts(_Checker):
    kinds = ("payout", "payout_ack")
    ACK = ("acknowledged_at", "acknowledged_by", "ack_seq")

    def __init__(self, db: Session) -> None:
        super().__init__()
        self.rows = {r["id"]: r for r in _load(db, Payout.__table__)}
        self.counted = {"payouts": len(self.rows)}
        self.paid: set[int] = set()
        self.acked: set[int] = set()
        self.claims = _Claims()
        for r in self.rows.values():
            what = f"payouts row {r['id']}"
            self.claims.add(r["seq"], what, ("payout",), "payout", r["id"])
            self.claims.add(r["ack_seq"], what, ("payout_ack",), "payout", r["id"])
        self.claims.ready()

    def check(self, entries, by_seq, lo, hi):
        problems = []
        for e in entries:
            if e.kind not in self.kinds:
                continue
            pid = e.body["payout"]
            if e.kind == "payout":
                self.paid.add(pid)
                want = payout_row_from_body(e.body, e.seq, e.at)
            else:
                self.acked.add(pid)
                want = payout_ack_values(e.body, e.seq, e.at)
            problems += _compare(e.seq, f"payouts row {pid}", want, self.rows.get(pid))
            if problems:
                break
        return problems + self.claims.check(by_seq, lo, hi)

    def finish(self, head):
        problems = self.claims.outside(head)
        for pid, row in sorted(self.rows.items()):
            if pid not in self.paid:
                problems.append(Problem(row["seq"], f"payouts row {pid} has no entry behind it"))
            elif pid not in self.acked and any(row[c] is not None for c in self.ACK):
                problems.append(
                    Problem(
                        row["ack_seq"] or row["seq"],
                        f"payouts row {pid} is acknowledged, but no entry acknowledges it",
                    )
                )
        return problems


class _Rules(_Checker):
    kinds = ("rule_version",)

    def __init__(self, db: Session) -> None:
        super().__init__()
        self.rows = {r["id"]: r for r in _load(db, RuleVersion.__table__)}
        self.counted = {"rule_versions": len(self.rows)}
        self.seen: set[int] = set()

    def check(self, entries, by_seq, lo, hi):
        problems = []
        for e in entries:
            if e.kind != "rule_version":
                continue
            b = e.body
            rid = b["rule"]
            self.seen.add(rid)
            want = rule_row_from_body(b, e.at)
            problems += _compare(e.seq, f"rule_versions row {rid}", want, self.rows.get(rid))
            if problems:
                break
        return problems

    def finish(self, head):
        return [
            Problem(None, f"rule_versions row {rid} (version {row['version']}) has no entry")
            for rid, row in sorted(self.rows.items())
            if rid not in self.seen
        ]
