"""Recording a sale at the caja común: one atomic transaction that resolves the lines,
takes the tenders, splits the money among producers, appends the journal entry and writes
the rows derived from it.

A till may resend a sale after a timeout or a crash: every sale carries a client-chosen
idempotency key, and the same key with the same content returns the first sale instead of
recording a second one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import pluggy
from sqlalchemy import Connection, Engine, bindparam, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from feria import journal
from feria.cashbox.errors import (
    IdempotencyConflict,
    InsufficientPayment,
    InvalidLine,
    InvalidTender,
    Overpayment,
    PaymentRefused,
    SessionClosed,
    SessionNotFound,
    UnknownPaymentMethod,
    UnknownProducer,
    UnknownProduct,
)
from feria.cashbox.models import CashSession, Sale, SaleLine, Split, Tender, Till
from feria.cashbox.split import TenderShare, basis_points, split_members, split_sale
from feria.catalogue.models import (
    WEIGHED_UNITS,
    Fair,
    Member,
    Participation,
    Producer,
    Product,
    RuleVersion,
    utcnow,
)
from feria.catalogue.rules import rule_in_force
from feria.db import Base, as_loaded, connection_of, write_connection
from feria.i18n import N_
from feria.money import Money, MoneyError, convert, currency, line_total
from feria.payments import SECRET_DATA_KEYS, PaymentMethod, SaleInfo, TenderInfo
from feria.prepared import Prepared, inserting

MAX_LINES = 500
MAX_TENDERS = 20


@dataclass(frozen=True, slots=True)
class LineRequest:
    """One line as the till sends it.

    A catalogue line names the product (``product_id``, or ``barcode``/``sku``) and a
    quantity; a free line names the producer by code and its amount in the fair currency.
    """

    product_id: int | None = None
    barcode: str | None = None
    sku: str | None = None
    quantity: Decimal | str | int = 1
    producer_code: str | None = None
    amount: int | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class TenderRequest:
    """One tender: ``amount`` minor units of ``currency`` (default: the fair's) by ``method``."""

    method: str
    amount: int
    currency: str | None = None
    reference: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class RecordedSale:
    """A sale as recorded: the journal entry's content plus where it sits in the chain."""

    id: int
    seq: int
    hash: str
    replayed: bool
    body: dict[str, Any]

    @property
    def total(self) -> Money:
        return Money(self.body["total"], self.body["currency"])

    @property
    def change(self) -> Money:
        return Money(sum(t["change"] for t in self.body["tenders"]), self.body["currency"])


# -- request fingerprint -------------------------------------------------------------------


def public_data(data: dict[str, Any]) -> dict[str, Any]:
    """Tender data without its secrets (see :data:`feria.payments.SECRET_DATA_KEYS`)."""
    return {k: v for k, v in data.items() if k.lower() not in SECRET_DATA_KEYS}


def fingerprint(payload: dict[str, Any]) -> str:
    """A digest of what the till asked for, to tell a resend from a different sale.

    It is stored in the journal, so it never covers a secret (a PIN would be found back by
    trying the 10,000 of them): tender data goes in through :func:`public_data`."""
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def _request_payload(
    session_id: int | None,
    fair_id: int | None,
    lines: Sequence[LineRequest],
    tenders: Sequence[TenderRequest],
) -> dict[str, Any]:
    return {
        "session": session_id,
        "fair": fair_id,
        "lines": [
            [
                ln.product_id,
                ln.barcode,
                ln.sku,
                str(ln.quantity),
                ln.producer_code,
                ln.amount,
                ln.description,
            ]
            for ln in lines
        ],
        "tenders": [
            [t.method, t.amount, t.currency, t.reference, public_data(t.data)] for t in tenders
        ],
    }


# -- helpers shared with refunds -------------------------------------------------------------


def payment_methods(pm: pluggy.PluginManager, fair: Fair) -> dict[str, PaymentMethod]:
    """Every payment method the loaded plugins offer at ``fair``, by code."""
    methods: dict[str, PaymentMethod] = {}
    for offered in pm.hook.feria_payment_methods(fair=fair):
        for method in offered or ():
            if method.is_available(fair):
                methods.setdefault(method.code, method)
    return methods


# The hot path's statements are compiled once and run on the driver's cursor (see
# :mod:`feria.prepared`): SQLAlchemy's per-execute bookkeeping cost more than the SQL.
_EXISTING = Prepared(
    select(Sale.id, Sale.fingerprint, Sale.seq).where(Sale.idempotency_key == bindparam("key"))
)
_ENTRY = Prepared(
    select(journal.JournalEntry.hash, journal.JournalEntry.body).where(
        journal.JournalEntry.seq == bindparam("seq")
    )
)
_SESSION = Prepared(
    select(
        CashSession.id,
        CashSession.fair_id,
        CashSession.till_id,
        CashSession.cashier_id,
        CashSession.closed_at,
    ).where(CashSession.id == bindparam("id"))
)
# A till's sale reads its session and its fair in one statement.
_SESSION_FAIR = Prepared(
    select(
        CashSession.id.label("session_id"),
        CashSession.till_id.label("session_till_id"),
        CashSession.cashier_id.label("session_cashier_id"),
        CashSession.closed_at.label("session_closed_at"),
        Till.fair_id.label("till_fair_id"),
        Till.code.label("till_code"),
        Till.name.label("till_name"),
        Till.printer.label("till_printer"),
        Fair.__table__,
    )
    .join(Fair, Fair.id == CashSession.fair_id)
    .join(Till, Till.id == CashSession.till_id)
    .where(CashSession.id == bindparam("id"))
)
_FAIR = Prepared(select(Fair.__table__).where(Fair.id == bindparam("id")))
_NEXT_SALE = Prepared(select(func.max(Sale.id)))


def _in(column, name: str, count: int):
    """``column IN (:name_0, …)`` with ``count`` parameters (a prepared statement has no
    expanding lists: one is compiled per count, and a sale has few lines)."""
    return column.in_([bindparam(f"{name}_{i}") for i in range(count)])


def _numbered(name: str, values) -> dict[str, Any]:
    return {f"{name}_{i}": v for i, v in enumerate(values)}


@lru_cache(maxsize=256)
def _products(ids: int, barcodes: int, skus: int) -> Prepared:
    wanted = []
    if ids:
        wanted.append(_in(Product.id, "id", ids))
    if barcodes:
        wanted.append(_in(Product.barcode, "barcode", barcodes))
    if skus:
        wanted.append(_in(Product.sku, "sku", skus))
    return Prepared(
        select(
            Product.id,
            Product.producer_id,
            Product.sku,
            Product.barcode,
            Product.name,
            Product.unit,
            Product.price,
            Product.currency,
            Product.active,
            Producer.kind,
            Participation.producer_id.is_not(None).label("participating"),
        )
        .join(Producer, Producer.id == Product.producer_id)
        .outerjoin(
            Participation,
            (Participation.producer_id == Product.producer_id)
            & (Participation.fair_id == bindparam("fair")),
        )
        .where(or_(*wanted), Producer.network_id == bindparam("network"))
    )


@lru_cache(maxsize=64)
def _producers_by_code(codes: int) -> Prepared:
    return Prepared(
        select(
            Producer.code,
            Producer.id,
            Producer.kind,
            Participation.producer_id.is_not(None).label("participating"),
        )
        .outerjoin(
            Participation,
            (Participation.producer_id == Producer.id)
            & (Participation.fair_id == bindparam("fair")),
        )
        .where(
            Producer.network_id == bindparam("network"),
            _in(func.upper(Producer.code), "code", codes),
            Producer.active.is_(True),
        )
    )


@lru_cache(maxsize=64)
def _members(producers: int) -> Prepared:
    return Prepared(
        select(Member.producer_id, Member.id, Member.share_bp)
        .join(Producer, Producer.id == Member.producer_id)
        .where(_in(Member.producer_id, "id", producers), Producer.kind == "cooperative")
        .order_by(Member.producer_id, Member.id)
    )


def _existing(db: Session | Connection, key: str, fp: str) -> RecordedSale | None:
    conn = connection_of(db)
    row = _EXISTING.first(conn, {"key": key})
    if row is None:
        return None
    sale_id, stored_fp, seq = row
    if stored_fp != fp:
        raise IdempotencyConflict(
            N_(
                "idempotency key {key} was already used for a different sale (number {sale}); "
                "use a new key for a new sale"
            ),
            params={"key": repr(key), "sale": sale_id},
            field="key",
            sale=sale_id,
        )
    digest, body = _ENTRY.first(conn, {"seq": seq})
    return RecordedSale(sale_id, seq, digest, True, json.loads(body))


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not 8 <= len(key) <= 128 or not key.isprintable():
        raise InvalidTender(
            N_("expected an idempotency key of 8 to 128 printable characters (a UUID is ideal)"),
            field="key",
        )


def _quantity(raw: Decimal | str | int, index: int) -> Decimal:
    try:
        q = Decimal(str(raw).strip().replace(",", "."))
    except InvalidOperation as exc:
        raise InvalidLine(
            N_("{quantity} is not a quantity"),
            params={"quantity": repr(raw)},
            field=f"lines[{index}].quantity",
        ) from exc
    if not q.is_finite() or q <= 0 or q > 1_000_000:
        raise InvalidLine(
            N_("expected a quantity greater than 0"), field=f"lines[{index}].quantity"
        )
    if q != q.quantize(Decimal("0.001")):
        raise InvalidLine(
            N_("expected at most 3 decimals (grams of a kilo)"), field=f"lines[{index}].quantity"
        )
    # One spelling per quantity ("1.2350" and "1.235" are the same weight).
    q = q.normalize()
    return q.quantize(Decimal(1)) if q == q.to_integral_value() else q


def _next_sale_id(db: Session | Connection) -> int:
    return (_NEXT_SALE.first(connection_of(db))[0] or 0) + 1


def derived_rows(body: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The child rows a sale-like journal entry records, by table name.

    The single mapping from an entry's content to tables, shared by sales, refunds and voids
    when they are written and by ``feria verify`` when it re-derives them.
    """
    sid = body["sale"]
    return {
        "sale_lines": [
            {
                "sale_id": sid,
                "line_no": ln["no"],
                "producer_id": ln["producer"],
                "product_id": ln["product"],
                "description": ln["description"],
                "quantity": ln["quantity"],
                "unit": ln["unit"],
                "unit_price": ln["unit_price"],
                "total": ln["total"],
                "refers_line": ln.get("refers_line"),
            }
            for ln in body["lines"]
        ],
        "tenders": [
            {
                "sale_id": sid,
                "tender_no": t["no"],
                "method": t["method"],
                "currency": t["currency"],
                "amount": t["amount"],
                "change": t["change"],
                "applied": t["applied"],
                "rate": t["rate"],
                "value": t["value"],
                "fee": t["fee"],
                "in_drawer": t["in_drawer"],
                "reference": t["reference"],
                "data": t["data"],
            }
            for t in body["tenders"]
        ],
        "splits": [
            {
                "sale_id": sid,
                "tender_no": sp[0],
                "producer_id": sp[1],
                "currency": sp[2],
                "gross": sp[3],
                "withheld": sp[4],
                "fee": sp[5],
                "net": sp[6],
            }
            for sp in body["splits"]
        ],
        "member_splits": [
            {
                "sale_id": sid,
                "producer_id": m[0],
                "member_id": m[1],
                "currency": m[2],
                "amount": m[3],
            }
            for m in body["members"]
        ],
    }


def _insert_rows(db: Session | Connection, sale_row: dict[str, Any], body: dict[str, Any]) -> None:
    """Write the sale row and the rows derived from its entry (see :func:`derived_rows`)."""
    conn = connection_of(db)
    inserting(Sale.__table__, tuple(sale_row)).run(conn, sale_row)
    for table, rows in derived_rows(body).items():
        if rows:
            inserting(Base.metadata.tables[table], tuple(rows[0])).run_many(conn, rows)


def sale_row_from_body(body: dict[str, Any], seq: int, at: dt.datetime) -> dict[str, Any]:
    return {
        "id": body["sale"],
        "kind": body["kind"],
        "fair_id": body["fair"],
        "session_id": body["session"],
        "user_id": body["user"],
        "refers_to": body.get("refers_to"),
        "idempotency_key": body["key"],
        "fingerprint": body["fingerprint"],
        "rule_version_id": body["rule"],
        "currency": body["currency"],
        "total": body["total"],
        "at": at,
        "seq": seq,
    }


def member_shares(
    db: Session | Connection, producer_ids: Sequence[int]
) -> dict[int, list[tuple[int, int]]]:
    shares: dict[int, list[tuple[int, int]]] = defaultdict(list)
    ids = list(producer_ids)
    for pid, mid, bp in _members(len(ids)).all(connection_of(db), _numbered("id", ids)):
        shares[pid].append((mid, bp))
    return shares


def splits_with_members(
    db: Session | Connection, split_rows: list, cooperatives: set[int] | None = None
) -> tuple[list[list[Any]], list[list[Any]]]:
    """The entry's ``splits`` and ``members`` lists. ``cooperatives``, when the caller
    knows them, spares the members' query for the many sales that involve none."""
    splits = [
        [s.tender_no, s.producer_id, s.currency, s.gross, s.withheld, s.fee, s.net]
        for s in split_rows
    ]
    net: dict[tuple[int, str], int] = defaultdict(int)
    for s in split_rows:
        net[(s.producer_id, s.currency)] += s.net
    producers = {s.producer_id for s in split_rows}
    if cooperatives is not None:
        producers &= cooperatives
    shares = member_shares(db, sorted(producers)) if producers else {}
    members = [list(m) for m in split_members(net, shares)] if shares else []
    return splits, members


def commit_entry(
    db: Session | Connection,
    kind: str,
    body: dict[str, Any],
    at: dt.datetime,
    locked: journal.Head,
) -> RecordedSale:
    appended = journal.append(db, kind, body, fair_id=body["fair"], at=at, locked=locked)
    full = {"kind": kind, "at": at.isoformat(timespec="microseconds"), **body}
    _insert_rows(db, sale_row_from_body(full, appended.seq, at), full)
    return RecordedSale(body["sale"], appended.seq, appended.hash, False, full)


# -- recording a sale ---------------------------------------------------------------------------


def record_sale(
    engine: Engine,
    pm: pluggy.PluginManager,
    *,
    key: str,
    lines: Sequence[LineRequest],
    tenders: Sequence[TenderRequest],
    session_id: int | None = None,
    fair_id: int | None = None,
    user_id: int | None = None,
    now: dt.datetime | None = None,
) -> RecordedSale:
    """Record one sale atomically and return it; a resend with the same key returns the
    first recording (``replayed=True``).

    At a till, ``session_id`` names the open cash session; an online order passes
    ``fair_id`` instead. Raises a :class:`feria.errors.FeriaError` subclass naming the
    field at fault on any refusal, and then nothing is written.
    """
    _check_key(key)
    if not lines:
        raise InvalidLine(N_("a sale needs at least one line"), field="lines")
    if len(lines) > MAX_LINES:
        raise InvalidLine(
            N_("a sale has at most {count} lines"), params={"count": MAX_LINES}, field="lines"
        )
    if not tenders:
        raise InvalidTender(N_("a sale needs at least one tender"), field="tenders")
    if len(tenders) > MAX_TENDERS:
        raise InvalidTender(
            N_("a sale has at most {count} tenders"), params={"count": MAX_TENDERS}, field="tenders"
        )
    if session_id is None and fair_id is None:
        raise InvalidTender(N_("a sale needs a cash session or a fair"), field="session")
    fp = fingerprint(_request_payload(session_id, fair_id, lines, tenders))
    try:
        with write_connection(engine) as conn:
            existing = _existing(conn, key, fp)
            if existing is not None:
                return existing
            recorded, fair, till, captures = _record(
                conn, pm, key, fp, lines, tenders, session_id, fair_id, user_id, now or utcnow()
            )
    except IntegrityError:
        # Another process recorded the same key between our check and our insert.
        with write_connection(engine) as conn:
            existing = _existing(conn, key, fp)
        if existing is None:
            raise
        return existing
    for method, tinfo, sinfo in captures:
        method.captured(tinfo, sinfo)
    if pm.hook.feria_sale_recorded.get_hookimpls():
        pm.hook.feria_sale_recorded(
            sale=sale_from_entry(recorded), fair=fair, till=till and as_loaded(Till, till)
        )
    pm.hook.feria_journal_appended(entry_seq=recorded.seq, kind="sale", fair_id=fair.id)
    return recorded


def sale_from_entry(recorded: RecordedSale) -> Sale:
    """The :class:`Sale` row of a sale-like entry just written, with its lines, tenders and
    splits, built from the entry instead of read back.

    The hooks after a sale get a complete row; reading it back took longer than recording
    the sale. The objects are transient (in no session) and equal, column by column, to
    what a read would load: both come from :func:`derived_rows`.
    """
    body = recorded.body
    rows = derived_rows(body)
    at = dt.datetime.fromisoformat(body["at"])
    sale = as_loaded(Sale, sale_row_from_body(body, recorded.seq, at))
    set_committed_value(sale, "lines", [as_loaded(SaleLine, r) for r in rows["sale_lines"]])
    set_committed_value(sale, "tenders", [as_loaded(Tender, r) for r in rows["tenders"]])
    set_committed_value(sale, "splits", [as_loaded(Split, r) for r in rows["splits"]])
    return sale


@dataclass(frozen=True, slots=True)
class _SessionRow:
    id: int
    fair_id: int
    till_id: int
    cashier_id: int


def _open_session(db: Session | Connection, session_id: int):
    cs = _SESSION.first(connection_of(db), {"id": session_id})
    if cs is None:
        raise SessionNotFound(
            N_("there is no cash session {session}"),
            params={"session": session_id},
            field="session",
        )
    if cs.closed_at is not None:
        raise SessionClosed(
            N_("cash session {session} was closed at {time}; open a new one"),
            params={"session": session_id, "time": f"{cs.closed_at:%H:%M}"},
            field="session",
        )
    return cs


def _note_producer(
    pid: int, kind: str, takes_part: bool, participating: set[int], cooperatives: set[int]
) -> None:
    if takes_part:
        participating.add(pid)
    if kind == "cooperative":
        cooperatives.add(pid)


def _resolve_lines(
    conn: Connection, fair: Fair, lines: Sequence[LineRequest]
) -> tuple[list[dict[str, Any]], set[int]]:
    """Turn the till's lines into priced lines, refusing anything not for sale here; also
    say which of their producers are cooperatives (their shares are split further)."""
    ids = {ln.product_id for ln in lines if ln.product_id is not None}
    barcodes = {ln.barcode for ln in lines if ln.barcode}
    skus = {ln.sku for ln in lines if ln.sku}
    codes = {ln.producer_code.strip().upper() for ln in lines if ln.producer_code}
    products: dict[Any, Any] = {}
    participating: set[int] = set()
    cooperatives: set[int] = set()
    if ids or barcodes or skus:
        for p in _products(len(ids), len(barcodes), len(skus)).all(
            conn,
            {
                **_numbered("id", ids),
                **_numbered("barcode", barcodes),
                **_numbered("sku", skus),
                "network": fair.network_id,
                "fair": fair.id,
            },
        ):
            products[("id", p.id)] = p
            if p.barcode:
                products[("barcode", p.barcode)] = p
            products.setdefault(("sku", p.sku), p)
            _note_producer(p.producer_id, p.kind, p.participating, participating, cooperatives)
    producers_by_code: dict[str, int] = {}
    if codes:
        for code, pid, kind, takes_part in _producers_by_code(len(codes)).all(
            conn, {**_numbered("code", codes), "network": fair.network_id, "fair": fair.id}
        ):
            producers_by_code[code.upper()] = pid
            _note_producer(pid, kind, takes_part, participating, cooperatives)
    out = []
    for i, ln in enumerate(lines):
        f = f"lines[{i}]"
        if ln.producer_code is not None:
            if ln.product_id or ln.barcode or ln.sku:
                raise InvalidLine(
                    N_("a line is either a product or a free line by producer code, not both"),
                    field=f,
                )
            code = ln.producer_code.strip().upper()
            pid = producers_by_code.get(code)
            if pid is None:
                raise UnknownProducer(
                    N_("no active producer has code {code}"),
                    params={"code": repr(ln.producer_code)},
                    field=f"{f}.producer_code",
                )
            if pid not in participating:
                raise UnknownProducer(
                    N_("producer {code} does not sell at {fair}"),
                    params={"code": code, "fair": fair.name},
                    field=f"{f}.producer_code",
                )
            if type(ln.amount) is not int or ln.amount <= 0:
                raise InvalidLine(
                    N_("expected a positive amount in {currency} minor units"),
                    params={"currency": fair.currency},
                    field=f"{f}.amount",
                )
            q = _quantity(ln.quantity, i)
            total = line_total(q, Money(ln.amount, fair.currency)).amount
            out.append(
                {
                    "no": i + 1,
                    "producer": pid,
                    "product": None,
                    "description": (ln.description or "").strip()[:300],
                    "quantity": str(q),
                    "unit": "piece",
                    "unit_price": ln.amount,
                    "total": total,
                }
            )
            continue
        if ln.product_id is not None:
            product = products.get(("id", ln.product_id))
            missing, ref = N_("product {ref} is not in the catalogue"), ln.product_id
        elif ln.barcode:
            product = products.get(("barcode", ln.barcode))
            missing, ref = N_("barcode {ref} is not in the catalogue"), ln.barcode
        elif ln.sku:
            product = products.get(("sku", ln.sku))
            missing, ref = N_("SKU {ref} is not in the catalogue"), ln.sku
        else:
            raise InvalidLine(
                N_("expected a product (product_id, barcode or sku) or a producer_code and amount"),
                field=f,
            )
        if product is None or not product.active:
            raise UnknownProduct(missing, params={"ref": ref}, field=f)
        if product.producer_id not in participating:
            raise UnknownProduct(
                N_("{product} is not sold at {fair}"),
                params={"product": product.name, "fair": fair.name},
                field=f,
            )
        if product.currency != fair.currency:
            raise InvalidLine(
                N_("{product} is priced in {currency}, the fair sells in {fair_currency}"),
                params={
                    "product": product.name,
                    "currency": product.currency,
                    "fair_currency": fair.currency,
                },
                field=f,
            )
        q = _quantity(ln.quantity, i)
        if product.unit not in WEIGHED_UNITS and q != q.to_integral_value():
            raise InvalidLine(
                N_("{product} is sold by the piece: expected a whole quantity"),
                params={"product": product.name},
                field=f"{f}.quantity",
            )
        total = line_total(q, Money(product.price, product.currency)).amount
        out.append(
            {
                "no": i + 1,
                "producer": product.producer_id,
                "product": product.id,
                "description": (ln.description or product.name).strip()[:300],
                "quantity": str(q),
                "unit": product.unit,
                "unit_price": product.price,
                "total": total,
            }
        )
    return out, cooperatives


def _rate(rule: RuleVersion, fair: Fair, code: str, field_name: str) -> Decimal:
    if code == fair.currency:
        return Decimal(1)
    raw = (rule.rates or {}).get(code)
    if raw is None:
        raise InvalidTender(
            N_(
                "{fair} states no rate for {currency}: the rule in force (version {version}) "
                "accepts {currencies}"
            ),
            params={
                "fair": fair.name,
                "currency": code,
                "version": rule.version,
                "currencies": ", ".join([fair.currency, *sorted(rule.rates or {})]),
            },
            field=field_name,
        )
    return Decimal(raw)


def _rule_fee(rule: RuleVersion, fair: Fair, method: str, applied: Money, rate: Decimal) -> int:
    fee = (rule.fees or {}).get(method)
    if not fee or applied.amount <= 0:
        return 0
    fixed = fee.get("fixed", 0)
    if fixed and applied.currency != fair.currency:
        fixed = convert(Money(fixed, fair.currency), Decimal(1) / rate, applied.currency).amount
    return basis_points(applied.amount, fee.get("bp", 0)) + fixed


def _value(applied: Money, rate: Decimal, fair: Fair) -> int:
    if applied.currency == fair.currency:
        return applied.amount
    return convert(applied, rate, fair.currency).amount


def _record(
    conn: Connection,
    pm: pluggy.PluginManager,
    key: str,
    fp: str,
    lines: Sequence[LineRequest],
    tenders: Sequence[TenderRequest],
    session_id: int | None,
    fair_id: int | None,
    user_id: int | None,
    now: dt.datetime,
):
    till = None
    if session_id is not None:
        row = _SESSION_FAIR.first(conn, {"id": session_id})
        if row is None:
            raise SessionNotFound(
                N_("there is no cash session {session}"),
                params={"session": session_id},
                field="session",
            )
        if row.session_closed_at is not None:
            raise SessionClosed(
                N_("cash session {session} was closed at {time}; open a new one"),
                params={"session": session_id, "time": f"{row.session_closed_at:%H:%M}"},
                field="session",
            )
        fields = row._asdict()
        cs = _SessionRow(
            fields.pop("session_id"),
            fields["id"],
            fields.pop("session_till_id"),
            fields.pop("session_cashier_id"),
        )
        del fields["session_closed_at"]
        # The till's columns, made a Till only for the hooks that want one.
        till = {
            "id": cs.till_id,
            "fair_id": fields.pop("till_fair_id"),
            "code": fields.pop("till_code"),
            "name": fields.pop("till_name"),
            "printer": fields.pop("till_printer"),
        }
        fair = as_loaded(Fair, fields)
        if fair_id is not None and fair_id != fair.id:
            raise InvalidTender(N_("the session belongs to another fair"), field="fair")
        user_id = user_id if user_id is not None else cs.cashier_id
    else:
        row = _FAIR.first(conn, {"id": fair_id})
        if row is None:
            raise InvalidTender(
                N_("there is no fair {fair}"), params={"fair": fair_id}, field="fair"
            )
        fair = as_loaded(Fair, row._asdict())
    rule = rule_in_force(conn, fair.id, now)
    priced, cooperatives = _resolve_lines(conn, fair, lines)
    total = sum(ln["total"] for ln in priced)
    if total <= 0:
        raise InvalidLine(N_("the sale total must be greater than zero"), field="lines")
    methods = payment_methods(pm, fair)

    # Tenders: non-cash ones may not exceed what is still due; cash-like ones may, and the
    # excess is handed back as change from the last of them.
    due = total
    resolved = []
    for i, t in enumerate(tenders):
        f = f"tenders[{i}]"
        method = methods.get(t.method)
        if method is None:
            raise UnknownPaymentMethod(
                N_("payment method {method} is not offered here; offered: {methods}"),
                params={"method": repr(t.method), "methods": ", ".join(sorted(methods)) or "none"},
                field=f"{f}.method",
            )
        code = t.currency or fair.currency
        try:
            currency(code)
            amount = Money(t.amount, code)
        except (MoneyError, TypeError) as exc:
            raise InvalidTender(str(exc), field=f"{f}.amount") from exc
        if amount.amount <= 0:
            raise InvalidTender(N_("expected an amount greater than zero"), field=f"{f}.amount")
        if not method.accepts_currency(code):
            raise InvalidTender(
                N_("{method} does not take {currency}"),
                params={"method": method.name or method.code, "currency": code},
                field=f"{f}.currency",
            )
        rate = _rate(rule, fair, code, f"{f}.currency")
        value = _value(amount, rate, fair)
        if method.gives_change and session_id is None:
            raise InvalidTender(
                N_(
                    "{method} is taken at a till: an order paid in cash is handed over and "
                    "paid at the caja común, in a cash session"
                ),
                params={"method": method.name or method.code},
                field=f"{f}.method",
            )
        if not method.gives_change and value > max(due, 0):
            raise Overpayment(
                N_("{method} cannot pay more than is due ({due})"),
                params={
                    "method": method.name or method.code,
                    "due": Money(max(due, 0), fair.currency),
                },
                format_locale=fair.locale,
                field=f"{f}.amount",
            )
        due -= value
        resolved.append([i + 1, method, amount, rate, value, t])
    if due > 0:
        raise InsufficientPayment(
            N_("{due} still due"),
            params={"due": Money(due, fair.currency)},
            format_locale=fair.locale,
            field="tenders",
            due=due,
        )
    change_left = -due
    tender_rows = []
    for no, method, amount, rate, value, t in reversed(resolved):
        change = 0
        if change_left and method.gives_change:
            if amount.currency != fair.currency:
                raise Overpayment(
                    N_("change is given in {currency}; pay the rest in {currency}"),
                    params={"currency": fair.currency},
                    field=f"tenders[{no - 1}].currency",
                )
            change = min(change_left, amount.amount)
            change_left -= change
        tender_rows.append((no, method, amount, rate, value - change, change, t))
    if change_left:
        raise Overpayment(
            N_("the amount over what is due cannot be given back as change"), field="tenders"
        )
    tender_rows.reverse()

    sinfo = SaleInfo(fair=fair, total=Money(total, fair.currency), key=key)
    body_tenders = []
    shares = []
    captures = []
    for no, method, amount, rate, value, change, t in tender_rows:
        applied = Money(amount.amount - change, amount.currency)
        tinfo = TenderInfo(
            method=method.code, amount=applied, data=dict(t.data), reference=t.reference
        )
        try:
            auth = method.authorize(tinfo, sinfo)
        except Exception as exc:  # a plugin failing must roll back the sale, not crash it
            raise PaymentRefused(
                N_("{method} failed: {error}"),
                params={"method": method.name or method.code, "error": exc},
                field=f"tenders[{no - 1}]",
            ) from exc
        if not auth.approved:
            raise PaymentRefused(
                N_("{method} refused: {reason}"),
                params={
                    "method": method.name or method.code,
                    "reason": auth.reason or "no reason given",
                },
                field=f"tenders[{no - 1}]",
            )
        if auth.fee is not None:
            if auth.fee.currency != applied.currency or auth.fee.amount < 0:
                raise PaymentRefused(
                    N_("{method} stated an invalid fee {fee}"),
                    params={"method": method.code, "fee": str(auth.fee)},
                    field=f"tenders[{no - 1}]",
                )
            fee = auth.fee.amount
        else:
            fee = _rule_fee(rule, fair, method.code, applied, rate)
        body_tenders.append(
            {
                "no": no,
                "method": method.code,
                "currency": amount.currency,
                "amount": amount.amount,
                "change": change,
                "applied": applied.amount,
                "rate": str(rate),
                "value": value,
                "fee": fee,
                "in_drawer": bool(method.gives_change),
                "reference": auth.reference or t.reference,
                "data": public_data({**t.data, **auth.data}),
            }
        )
        shares.append(TenderShare(no, amount.currency, applied.amount, fee))
        captures.append((method, tinfo, sinfo))

    weights: dict[int, int] = defaultdict(int)
    for ln in priced:
        weights[ln["producer"]] += ln["total"]
    split_rows = split_sale(weights, shares, rule.solidarity_bp)
    splits, members = splits_with_members(conn, split_rows, cooperatives)

    locked = journal.lock_head(conn)
    if session_id is not None and conn.dialect.name != "sqlite":
        # Checked again under the journal lock: on PostgreSQL a close committed while this
        # sale was being authorized must win, or the sale would land after the Z-report.
        # (SQLite's BEGIN IMMEDIATE already held every other writer off since the start.)
        _open_session(conn, session_id)
    # After the lock, in a statement of its own: on PostgreSQL its snapshot then sees the
    # sale committed by whoever held the lock before.
    sale_id = _next_sale_id(conn)
    body = {
        "sale": sale_id,
        "fair": fair.id,
        "session": session_id,
        "user": user_id,
        "key": key,
        "fingerprint": fp,
        "rule": rule.id,
        "currency": fair.currency,
        "total": total,
        "lines": priced,
        "tenders": body_tenders,
        "splits": splits,
        "members": members,
        "refers_to": None,
    }
    recorded = commit_entry(conn, "sale", body, now, locked)
    # Methods with a ledger of their own write it now, in this transaction, under the lock,
    # through a Session that joins it (closing the Session commits nothing).
    db = Session(bind=conn)
    try:
        pm.hook.feria_sale_writing(db=db, sale=recorded, tenders=[c[1] for c in captures])
    except BaseException:
        db.rollback()  # the sale's transaction: the Session's after_rollback listeners run
        raise
    finally:
        db.close()
    return recorded, fair, till, captures
