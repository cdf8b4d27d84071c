"""The public verification page of a sale: where the QR code on every receipt leads.

Anyone, without logging in, sees the sale's lines grouped by producer, its totals and time,
the refunds and voids that refer to it, the journal entry that recorded it (its position
and hash) and the journal's current head, with a short note on how to check them.

It shows no personal data: not the cashier, no user ids, no idempotency key, no tender
reference or payment data, no refund reason (a cashier may have typed a name there). What
is shown is read from the journal entry itself, the record of truth, not from the tables
derived from it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from feria import journal
from feria.cashbox.errors import SaleNotFound
from feria.cashbox.models import Sale
from feria.catalogue.models import Fair, Producer
from feria.db import read_session
from feria.web.live import method_names, path_id, render_page
from feria.web.state import app_state


@dataclass(frozen=True, slots=True)
class PublicLine:
    no: int
    description: str
    quantity: str
    unit: str
    unit_price: int
    total: int
    refers_line: int | None


@dataclass(frozen=True, slots=True)
class ProducerGroup:
    code: str
    name: str
    lines: tuple[PublicLine, ...]

    @property
    def total(self) -> int:
        return sum(ln.total for ln in self.lines)


@dataclass(frozen=True, slots=True)
class PublicTender:
    method: str
    currency: str
    amount: int
    change: int


@dataclass(frozen=True, slots=True)
class Correction:
    id: int
    kind: str
    at: dt.datetime
    total: int
    currency: str


@dataclass(frozen=True, slots=True)
class PublicSale:
    """Only what may be published of a sale."""

    id: int
    kind: str
    at: dt.datetime
    fair: Fair
    currency: str
    total: int
    refers_to: int | None
    groups: tuple[ProducerGroup, ...]
    tenders: tuple[PublicTender, ...]
    corrections: tuple[Correction, ...]
    seq: int
    hash: str
    prev_hash: str
    head: journal.Head


def public_sale(request: Request, sale_id: int) -> PublicSale:
    with read_session(app_state(request).engine) as db:
        seq = db.scalar(select(Sale.seq).where(Sale.id == sale_id))
        entry = db.get(journal.JournalEntry, seq) if seq is not None else None
        if entry is None:
            raise SaleNotFound(f"there is no sale {sale_id}")
        body: dict[str, Any] = json.loads(entry.body)
        fair = db.get(Fair, body["fair"])
        producer_ids = {ln["producer"] for ln in body["lines"]}
        producers = {
            p.id: p for p in db.scalars(select(Producer).where(Producer.id.in_(producer_ids)))
        }
        corrections = tuple(
            Correction(r.id, r.kind, r.at, r.total, r.currency)
            for r in db.execute(
                select(Sale.id, Sale.kind, Sale.at, Sale.total, Sale.currency)
                .where(Sale.refers_to == sale_id)
                .order_by(Sale.id)
            )
        )
        head = journal.head(db)
    order: list[int] = []
    by_producer: dict[int, list[PublicLine]] = {}
    for ln in body["lines"]:
        pid = ln["producer"]
        if pid not in by_producer:
            order.append(pid)
            by_producer[pid] = []
        by_producer[pid].append(
            PublicLine(
                ln["no"],
                ln["description"],
                ln["quantity"],
                ln["unit"],
                ln["unit_price"],
                ln["total"],
                ln.get("refers_line"),
            )
        )
    groups = tuple(
        ProducerGroup(
            producers[pid].code if pid in producers else "?",
            producers[pid].name if pid in producers else "",
            tuple(by_producer[pid]),
        )
        for pid in order
    )
    tenders = tuple(
        PublicTender(t["method"], t["currency"], t["amount"], t["change"]) for t in body["tenders"]
    )
    return PublicSale(
        id=sale_id,
        kind=body["kind"],
        at=entry.at,
        fair=fair,
        currency=body["currency"],
        total=body["total"],
        refers_to=body.get("refers_to"),
        groups=groups,
        tenders=tenders,
        corrections=corrections,
        seq=entry.seq,
        hash=entry.hash,
        prev_hash=entry.prev_hash,
        head=head,
    )


def verify_page(request: Request) -> Response:
    sale = public_sale(request, path_id(request, "sale_id"))
    response = render_page(
        request, "public/verify.html", {"sale": sale, "methods": method_names(request, sale.fair)}
    )
    # The head moves with every sale: never serve a stale one from a cache.
    response.headers["Cache-Control"] = "no-cache"
    return response


def lookup(request: Request) -> Response:
    """``/verify``: type a receipt's number when the QR code cannot be scanned."""
    raw = (request.query_params.get("sale") or "").strip().lstrip("#")
    if raw.isdigit() and 0 < int(raw) < 2**62:
        return RedirectResponse(f"/verify/{int(raw)}", status_code=303)
    return render_page(request, "public/lookup.html", {"asked": raw}, 400 if raw else 200)


routes = [
    Route("/verify", lookup, methods=["GET"], name="verify_lookup"),
    Route("/verify/{sale_id:int}", verify_page, methods=["GET"], name="verify_sale"),
]
