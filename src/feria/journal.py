"""The journal: every money event, appended to one hash chain.

Each entry stores the *canonical bytes* of its event (JSON, keys sorted, no spaces, UTF-8,
integers and strings only; never floats) and ``hash = sha256(previous hash ‖ bytes)``.
Changing, removing or reordering any entry changes every hash after it, so anyone who noted
an earlier head hash (it is printed on every receipt and published by the API) detects even
a full rewrite of the database.

No code path updates or deletes an entry, and the database refuses it too (triggers added
by the migrations). Appends are serialized on the single ``journal_head`` row (``SELECT …
FOR UPDATE`` on PostgreSQL; SQLite's write lock, taken with ``BEGIN IMMEDIATE``), so several
tills and several app processes still build one linear chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    DateTime,
    Integer,
    LargeBinary,
    String,
    Text,
    bindparam,
    cast,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from feria.db import Base, connection_of
from feria.errors import FeriaError
from feria.prepared import Prepared, inserting

GENESIS = "0" * 64

ENTRY_KINDS = (
    "sale",
    "refund",
    "void",
    "session_open",
    "session_close",
    "paid_in",
    "paid_out",
    "payout",
    "payout_ack",
    "rule_version",
)
"""The kinds of entry feria itself writes. Plugins add their own with
:func:`register_entry_kind`."""

# Namespaced ``<plugin>.<event>``, so a plugin's kinds never collide with feria's or another
# plugin's; 32 characters at most, the width of the ``kind`` column.
_PLUGIN_KIND = re.compile(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*")
_plugin_kinds: set[str] = set()


class JournalEntry(Base):
    __tablename__ = "journal_entries"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(32))
    fair_id: Mapped[int | None] = mapped_column(Integer, index=True, nullable=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    body: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class JournalHead(Base):
    """The chain's last entry, kept on one row so appends can lock it."""

    __tablename__ = "journal_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64), default=GENESIS)


class JournalTampered(FeriaError):
    """The journal or a table derived from it is not what the chain says."""

    code = "journal_tampered"
    status = 500

    def __init__(self, seq: int | None, message: str) -> None:
        super().__init__(f"entry {seq}: {message}" if seq is not None else message, seq=seq)
        self.seq = seq


def register_entry_kind(kind: str) -> None:
    """Let a plugin append entries of its own ``kind`` (``social_currency.issue``).

    A plugin whose events move value (issuing a community currency, a transfer between
    member accounts) records them in this same chain, so ``feria verify`` covers them like
    any sale. The kind must be ``<plugin>.<event>`` in lower case, at most 32 characters;
    registering it again is harmless. ``feria verify`` checks these entries' place in the
    chain and reports them among the kinds whose rows it does not derive itself.
    """
    if not (isinstance(kind, str) and len(kind) <= 32 and _PLUGIN_KIND.fullmatch(kind)):
        raise ValueError(
            f"plugin journal entry kind {kind!r} must look like 'plugin.event' "
            "(lower case, at most 32 characters)"
        )
    _plugin_kinds.add(kind)


def canonical_bytes(event: dict[str, Any]) -> bytes:
    """The one serialization every entry is hashed over. Floats are refused: an amount is
    an int of minor units and a quantity is decimal text."""
    return json.dumps(
        event,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_refuse,
    ).encode("utf-8")


def _refuse(value: object) -> object:
    raise TypeError(f"journal events hold only ints, strings, lists and dicts, not {value!r}")


def _check_no_floats(value: object) -> None:
    """Refuse a float anywhere in ``value``. Every entry passes here, so it walks with a
    stack and tests the common exact types first (8× faster than recursing on isinstance)."""
    stack = [value]
    pop, extend = stack.pop, stack.extend
    while stack:
        v = pop()
        t = type(v)
        if t is str or t is int or t is bool or v is None:
            continue
        if t is dict:
            extend(v.values())  # type: ignore[union-attr]
        elif t is list or t is tuple:
            extend(v)  # type: ignore[arg-type]
        elif isinstance(v, float):
            raise TypeError(f"journal events never hold floats, got {v!r}")
        elif isinstance(v, dict):
            extend(v.values())
        elif isinstance(v, list | tuple):
            extend(v)


def chain_hash(prev_hash: str, body: bytes) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + body).hexdigest()


@dataclass(frozen=True, slots=True)
class Head:
    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class Appended:
    seq: int
    hash: str
    prev_hash: str


_INSERT_ENTRY = inserting(
    JournalEntry.__table__, ("seq", "kind", "fair_id", "at", "body", "prev_hash", "hash")
)
_MOVE_HEAD = Prepared(
    update(JournalHead)
    .where(JournalHead.id == 1)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)


_HEAD = select(JournalHead.seq, JournalHead.hash).where(JournalHead.id == 1)
_HEAD_FOR_UPDATE = _HEAD.with_for_update()
_READ_HEAD, _LOCK_HEAD = Prepared(_HEAD), Prepared(_HEAD_FOR_UPDATE)


def lock_head(db: Session | Connection) -> Head:
    """Take the append lock and return the current head.

    Everything written between this call and the commit is serialized with every other
    append, which is also what makes receipt numbers (``max + 1``) safe to assign.
    """
    conn = connection_of(db)
    postgres = conn.dialect.name == "postgresql"
    head_q = _HEAD_FOR_UPDATE if postgres else _HEAD
    row = (_LOCK_HEAD if postgres else _READ_HEAD).first(conn)
    if row is None:
        # First entry ever: the migration created the row, but be safe on a bare schema.
        conn.execute(insert(JournalHead).values(id=1, seq=0, hash=GENESIS))
        if postgres:
            conn.execute(head_q)
        return Head(0, GENESIS)
    return Head(row[0], row[1])


def append(
    db: Session | Connection,
    kind: str,
    event: dict[str, Any],
    *,
    fair_id: int | None,
    at: dt.datetime,
    locked: Head | None = None,
) -> Appended:
    """Append one event to the chain inside the caller's transaction.

    The caller writes the derived rows in the same transaction, so an entry and what it
    records are committed together or not at all. ``locked`` is the head returned by
    :func:`lock_head` when the caller already holds the lock.
    """
    if kind not in ENTRY_KINDS and kind not in _plugin_kinds:
        raise ValueError(f"unknown journal entry kind {kind!r}")
    if "kind" in event or "at" in event:  # they would silently replace the entry's own
        raise ValueError("an event cannot have fields named 'kind' or 'at': the entry has them")
    _check_no_floats(event)
    body = canonical_bytes({"kind": kind, "at": at.isoformat(timespec="microseconds"), **event})
    prev = locked if locked is not None else lock_head(db)
    seq = prev.seq + 1
    digest = chain_hash(prev.hash, body)
    conn = connection_of(db)
    _INSERT_ENTRY.run(
        conn,
        {
            "seq": seq,
            "kind": kind,
            "fair_id": fair_id,
            "at": at,
            "body": body.decode("utf-8"),
            "prev_hash": prev.hash,
            "hash": digest,
        },
    )
    _MOVE_HEAD.run(conn, {"new_seq": seq, "new_hash": digest})
    return Appended(seq=seq, hash=digest, prev_hash=prev.hash)


def head(db: Session) -> Head:
    """The published head: the last entry's position and hash."""
    row = db.execute(select(JournalHead.seq, JournalHead.hash).where(JournalHead.id == 1)).first()
    return Head(0, GENESIS) if row is None else Head(row[0], row[1])


def entries(db: Session, *, after: int = 0, limit: int = 100) -> list[JournalEntry]:
    return list(
        db.scalars(
            select(JournalEntry)
            .where(JournalEntry.seq > after)
            .order_by(JournalEntry.seq)
            .limit(limit)
        )
    )


def iter_raw(db: Session, batch: int = 20_000) -> Iterator[tuple[int, str, str, str, str]]:
    """Every entry in chain order as ``(seq, kind, body, prev_hash, hash)``, streamed."""
    last = 0
    conn = db.connection()
    while True:
        rows = conn.execute(
            select(
                JournalEntry.seq,
                JournalEntry.kind,
                JournalEntry.body,
                JournalEntry.prev_hash,
                JournalEntry.hash,
            )
            .where(JournalEntry.seq > last)
            .order_by(JournalEntry.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1][0]


def _body_bytes(dialect: str):
    """The body column as its UTF-8 bytes, converted by the database: hashing needs bytes,
    and decoding a million bodies to text only to encode them again is most of the work."""
    if dialect == "postgresql":
        return func.convert_to(JournalEntry.body, "UTF8")
    return cast(JournalEntry.body, LargeBinary)


def verify_chain(db: Session, batch: int = 50_000) -> Head:
    """Recompute the chain from the first entry; raise :class:`JournalTampered` naming the
    first entry that does not fit, else return the head it arrives at.

    The rows are read through the driver's own cursor, in the session's transaction (so in
    its snapshot): a million entries are a million rows, and building a SQLAlchemy row for
    each cost more than hashing it. The statement is still SQLAlchemy's, compiled once for
    the dialect.
    """
    expected_seq, prev = 1, GENESIS
    sha256 = hashlib.sha256
    fromhex = bytes.fromhex
    conn = db.connection()
    compiled = (
        select(
            JournalEntry.seq,
            _body_bytes(conn.dialect.name),
            JournalEntry.prev_hash,
            JournalEntry.hash,
        )
        .where(JournalEntry.seq > bindparam("after"))
        .order_by(JournalEntry.seq)
        .limit(batch)
        .compile(dialect=conn.dialect)
    )
    cursor = conn.connection.driver_connection.cursor()
    try:
        while True:
            params = compiled.construct_params({"after": expected_seq - 1})
            if compiled.positional:
                params = tuple(params[name] for name in compiled.positiontup)
            cursor.execute(compiled.string, params)
            rows = cursor.fetchall()
            if not rows:
                break
            for seq, body, prev_hash, digest in rows:
                if seq != expected_seq:
                    raise JournalTampered(
                        expected_seq, f"is missing (the next entry found is {seq})"
                    )
                if prev_hash != prev:
                    raise JournalTampered(seq, "does not point to the entry before it")
                if sha256(fromhex(prev) + body).hexdigest() != digest:
                    raise JournalTampered(seq, "its content does not match its hash")
                prev = digest
                expected_seq += 1
    finally:
        cursor.close()
    stored = head(db)
    last = Head(expected_seq - 1, prev)
    if stored != last:
        raise JournalTampered(
            stored.seq,
            f"the published head ({stored.seq}, {stored.hash[:12]}…) is not "
            f"the end of the chain ({last.seq}, {last.hash[:12]}…)",
        )
    return last
