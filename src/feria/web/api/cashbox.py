"""The caja común over HTTP: cash sessions, sales, refunds and voids.

Amounts are integers of minor units with their currency beside them; quantities are decimal
numbers or text. A sale, refund or void carries an ``Idempotency-Key`` header: resending the
same request with the same key (after a timeout, a dropped connection) answers 200 with the
first recording instead of recording twice; the same key with different content is a 409.
"""

from __future__ import annotations

import json as jsonlib
from typing import Any

from sqlalchemy import Engine, select
from starlette.responses import Response

from feria import journal
from feria.cashbox import sessions
from feria.cashbox.errors import SaleNotFound
from feria.cashbox.models import CashMovement, CashSession, Sale
from feria.cashbox.refunds import refund_sale as refund
from feria.cashbox.refunds import void_sale as void
from feria.cashbox.sales import LineRequest, RecordedSale, TenderRequest, record_sale
from feria.db import read_session
from feria.errors import Forbidden
from feria.web.api.base import IDEMPOTENCY_HEADER, Call, endpoint, fields_named, json
from feria.web.jsonbody import Fields

CASHBOX_ROLES = ("cashier", "organizer")
ENGINE_NAMES = {"key": IDEMPOTENCY_HEADER, "float_amount": "float", "currency_code": "currency"}


# -- rendering --------------------------------------------------------------------------------


def session_json(cs: CashSession) -> dict[str, Any]:
    return {
        "id": cs.id,
        "fair": cs.fair_id,
        "till": cs.till_id,
        "cashier": cs.cashier_id,
        "currency": cs.currency,
        "opened_at": cs.opened_at.isoformat(timespec="seconds"),
        "float": cs.float_amount,
        "float_detail": cs.float_detail or {},
        "seq": cs.open_seq,
    }


def movement_json(mv: CashMovement) -> dict[str, Any]:
    return {
        "id": mv.id,
        "session": mv.session_id,
        "kind": mv.kind,
        "amount": mv.amount,
        "currency": mv.currency,
        "reason": mv.reason,
        "at": mv.at.isoformat(timespec="seconds"),
        "seq": mv.seq,
    }


def sale_json(sale: RecordedSale, *, producer_id: int | None = None) -> dict[str, Any]:
    """A recorded sale as the API shows it. With ``producer_id``, only that producer's lines
    and splits (what a producer may see of a sale), without the tenders."""
    body = sale.body
    lines = [
        {
            "no": ln["no"],
            "producer": ln["producer"],
            "product": ln["product"],
            "description": ln["description"],
            "quantity": ln["quantity"],
            "unit": ln["unit"],
            "unit_price": ln["unit_price"],
            "total": ln["total"],
            "refers_line": ln.get("refers_line"),
        }
        for ln in body["lines"]
        if producer_id is None or ln["producer"] == producer_id
    ]
    splits = [
        {
            "tender": s[0],
            "producer": s[1],
            "currency": s[2],
            "gross": s[3],
            "withheld": s[4],
            "fee": s[5],
            "net": s[6],
        }
        for s in body["splits"]
        if producer_id is None or s[1] == producer_id
    ]
    members = [
        {"producer": m[0], "member": m[1], "currency": m[2], "amount": m[3]}
        for m in body.get("members") or ()
        if producer_id is None or m[0] == producer_id
    ]
    out: dict[str, Any] = {
        "id": sale.id,
        "kind": body["kind"],
        "seq": sale.seq,
        "hash": sale.hash,
        "at": body["at"],
        "fair": body["fair"],
        "session": body["session"],
        "refers_to": body.get("refers_to"),
        "rule": body["rule"],
        "currency": body["currency"],
        "total": body["total"],
        "lines": lines,
        "splits": splits,
        "members": members,
    }
    if producer_id is not None:
        out["total"] = sum(ln["total"] for ln in lines)
        out["partial"] = True
        return out
    out["user"] = body["user"]
    out["change"] = sale.change.amount
    out["tenders"] = [
        {
            "no": t["no"],
            "method": t["method"],
            "currency": t["currency"],
            "amount": t["amount"],
            "change": t["change"],
            "applied": t["applied"],
            "rate": t["rate"],
            "value": t["value"],
            "fee": t["fee"],
            "reference": t["reference"],
            "data": t["data"],
        }
        for t in body["tenders"]
    ]
    return out


def recorded(sale: RecordedSale) -> Response:
    """201 for a new recording, 200 for the replay of one already made."""
    return json(sale_json(sale), 200 if sale.replayed else 201)


# -- parsing ----------------------------------------------------------------------------------


def line_request(f: Fields) -> LineRequest:
    line = LineRequest(
        product_id=f.integer("product_id", minimum=1),
        barcode=f.text("barcode", max_length=14),
        sku=f.text("sku", max_length=64),
        quantity=f.decimal("quantity"),
        producer_code=f.text("producer_code", max_length=16),
        amount=f.integer("amount", minimum=1),
        description=f.text("description", default=""),
    )
    f.done()
    return line


def tender_request(f: Fields) -> TenderRequest:
    tender = TenderRequest(
        method=f.text("method", required=True, max_length=32),
        amount=f.integer("amount", required=True, minimum=1),
        currency=f.text("currency", max_length=8),
        reference=f.text("reference", default="", max_length=200),
        data=f.data("data"),
    )
    f.done()
    return tender


def load_sale(engine: Engine, sale_id: int) -> RecordedSale:
    """A recorded sale, read back from its journal entry (the record of truth)."""
    with read_session(engine) as db:
        seq = db.scalar(select(Sale.seq).where(Sale.id == sale_id))
        entry = db.get(journal.JournalEntry, seq) if seq is not None else None
    if entry is None:
        raise SaleNotFound(f"there is no sale {sale_id}", field="id")
    return RecordedSale(sale_id, entry.seq, entry.hash, False, jsonlib.loads(entry.body))


# -- cash sessions ----------------------------------------------------------------------------


@endpoint(*CASHBOX_ROLES)
def open_session(call: Call) -> Response:
    f = call.body()
    till = f.integer("till", required=True, minimum=1)
    float_amount = f.integer("float")
    float_detail = f.counts("float_detail")
    f.done()
    with fields_named(ENGINE_NAMES):
        cs = sessions.open_session(
            call.engine,
            till_id=till,
            user_id=call.user.id,
            float_amount=float_amount,
            float_detail=float_detail,
        )
    return json(session_json(cs), 201)


@endpoint(*CASHBOX_ROLES)
def session_report(call: Call) -> Response:
    return json(sessions.x_report(call.engine, call.param("id")))


@endpoint(*CASHBOX_ROLES)
def close_session(call: Call) -> Response:
    f = call.body()
    counted = f.counts("counted")
    counted_detail = f.counts("counted_detail")
    f.done()
    z = sessions.close_session(
        call.engine,
        call.pm,
        session_id=call.param("id"),
        user_id=call.user.id,
        counted=counted,
        counted_detail=counted_detail,
    )
    return json(z)


@endpoint(*CASHBOX_ROLES)
def add_movement(call: Call) -> Response:
    f = call.body()
    kind = f.text("kind", required=True, max_length=16)
    amount = f.integer("amount", required=True, minimum=1)
    reason = f.text("reason", required=True)
    code = f.text("currency", max_length=8)
    f.done()
    with fields_named(ENGINE_NAMES):
        mv = sessions.record_movement(
            call.engine,
            session_id=call.param("id"),
            kind=kind,
            amount=amount,
            reason=reason,
            user_id=call.user.id,
            currency_code=code,
        )
    return json(movement_json(mv), 201)


# -- sales ------------------------------------------------------------------------------------


@endpoint(*CASHBOX_ROLES)
def post_sale(call: Call) -> Response:
    key = call.idempotency_key()
    f = call.body()
    session_id = f.integer("session", required=True, minimum=1)
    lines = [line_request(line) for line in f.objects("lines", required=True)]
    tenders = [tender_request(t) for t in f.objects("tenders", required=True, max_items=20)]
    f.done()
    with fields_named(ENGINE_NAMES):
        sale = record_sale(
            call.engine,
            call.pm,
            key=key,
            session_id=session_id,
            lines=lines,
            tenders=tenders,
            user_id=call.user.id,
        )
    return recorded(sale)


@endpoint("organizer", "cashier", "producer")
def get_sale(call: Call) -> Response:
    sale = load_sale(call.engine, call.param("id"))
    if call.user.role != "producer":
        return json(sale_json(sale))
    mine = sale_json(sale, producer_id=call.user.producer_id)
    if not mine["lines"]:
        raise Forbidden(f"sale {sale.id} has no line of yours")
    return json(mine)


@endpoint(*CASHBOX_ROLES)
def refund_sale(call: Call) -> Response:
    key = call.idempotency_key()
    f = call.body()
    line_nos = f.integers("lines")
    tender_fields = f.objects("tenders", max_items=20)
    tenders = [tender_request(t) for t in tender_fields] if tender_fields else None
    session_id = f.integer("session", minimum=1)
    reason = f.text("reason", required=True)
    f.done()
    with fields_named({**ENGINE_NAMES, "line_nos": "lines"}):
        sale = refund(
            call.engine,
            call.pm,
            sale_id=call.param("id"),
            key=key,
            user_id=call.user.id,
            session_id=session_id,
            line_nos=line_nos,
            tenders=tenders,
            reason=reason,
        )
    return recorded(sale)


@endpoint("organizer")
def void_sale(call: Call) -> Response:
    key = call.idempotency_key()
    f = call.body()
    reason = f.text("reason", required=True)
    f.done()
    with fields_named(ENGINE_NAMES):
        sale = void(
            call.engine,
            call.pm,
            sale_id=call.param("id"),
            key=key,
            user_id=call.user.id,
            reason=reason,
        )
    return recorded(sale)
