"""Live pages: the organizers' dashboard of a running fair, and the server-sent events that
keep it (and a producer's page) current without a reload.

Every sale, refund, payout or closed session moves the journal head, so the head is the one
thing to watch. Each app process polls it (one primary-key read every half second, however
many pages are open) and wakes the open streams when it moves; a stream then renders its
page fragment again and pushes it if it changed. Because the head is read from the database,
a sale recorded by another app process (a network of fairs on PostgreSQL) shows up too.

A stream ends when the browser goes away, and on its own after :attr:`LiveSettings.lifetime`
(the browser's ``EventSource`` reconnects at once, sending the last entry it saw), so a
server that is stopping never waits long for an open dashboard.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import format_decimal, format_percent
from jinja2 import pass_context
from sqlalchemy import Engine, case, func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from feria import journal
from feria.accounts import User
from feria.cashbox.models import CashSession, Sale, SaleLine, Tender, Till
from feria.cashbox.sales import payment_methods
from feria.catalogue.models import Fair, Participation, Producer
from feria.db import read_session
from feria.errors import NotFound
from feria.panels import collect_panels
from feria.settlement import Settlement, fair_by_slug, settle
from feria.web.auth import require_role
from feria.web.state import app_state

log = logging.getLogger("feria.web.live")


@dataclass(frozen=True, slots=True)
class LiveSettings:
    """How the live pages poll and stream. Tests put their own on ``app.state.feria_live``."""

    poll_interval: float = 0.5
    """Seconds between two reads of the journal head (per app process, not per page)."""
    keepalive: float = 15.0
    """Seconds of silence after which a comment is sent, so proxies keep the stream open."""
    lifetime: float = 60.0
    """Seconds after which a stream ends and the browser reconnects by itself."""
    retry_ms: int = 1000
    """How long the browser waits before reconnecting a dropped stream."""


DEFAULT_SETTINGS = LiveSettings()


def live_settings(conn: HTTPConnection) -> LiveSettings:
    return getattr(conn.app.state, "feria_live", None) or DEFAULT_SETTINGS


# -- watching the journal head --------------------------------------------------------------


def read_head(engine: Engine) -> journal.Head:
    with read_session(engine) as db:
        return journal.head(db)


class HeadWatcher:
    """Polls the journal head while at least one stream listens, and wakes them all when it
    moves. One per app and event loop."""

    def __init__(self, engine: Engine, interval: float) -> None:
        self.engine = engine
        self.interval = interval
        self.loop = asyncio.get_running_loop()
        self.head: journal.Head | None = None
        self._moved = asyncio.Event()
        self._listeners = 0
        self._task: asyncio.Task | None = None

    @property
    def listeners(self) -> int:
        """How many streams are open on this watcher."""
        return self._listeners

    @contextlib.asynccontextmanager
    async def listening(self) -> AsyncIterator[HeadWatcher]:
        self._listeners += 1
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._poll())
        try:
            yield self
        finally:
            self._listeners -= 1
            if self._listeners == 0 and self._task is not None:
                self._task.cancel()
                self._task = None
                self.head = None  # nobody watches: the next listener must not see a stale one

    async def wait(self, seen: journal.Head | None, timeout: float) -> journal.Head | None:
        """The head as soon as it differs from ``seen``, or whatever it is after ``timeout``."""
        if self.head is None or self.head == seen:
            moved = self._moved
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(moved.wait(), timeout)
        return self.head

    async def _poll(self) -> None:
        while True:
            try:
                head = await run_in_threadpool(read_head, self.engine)
            except Exception:  # the database may be restarting: keep the pages, try again
                log.warning("could not read the journal head; retrying", exc_info=True)
            else:
                if head != self.head:
                    self.head = head
                    moved, self._moved = self._moved, asyncio.Event()
                    moved.set()
            await asyncio.sleep(self.interval)


def _shared(conn: HTTPConnection, name: str, make: Callable[[], Any]) -> Any:
    """An object kept on the app (one per app, so two test apps never share one)."""
    state = conn.app.state
    with _SHARED_LOCK:
        found = getattr(state, name, None)
        if found is None:
            found = make()
            setattr(state, name, found)
        return found


_SHARED_LOCK = threading.Lock()


def head_watcher(conn: HTTPConnection) -> HeadWatcher:
    loop = asyncio.get_running_loop()
    watchers = _shared(conn, "feria_head_watchers", dict)
    watcher = watchers.get(id(loop))
    if watcher is None or watcher.loop is not loop:
        watcher = HeadWatcher(app_state(conn).engine, live_settings(conn).poll_interval)
        watchers[id(loop)] = watcher
    return watcher


# -- settlements, computed once per head ---------------------------------------------------


class SettlementCache:
    """Settlements by (fair, journal entry). A settlement as of an entry never changes, so
    every page open on the same head shares one computation instead of one each."""

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._items: OrderedDict[tuple[int, int], Settlement] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, db: Session, fair_id: int, head: journal.Head) -> Settlement:
        key = (fair_id, head.seq)
        with self._lock:
            found = self._items.get(key)
            if found is not None and found.as_of == head:
                self._items.move_to_end(key)
                return found
        settlement = settle(db, fair_id, as_of=head.seq or None)
        with self._lock:
            self._items[key] = settlement
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return settlement


def settlement_now(conn: HTTPConnection, db: Session, fair_id: int) -> Settlement:
    """The settlement of ``fair_id`` as of the current head (shared between pages)."""
    return _shared(conn, "feria_settlements", SettlementCache).get(db, fair_id, journal.head(db))


# -- ids in URLs ---------------------------------------------------------------------------

MAX_ROW_ID = 2**31 - 1
"""Row ids are 32-bit integers in PostgreSQL: a larger number in a URL names nothing."""


def path_id(conn: HTTPConnection, name: str) -> int:
    """The integer path parameter ``name``, or a 404 if no row can have that id."""
    value = conn.path_params[name]
    if not 0 < value <= MAX_ROW_ID:
        raise NotFound(f"there is nothing with {name} {value}")
    return value


# -- server-sent events -------------------------------------------------------------------


def sse_event(event: str, data: Mapping[str, Any], event_id: int | None = None) -> str:
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    return "\n".join(lines) + "\n\n"


def _since(request: Request) -> int | None:
    """The entry the browser already shows: ``Last-Event-ID`` on a reconnect, else the
    ``since`` the page was rendered at."""
    for raw in (request.headers.get("last-event-id"), request.query_params.get("since")):
        if raw and raw.strip().isdigit():
            return int(raw.strip())
    return None


def event_stream(request: Request, render: Callable[[], str]) -> StreamingResponse:
    """A ``text/event-stream`` of ``update`` events: ``{"seq", "html"}`` with ``render()``'s
    fragment, each time the journal head moves and the fragment changed. ``render`` is
    blocking; it runs in a worker thread."""
    settings = live_settings(request)
    since = _since(request)

    async def events() -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        started = last_sent = loop.time()
        shown_seq, shown_html = since, None
        seen: journal.Head | None = None
        yield f"retry: {settings.retry_ms}\n\n"
        async with head_watcher(request).listening() as watcher:
            while True:
                head = await watcher.wait(seen, settings.poll_interval * 2)
                if await request.is_disconnected():
                    break
                now = loop.time()
                if head is not None and head != seen:
                    seen = head
                    if head.seq != shown_seq:
                        try:
                            html = await run_in_threadpool(render)
                        except Exception:  # the browser reconnects and the page says why
                            log.exception("could not render a live page fragment")
                            break
                        shown_seq = head.seq
                        if html != shown_html:
                            shown_html = html
                            last_sent = now
                            yield sse_event("update", {"seq": head.seq, "html": html}, head.seq)
                            continue
                if now - started >= settings.lifetime:
                    break
                if now - last_sent >= settings.keepalive:
                    last_sent = now
                    yield ": keep-alive\n\n"

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"},
    )


# -- rendering -------------------------------------------------------------------------------


@pass_context
def percent(context, bp: int) -> str:
    """Basis points as a percentage in the reader's locale: ``250`` → ``2,5 %`` in es."""
    return format_percent(
        Decimal(bp) / 10_000, locale=context["format_locale"], decimal_quantization=False
    )


@pass_context
def quantity(context, value: str) -> str:
    """A recorded quantity (canonical decimal text) written as the reader writes numbers."""
    try:
        return format_decimal(Decimal(value), "#,##0.###", locale=context["format_locale"])
    except (InvalidOperation, ValueError):
        return value


HELPERS = {"percent": percent, "quantity": quantity}
"""What the back office, producer and public templates use besides the app's filters."""


def render_page(
    request: Request, name: str, context: Mapping[str, Any], status: int = 200
) -> Response:
    return app_state(request).templates.response(
        request, name, {**HELPERS, **context}, status_code=status
    )


def render_fragment(request: Request, name: str, data: Mapping[str, Any]) -> str:
    """A template rendered with the same context as a full page (language, fair zone)."""
    templates = app_state(request).templates
    context = templates.context(request)
    context.update(HELPERS)
    context.update(data)
    return templates.env.get_template(name).render(context)


# -- the dashboard's figures ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TillFigures:
    code: str
    name: str
    sales: int
    total: int
    open: bool


@dataclass(frozen=True, slots=True)
class ProducerFigures:
    id: int
    code: str
    name: str
    stall: str
    sales: int
    total: int


@dataclass(frozen=True, slots=True)
class TenderFigures:
    method: str
    name: str
    currency: str
    count: int
    amount: int


@dataclass(frozen=True, slots=True)
class RecentSale:
    id: int
    kind: str
    at: dt.datetime
    total: int
    refers_to: int | None


@dataclass(frozen=True, slots=True)
class Dashboard:
    """What the caja común took at a fair so far, in the fair currency (refunds and voids
    subtracted), by till, producer and tender."""

    fair: Fair
    head: journal.Head
    sales: int
    corrections: int
    total: int
    tills: tuple[TillFigures, ...]
    producers: tuple[ProducerFigures, ...]
    tenders: tuple[TenderFigures, ...]
    recent: tuple[RecentSale, ...]
    open_sessions: int


def dashboard(db: Session, fair: Fair, method_names: Mapping[str, str]) -> Dashboard:
    head = journal.head(db)
    is_sale = Sale.kind == "sale"
    in_fair = (Sale.fair_id == fair.id, Sale.seq <= head.seq)
    sales, corrections, total = db.execute(
        select(
            func.count(case((is_sale, 1))),
            func.count(case((~is_sale, 1))),
            func.coalesce(func.sum(Sale.total), 0),
        ).where(*in_fair)
    ).one()

    by_till = {
        till_id: (int(n), int(t))
        for till_id, n, t in db.execute(
            select(CashSession.till_id, func.count(case((is_sale, 1))), func.sum(Sale.total))
            .join(CashSession, CashSession.id == Sale.session_id)
            .where(*in_fair)
            .group_by(CashSession.till_id)
        )
    }
    open_tills = set(
        db.scalars(
            select(CashSession.till_id).where(
                CashSession.fair_id == fair.id, CashSession.closed_at.is_(None)
            )
        )
    )
    tills = tuple(
        TillFigures(t.code, t.name, *by_till.get(t.id, (0, 0)), t.id in open_tills)
        for t in db.scalars(select(Till).where(Till.fair_id == fair.id).order_by(Till.code))
    )

    by_producer = {
        pid: (int(n), int(t))
        for pid, n, t in db.execute(
            select(
                SaleLine.producer_id,
                func.count(func.distinct(case((is_sale, Sale.id)))),
                func.sum(SaleLine.total),
            )
            .join(Sale, Sale.id == SaleLine.sale_id)
            .where(*in_fair)
            .group_by(SaleLine.producer_id)
        )
    }
    stalls = dict(
        db.execute(
            select(Participation.producer_id, Participation.stall).where(
                Participation.fair_id == fair.id
            )
        ).all()
    )
    # Every participant is listed, so a stall that has sold nothing yet shows as such.
    everyone = db.scalars(select(Producer).where(Producer.id.in_(set(stalls) | set(by_producer))))
    producers = tuple(
        sorted(
            (
                ProducerFigures(
                    p.id, p.code, p.name, stalls.get(p.id, ""), *by_producer.get(p.id, (0, 0))
                )
                for p in everyone
            ),
            key=lambda f: (-f.total, f.code),
        )
    )

    tenders = tuple(
        TenderFigures(method, method_names.get(method, method), cur, int(n), int(amount))
        for method, cur, n, amount in db.execute(
            select(
                Tender.method,
                Tender.currency,
                func.count(case((is_sale, 1))),
                func.sum(Tender.applied),
            )
            .join(Sale, Sale.id == Tender.sale_id)
            .where(*in_fair)
            .group_by(Tender.method, Tender.currency)
            .order_by(Tender.method, Tender.currency)
        )
    )
    recent = tuple(
        RecentSale(r.id, r.kind, r.at, r.total, r.refers_to)
        for r in db.execute(
            select(Sale.id, Sale.kind, Sale.at, Sale.total, Sale.refers_to)
            .where(*in_fair)
            .order_by(Sale.id.desc())
            .limit(10)
        )
    )
    return Dashboard(
        fair=fair,
        head=head,
        sales=int(sales),
        corrections=int(corrections),
        total=int(total),
        tills=tills,
        producers=producers,
        tenders=tenders,
        recent=recent,
        open_sessions=len(open_tills),
    )


def method_names(request: HTTPConnection, fair: Fair) -> dict[str, str]:
    """Payment method names as the loaded plugins give them, by code."""
    return {
        code: m.name or code for code, m in payment_methods(app_state(request).pm, fair).items()
    }


# -- pages --------------------------------------------------------------------------------


def _dashboard_data(request: Request, user: User, slug: str) -> dict[str, Any]:
    with read_session(app_state(request).engine) as db:
        fair = fair_by_slug(db, slug)
        board = dashboard(db, fair, method_names(request, fair))
        pm = app_state(request).pm
        panels = collect_panels(pm, "feria_backoffice_panels", db, fair=fair, user=user)
        return {"current": fair, "board": board, "panels": panels}


def dashboard_page(request: Request) -> Response:
    user = require_role(request, "organizer")
    data = _dashboard_data(request, user, request.path_params["slug"])
    return render_page(request, "backoffice/dashboard.html", data)


async def dashboard_events(request: Request) -> Response:
    user = await run_in_threadpool(require_role, request, "organizer")
    slug = request.path_params["slug"]
    await run_in_threadpool(_dashboard_data, request, user, slug)  # unknown fair: 404 now

    def render() -> str:
        data = _dashboard_data(request, user, slug)
        return render_fragment(request, "backoffice/_dashboard_figures.html", data)

    return event_stream(request, render)


routes = [
    Route("/backoffice/fairs/{slug}", dashboard_page, methods=["GET"], name="bo_dashboard"),
    Route("/backoffice/fairs/{slug}/events", dashboard_events, methods=["GET"], name="bo_events"),
]
