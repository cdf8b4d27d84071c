"""A producer's own pages: on a phone, live, every sale line that is theirs, what was
withheld from it and by which rule version, their balance, and their settlement with its
payouts, which they acknowledge here.

This is where the caja común earns a producer's trust, so the page shows only what is
theirs, and nothing of any other producer: a URL with another producer's id is refused
(403), never quietly narrowed. An organizer may open any producer's page (they see every
settlement anyway); a cooperative's delegate is a producer user linked to the cooperative.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from feria import journal
from feria.accounts import User
from feria.cashbox.errors import UnknownProducer
from feria.cashbox.models import Payout, Sale, SaleLine, Split, Tender
from feria.catalogue.models import Fair, Participation, Producer, RuleVersion
from feria.db import read_session
from feria.errors import Forbidden, NotFound
from feria.panels import Panel, collect_panels
from feria.settlement import Settlement, acknowledge_payout
from feria.web.auth import require_role
from feria.web.live import (
    event_stream,
    method_names,
    path_id,
    render_fragment,
    render_page,
    settlement_now,
)
from feria.web.state import app_state

PAGE_SIZE = 50


# -- what a producer sees ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Line:
    no: int
    description: str
    quantity: str
    unit: str
    unit_price: int
    total: int


@dataclass(frozen=True, slots=True)
class TenderPart:
    """What of one tender of the sale went to this producer."""

    method: str
    currency: str
    gross: int
    withheld: int
    fee: int
    net: int


@dataclass(frozen=True, slots=True)
class ProducerSale:
    """One sale, refund or void, reduced to this producer's lines and money."""

    id: int
    kind: str
    at: dt.datetime
    currency: str
    refers_to: int | None
    rule_version: int
    solidarity_bp: int
    lines: tuple[Line, ...]
    parts: tuple[TenderPart, ...]

    @property
    def total(self) -> int:
        return sum(ln.total for ln in self.lines)

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.method for p in self.parts))

    def sums(self) -> dict[str, dict[str, int]]:
        """Withheld, fees and net per currency of the tenders."""
        out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for p in self.parts:
            for name in ("gross", "withheld", "fee", "net"):
                out[p.currency][name] += getattr(p, name)
        return {cur: dict(v) for cur, v in out.items()}


@dataclass(slots=True)
class ProducerView:
    producer: Producer
    fair: Fair | None
    fairs: list[Fair]
    sales: list[ProducerSale] = field(default_factory=list)
    more_before: int | None = None
    settlement: Settlement | None = None
    payouts: list[Payout] = field(default_factory=list)
    head: journal.Head | None = None
    panels: list[Panel] = field(default_factory=list)


def producer_sales(
    db: Session, fair_id: int, producer_id: int, *, before: int | None = None
) -> tuple[list[ProducerSale], int | None]:
    """The producer's sales at the fair, newest first, a page at a time; and the id to ask
    for the next (older) page, if there is one."""
    query = (
        select(Sale.id)
        .join(SaleLine, SaleLine.sale_id == Sale.id)
        .where(Sale.fair_id == fair_id, SaleLine.producer_id == producer_id)
        .group_by(Sale.id)
        .order_by(Sale.id.desc())
        .limit(PAGE_SIZE + 1)
    )
    if before is not None:
        query = query.where(Sale.id < before)
    ids = list(db.scalars(query))
    more = ids[PAGE_SIZE - 1] if len(ids) > PAGE_SIZE else None
    ids = ids[:PAGE_SIZE]
    if not ids:
        return [], None
    lines: dict[int, list[Line]] = defaultdict(list)
    for ln in db.scalars(
        select(SaleLine)
        .where(SaleLine.sale_id.in_(ids), SaleLine.producer_id == producer_id)
        .order_by(SaleLine.sale_id, SaleLine.line_no)
    ):
        lines[ln.sale_id].append(
            Line(ln.line_no, ln.description, ln.quantity, ln.unit, ln.unit_price, ln.total)
        )
    parts: dict[int, list[TenderPart]] = defaultdict(list)
    for s, method in db.execute(
        select(Split, Tender.method)
        .join(Tender, (Tender.sale_id == Split.sale_id) & (Tender.tender_no == Split.tender_no))
        .where(Split.sale_id.in_(ids), Split.producer_id == producer_id)
        .order_by(Split.sale_id, Split.tender_no)
    ):
        parts[s.sale_id].append(TenderPart(method, s.currency, s.gross, s.withheld, s.fee, s.net))
    sales = []
    for sale, version, bp in db.execute(
        select(Sale, RuleVersion.version, RuleVersion.solidarity_bp)
        .join(RuleVersion, RuleVersion.id == Sale.rule_version_id)
        .where(Sale.id.in_(ids))
        .order_by(Sale.id.desc())
    ):
        sales.append(
            ProducerSale(
                id=sale.id,
                kind=sale.kind,
                at=sale.at,
                currency=sale.currency,
                refers_to=sale.refers_to,
                rule_version=version,
                solidarity_bp=bp,
                lines=tuple(lines[sale.id]),
                parts=tuple(parts[sale.id]),
            )
        )
    return sales, more


def producer_fairs(db: Session, producer_id: int) -> list[Fair]:
    """The fairs the producer takes part in or sold at, the newest first."""
    joined = select(Participation.fair_id).where(Participation.producer_id == producer_id)
    sold = (
        select(Sale.fair_id)
        .join(SaleLine, SaleLine.sale_id == Sale.id)
        .where(SaleLine.producer_id == producer_id)
        .distinct()
    )
    return list(
        db.scalars(
            select(Fair)
            .where(Fair.id.in_(joined.union(sold)))
            .order_by(Fair.starts_on.desc(), Fair.id.desc())
        )
    )


# -- who may look ------------------------------------------------------------------------------


def allowed_producer(request: Request) -> tuple[User, int]:
    """The producer id in the URL, if the user may see it: their own, or any for an
    organizer. Anything else is a 403, even when the producer does not exist, so the
    answer says nothing about other producers."""
    user = require_role(request, "producer", "organizer")
    producer_id = request.path_params["producer_id"]
    if user.role == "producer" and user.producer_id != producer_id:
        raise Forbidden("a producer sees only their own sales and settlement")
    return user, path_id(request, "producer_id")


def _view(request: Request, user: User, producer_id: int) -> ProducerView:
    slug = request.query_params.get("fair")
    raw_before = request.query_params.get("before", "")
    before = int(raw_before) if raw_before.isdigit() and len(raw_before) < 12 else None
    with read_session(app_state(request).engine) as db:
        producer = db.get(Producer, producer_id)
        if producer is None:
            raise NotFound("there is no such producer")
        _ = producer.members
        fairs = producer_fairs(db, producer.id)
        fair = next((f for f in fairs if f.slug == slug), None) if slug else None
        if slug and fair is None:
            raise NotFound(f"{producer.code} does not take part in the fair {slug!r}")
        fair = fair or (fairs[0] if fairs else None)
        view = ProducerView(producer=producer, fair=fair, fairs=fairs, head=journal.head(db))
        # What plugins keep of this producer's (a community-currency account…) is theirs
        # whether or not they take part in a fair yet.
        pm = app_state(request).pm
        view.panels = collect_panels(
            pm, "feria_producer_panels", db, producer=producer, fair=fair, user=user
        )
        if fair is None:
            return view
        view.sales, view.more_before = producer_sales(db, fair.id, producer.id, before=before)
        try:
            view.settlement = settlement_now(request, db, fair.id).for_producer(producer.id)
        except UnknownProducer:  # sold nothing and does not take part: nothing to settle
            view.settlement = None
        view.payouts = list(
            db.scalars(
                select(Payout)
                .where(Payout.fair_id == fair.id, Payout.producer_id == producer.id)
                .order_by(Payout.id.desc())
            )
        )
    return view


def _context(request: Request, user: User, view: ProducerView) -> dict[str, Any]:
    return {
        "view": view,
        "producer": view.producer,
        "current": view.fair,
        "methods": method_names(request, view.fair) if view.fair is not None else {},
        "can_acknowledge": user.role == "producer" and user.producer_id == view.producer.id,
        "before": request.query_params.get("before"),
        "done": request.query_params.get("done"),
        "panels": view.panels,
    }


# -- pages -------------------------------------------------------------------------------------


def home(request: Request) -> Response:
    """``/producer``: a producer's own page; organizers pick a producer in the back office."""
    user = require_role(request, "producer", "organizer")
    if user.role == "organizer":
        return RedirectResponse("/backoffice", status_code=303)
    if user.producer_id is None:
        raise Forbidden("this producer account is not linked to a producer")
    return RedirectResponse(f"/producer/{user.producer_id}", status_code=303)


def producer_page(request: Request) -> Response:
    user, producer_id = allowed_producer(request)
    view = _view(request, user, producer_id)
    return render_page(request, "producer/page.html", _context(request, user, view))


async def producer_events(request: Request) -> Response:
    user, producer_id = await run_in_threadpool(allowed_producer, request)
    await run_in_threadpool(_view, request, user, producer_id)  # unknown: 404 now

    def render() -> str:
        view = _view(request, user, producer_id)
        return render_fragment(request, "producer/_live.html", _context(request, user, view))

    return event_stream(request, render)


async def acknowledge(request: Request) -> Response:
    user, producer_id = await run_in_threadpool(allowed_producer, request)
    return await run_in_threadpool(_acknowledge, request, user, producer_id)


def _acknowledge(request: Request, user: User, producer_id: int) -> Response:
    payout_id = path_id(request, "payout_id")
    with read_session(app_state(request).engine) as db:
        payout = db.get(Payout, payout_id)
        fair = db.get(Fair, payout.fair_id) if payout is not None else None
    if payout is None or payout.producer_id != producer_id:
        raise NotFound("there is no such payout for this producer")
    # The engine refuses anyone but a user of the producer that was paid.
    acknowledge_payout(app_state(request).engine, payout_id=payout_id, user_id=user.id)
    return RedirectResponse(
        f"/producer/{producer_id}?fair={fair.slug}&done=acknowledged:{payout_id}#payouts",
        status_code=303,
    )


routes = [
    Route("/producer", home, methods=["GET"], name="producer_home"),
    Route("/producer/{producer_id:int}", producer_page, methods=["GET"], name="producer_page"),
    Route(
        "/producer/{producer_id:int}/events",
        producer_events,
        methods=["GET"],
        name="producer_events",
    ),
    Route(
        "/producer/{producer_id:int}/payouts/{payout_id:int}/acknowledge",
        acknowledge,
        methods=["POST"],
        name="producer_acknowledge",
    ),
]
