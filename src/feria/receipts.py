"""Receipts, reports and slips: what the caja común prints, and the spooler that prints it.

This is a *default plugin*: it implements feria's hooks exactly as an outside plugin would.
After a sale, a refund or a session close is committed, it queues a job for the till's
printer (if the till has printer settings); a :class:`Spooler` thread, started by whoever
runs the app (:func:`start_spooler`), hands the jobs to the printer plugin that serves the
till (``feria_receipt_printer``) and retries until they print. Printing is never on the
sale's path: the sale is already committed when its receipt is queued, and a crash between
the two loses only the receipt, which can be reprinted (:func:`reprint`).

The core builds the jobs as plain data and never produces printer bytes. Payloads by kind
(amounts are ints of minor units; times are the fair's local time, ISO 8601):

``receipt``
    ``fair`` {name, place, currency, locale, footer}, ``till`` {code, name}, ``sale`` {id,
    kind (sale/refund/void), refers_to, at, seq, hash, reason}, ``cashier``, ``groups`` —
    one per producer in order of appearance: {producer {id, code, name}, lines [{no,
    product (an id, ``None`` for a free line), description, quantity, unit, unit_price,
    total}], total} —, ``currency``, ``total``, ``tenders`` [{method, name, currency,
    amount, change, applied, cash}], ``change``, ``solidarity`` ([{currency, amount}] or
    ``None`` when the till does not show it), ``solidarity_bp``, ``verify_path`` and,
    added at print time, ``verify_url`` and, on a sale's groups, ``labels`` [{scheme,
    name, granted_by, valid_until (ISO date or ``None``), url (absolute, or ``""``
    without a base URL), only [descriptions of the lines it covers, empty for all]}]
    (see :meth:`Spooler.with_labels`).
``x_report`` / ``z_report``
    ``fair``, ``till``, ``cashier``, ``session``, ``currency``, ``opened_at``,
    ``closed_at``, ``printed_at``, ``float``, ``counts``, ``totals``, ``by_method``
    [{method, name, amounts {currency: int}}], ``by_producer`` [{code, name, amounts}],
    ``movements``, ``expected_cash``, ``counted_cash``, ``discrepancy``, and for a Z-report
    the close entry's ``seq`` and ``hash``.
``settlement_slip``
    ``fair``, ``producer`` {code, name, kind}, ``rows`` (the producer's settlement per
    currency, as :meth:`feria.settlement.Settlement.to_json` gives them), ``payouts``,
    ``as_of`` {seq, hash}, ``digest``, ``printed_at``.
``test_page``
    ``fair``, ``till``, ``settings`` (the till's printer settings), ``printed_at``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pluggy
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, selectinload

from feria import hookimpl, journal, labels
from feria.accounts import User
from feria.cashbox.errors import SaleNotFound, SessionNotFound
from feria.cashbox.models import CashSession, Sale, Till
from feria.cashbox.printjobs import (
    ClaimedJob,
    claim,
    enqueue,
    mark_failed,
    mark_printed,
    next_due_in,
    printer_status,
)
from feria.catalogue.models import Fair, Producer, RuleVersion, utcnow
from feria.db import read_session
from feria.errors import FeriaError, NotFound
from feria.printing import PrinterError, PrintJob

__all__ = [
    "NoPrinter",
    "ReceiptQueue",
    "Spooler",
    "attach",
    "printer_status",
    "print_settlement_slip",
    "print_test_page",
    "print_x_report",
    "receipt_payload",
    "reprint",
    "start_spooler",
    "verification_path",
]

log = logging.getLogger("feria.receipts")

QUEUE_PLUGIN = "feria.receipts.queue"
HASH_SHOWN = 16  # hex digits of the journal hash printed on a receipt


class NoPrinter(FeriaError):
    """The till has no printer settings, or no installed plugin serves them."""

    code = "no_printer"
    status = 409


def verification_path(sale_id: int) -> str:
    """The path of a sale's public verification page (the receipt's QR code)."""
    return f"/verify/{sale_id}"


# -- payloads -----------------------------------------------------------------------------


def _zone(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def _local(at: dt.datetime | str | None, fair: Fair) -> str | None:
    """A stored UTC time as the fair's wall-clock time: what the shopper's watch says."""
    if at is None:
        return None
    if isinstance(at, str):
        at = dt.datetime.fromisoformat(at)
    local = at.replace(tzinfo=dt.UTC).astimezone(_zone(fair.timezone))
    return local.replace(tzinfo=None).isoformat(timespec="seconds")


def _fair(fair: Fair) -> dict[str, Any]:
    return {
        "id": fair.id,
        "name": fair.name,
        "place": fair.place or "",
        "currency": fair.currency,
        "locale": fair.locale,
        "footer": fair.receipt_footer or "",
    }


def _till(till: Till | None) -> dict[str, Any]:
    if till is None:
        return {"id": None, "code": "", "name": ""}
    return {"id": till.id, "code": till.code, "name": till.name or till.code}


def _person(db: Session, user_id: int | None) -> str:
    if user_id is None:
        return ""
    user = db.get(User, user_id)
    return (user.display_name or user.username) if user is not None else ""


def _producers(db: Session, ids: set[int]) -> dict[int, Producer]:
    if not ids:
        return {}
    return {p.id: p for p in db.scalars(select(Producer).where(Producer.id.in_(ids)))}


def _method_names(pm: pluggy.PluginManager | None, fair: Fair) -> dict[str, str]:
    if pm is None:
        return {}
    from feria.cashbox.sales import payment_methods

    try:
        return {code: m.name or code for code, m in payment_methods(pm, fair).items()}
    except Exception:  # a name on paper is not worth failing a receipt for
        log.exception("could not list payment methods for the receipt")
        return {}


def _sale_till(db: Session, sale: Sale) -> Till | None:
    session_id = sale.session_id
    if session_id is None and sale.refers_to is not None:
        original = db.get(Sale, sale.refers_to)
        session_id = original.session_id if original is not None else None
    if session_id is None:
        return None
    cs = db.get(CashSession, session_id)
    return db.get(Till, cs.till_id) if cs is not None else None


def receipt_payload(
    db: Session,
    sale: Sale,
    *,
    fair: Fair | None = None,
    till: Till | None = None,
    method_names: dict[str, str] | None = None,
    show_solidarity: bool | None = None,
) -> dict[str, Any]:
    """The receipt of ``sale`` (a sale, refund or void) as plain data.

    ``sale`` must have its lines, tenders and splits loaded. Everything on the receipt is
    read from the recorded rows and the journal entry, so a reprint says exactly what the
    first print said.
    """
    fair = fair or db.get(Fair, sale.fair_id)
    till = till if till is not None else _sale_till(db, sale)
    entry = db.get(journal.JournalEntry, sale.seq)
    body = json.loads(entry.body) if entry is not None else {}
    cashier_id = sale.user_id
    if cashier_id is None and sale.session_id is not None:
        cs = db.get(CashSession, sale.session_id)
        cashier_id = cs.cashier_id if cs is not None else None
    producers = _producers(db, {ln.producer_id for ln in sale.lines})
    groups: dict[int, dict[str, Any]] = {}
    for ln in sale.lines:
        group = groups.get(ln.producer_id)
        if group is None:
            p = producers.get(ln.producer_id)
            group = groups[ln.producer_id] = {
                "producer": {
                    "id": ln.producer_id,
                    "code": p.code if p else "",
                    "name": p.name if p else "",
                },
                "lines": [],
                "total": 0,
            }
        group["lines"].append(
            {
                "no": ln.line_no,
                "product": ln.product_id,
                "description": ln.description,
                "quantity": ln.quantity,
                "unit": ln.unit,
                "unit_price": ln.unit_price,
                "total": ln.total,
            }
        )
        group["total"] += ln.total
    names = method_names or {}
    tenders = [
        {
            "method": t.method,
            "name": names.get(t.method, t.method),
            "currency": t.currency,
            "amount": t.amount,
            "change": t.change,
            "applied": t.applied,
            "cash": bool(t.in_drawer),
        }
        for t in sale.tenders
    ]
    withheld: dict[str, int] = {}
    for s in sale.splits:
        withheld[s.currency] = withheld.get(s.currency, 0) + s.withheld
    rule = db.get(RuleVersion, sale.rule_version_id)
    if show_solidarity is None:
        show_solidarity = bool((till.printer or {}).get("show_solidarity", True)) if till else True
    solidarity = [{"currency": c, "amount": a} for c, a in sorted(withheld.items()) if a]
    return {
        "fair": _fair(fair),
        "till": _till(till),
        "sale": {
            "id": sale.id,
            "kind": sale.kind,
            "refers_to": sale.refers_to,
            "at": _local(sale.at, fair),
            "seq": sale.seq,
            "hash": entry.hash if entry is not None else "",
            "reason": body.get("reason", ""),
        },
        "cashier": _person(db, cashier_id),
        "groups": list(groups.values()),
        "currency": sale.currency,
        "total": sale.total,
        "tenders": tenders,
        "change": sum(t.change for t in sale.tenders if t.currency == sale.currency),
        "solidarity": solidarity if show_solidarity and solidarity else None,
        "solidarity_bp": rule.solidarity_bp if rule is not None else 0,
        "verify_path": verification_path(sale.id),
    }


def opens_drawer(sale: Sale) -> bool:
    """Cash changed hands: cash taken (a cash tender) or cash paid back from the drawer."""
    return any(t.in_drawer and (t.amount or t.change) for t in sale.tenders)


def session_report_payload(
    db: Session,
    report: dict[str, Any],
    *,
    method_names: dict[str, str] | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """An X- or Z-report (the dict :func:`feria.cashbox.sessions.report` returns) with the
    names a person reads instead of ids."""
    cs = db.get(CashSession, report["session"])
    fair = db.get(Fair, cs.fair_id)
    till = db.get(Till, cs.till_id)
    ids = {int(p) for p in report.get("by_producer", {})}
    producers = _producers(db, ids)
    names = method_names or {}
    return {
        "fair": _fair(fair),
        "till": _till(till),
        "cashier": _person(db, cs.cashier_id),
        "session": cs.id,
        "currency": report["currency"],
        "opened_at": _local(report.get("opened_at"), fair),
        "closed_at": _local(report.get("closed_at"), fair),
        "printed_at": _local(now or utcnow(), fair),
        "float": report.get("float", 0),
        "counts": report.get("counts", {}),
        "totals": report.get("totals", {}),
        "by_method": [
            {"method": m, "name": names.get(m, m), "amounts": amounts}
            for m, amounts in report.get("by_method", {}).items()
        ],
        "by_producer": [
            {
                "code": producers[int(p)].code if int(p) in producers else p,
                "name": producers[int(p)].name if int(p) in producers else "",
                "amounts": amounts,
            }
            for p, amounts in report.get("by_producer", {}).items()
        ],
        "movements": report.get("movements", {}),
        "expected_cash": report.get("expected_cash", {}),
        "counted_cash": report.get("counted_cash"),
        "discrepancy": report.get("discrepancy"),
        "seq": report.get("seq"),
        "hash": report.get("hash"),
    }


def settlement_slip_payload(
    db: Session, fair_id: int, producer_id: int, *, now: dt.datetime | None = None
) -> dict[str, Any]:
    """A producer's settlement as of now, to sign when they are paid."""
    from feria.settlement import settle

    fair = db.get(Fair, fair_id)
    producer = db.get(Producer, producer_id)
    if fair is None or producer is None:
        raise NotFound("there is no such fair or producer", field="producer")
    mine = settle(db, fair_id).for_producer(producer_id)
    data = mine.to_json()
    return {
        "fair": _fair(fair),
        "producer": {"code": producer.code, "name": producer.name, "kind": producer.kind},
        "rows": data["producers"],
        "payouts": data["payouts"],
        "as_of": data["as_of"],
        "digest": mine.digest(),
        "printed_at": _local(now or utcnow(), fair),
    }


# -- queueing -------------------------------------------------------------------------------


class ReceiptQueue:
    """Queues the prints of one database's events; registered on a plugin manager by
    :func:`attach` (the lifecycle hooks carry no engine, so the queue holds it)."""

    def __init__(self, engine: Engine, pm: pluggy.PluginManager) -> None:
        self.engine = engine
        self.pm = pm
        self._spoolers: list[Spooler] = []
        self._lock = threading.Lock()

    def add_spooler(self, spooler: Spooler) -> None:
        with self._lock:
            self._spoolers.append(spooler)

    def remove_spooler(self, spooler: Spooler) -> None:
        with self._lock:
            if spooler in self._spoolers:
                self._spoolers.remove(spooler)

    def wake(self) -> None:
        """Tell this process's spoolers a job is waiting, so it prints at once."""
        with self._lock:
            spoolers = list(self._spoolers)
        for spooler in spoolers:
            spooler.wake()

    def put(self, till_id: int, job: PrintJob, **kw: Any) -> int | None:
        job_id = enqueue(self.engine, till_id, job, **kw)
        self.wake()
        return job_id

    def _safely(self, what: str, work: Callable[[], None]) -> None:
        # The event is already committed: a failure here must never reach the cashier as
        # a failed sale. The receipt is lost, and can be reprinted.
        try:
            work()
        except Exception:
            log.exception("%s was not queued for printing; reprint it", what)

    @hookimpl
    def feria_sale_recorded(self, sale, fair, till):
        if till is None or not till.printer:
            return
        self._safely(f"the receipt of sale {sale.id}", lambda: self._receipt(sale, fair, till))

    @hookimpl
    def feria_sale_refunded(self, refund, original, fair):
        self._safely(
            f"the receipt of {refund.kind} {refund.id}", lambda: self._receipt(refund, fair, None)
        )

    @hookimpl
    def feria_cash_session_closed(self, session, report):
        self._safely(f"the Z-report of session {session.id}", lambda: self._z(session, report))

    def _receipt(self, sale: Sale, fair: Fair, till: Till | None) -> None:
        with read_session(self.engine) as db:
            if till is None:
                till = _sale_till(db, sale)
            if till is None or not till.printer:
                return
            payload = receipt_payload(
                db, sale, fair=fair, till=till, method_names=_method_names(self.pm, fair)
            )
        job = PrintJob("receipt", payload, open_drawer=opens_drawer(sale))
        self.put(till.id, job, key=f"receipt:{sale.id}", sale_id=sale.id)

    def _z(self, session: CashSession, report: dict[str, Any]) -> None:
        with read_session(self.engine) as db:
            till = db.get(Till, session.till_id)
            if till is None or not till.printer:
                return
            fair = db.get(Fair, session.fair_id)
            payload = session_report_payload(db, report, method_names=_method_names(self.pm, fair))
        self.put(till.id, PrintJob("z_report", payload), key=f"z_report:{session.id}")


def attach(engine: Engine, pm: pluggy.PluginManager) -> ReceiptQueue | None:
    """Queue receipts for ``engine``'s events on ``pm`` (idempotent).

    Called by the ``feria_startup`` hook and by :func:`start_spooler`; returns ``None``
    when this default plugin is blocked (``FERIA_DISABLE_PLUGINS=feria.receipts``).
    """
    if pm.is_blocked(__name__) or pm.is_blocked(QUEUE_PLUGIN):
        return None
    existing = pm.get_plugin(QUEUE_PLUGIN)
    if isinstance(existing, ReceiptQueue):
        if existing.engine is engine:
            return existing
        pm.unregister(existing)
    queue = ReceiptQueue(engine, pm)
    pm.register(queue, name=QUEUE_PLUGIN)
    return queue


@hookimpl
def feria_startup(engine, pm):
    attach(engine, pm)


def _queue(engine: Engine, pm: pluggy.PluginManager | None) -> ReceiptQueue:
    queue = attach(engine, pm) if pm is not None else None
    return queue if queue is not None else ReceiptQueue(engine, pm)  # type: ignore[arg-type]


def _printing_till(db: Session, till_id: int) -> Till:
    till = db.get(Till, till_id)
    if till is None:
        raise NotFound(f"there is no till {till_id}", field="till")
    if not till.printer:
        raise NoPrinter(f"till {till.code} has no printer settings", field="till")
    return till


def reprint(
    engine: Engine,
    pm: pluggy.PluginManager | None,
    sale_id: int,
    *,
    till_id: int | None = None,
) -> int:
    """Queue a copy of the receipt of ``sale_id`` (marked COPIA; it never opens the drawer)
    on ``till_id``, by default the till the sale was rung up at. Returns the job id."""
    with read_session(engine) as db:
        sale = db.scalar(
            select(Sale)
            .where(Sale.id == sale_id)
            .options(
                selectinload(Sale.lines), selectinload(Sale.tenders), selectinload(Sale.splits)
            )
        )
        if sale is None:
            raise SaleNotFound(f"there is no sale number {sale_id}", field="sale")
        if till_id is None:
            till = _sale_till(db, sale)
            if till is None:
                raise NoPrinter(
                    f"sale {sale_id} was not rung up at a till: say which till prints it",
                    field="till",
                )
            till_id = till.id
        till = _printing_till(db, till_id)
        fair = db.get(Fair, sale.fair_id)
        payload = receipt_payload(
            db, sale, fair=fair, till=till, method_names=_method_names(pm, fair)
        )
    job_id = _queue(engine, pm).put(
        till.id, PrintJob("receipt", payload, copy=True), sale_id=sale_id
    )
    assert job_id is not None
    return job_id


def print_x_report(engine: Engine, pm: pluggy.PluginManager | None, session_id: int) -> int:
    """Queue the X-report of a session (what it has taken so far) at its till."""
    from feria.cashbox.sessions import report

    with read_session(engine) as db:
        cs = db.get(CashSession, session_id)
        if cs is None:
            raise SessionNotFound(f"there is no cash session {session_id}", field="session")
        till = _printing_till(db, cs.till_id)
        fair = db.get(Fair, cs.fair_id)
        payload = session_report_payload(
            db, report(db, session_id), method_names=_method_names(pm, fair)
        )
    job_id = _queue(engine, pm).put(till.id, PrintJob("x_report", payload))
    assert job_id is not None
    return job_id


def print_settlement_slip(
    engine: Engine,
    pm: pluggy.PluginManager | None,
    *,
    fair_id: int,
    producer_id: int,
    till_id: int,
) -> int:
    """Queue a producer's settlement slip at ``till_id``."""
    with read_session(engine) as db:
        till = _printing_till(db, till_id)
        payload = settlement_slip_payload(db, fair_id, producer_id)
    job_id = _queue(engine, pm).put(till.id, PrintJob("settlement_slip", payload))
    assert job_id is not None
    return job_id


def print_test_page(engine: Engine, pm: pluggy.PluginManager | None, till_id: int) -> int:
    """Queue a test page at ``till_id``: the accents, the paper's width, a QR code."""
    with read_session(engine) as db:
        till = _printing_till(db, till_id)
        fair = db.get(Fair, till.fair_id)
        payload = {
            "fair": _fair(fair),
            "till": _till(till),
            "settings": {k: v for k, v in till.printer.items() if isinstance(v, str | int)},
            "printed_at": _local(utcnow(), fair),
        }
    job_id = _queue(engine, pm).put(till.id, PrintJob("test_page", payload))
    assert job_id is not None
    return job_id


# -- the spooler ------------------------------------------------------------------------------


class Spooler:
    """Prints queued jobs in a thread of its own, retrying with backoff.

    A printer that cannot print now (:class:`feria.printing.PrinterError`) is retried
    without end, after ``backoff_base`` × 2ⁿ seconds, at most ``backoff_max``: the receipts
    come out soon after it is back. Any other failure (no plugin serves the settings, a
    fault while laying out) is retried ``max_attempts`` times, then the job is marked
    failed and shows in the till's printer status.

    Several spoolers (threads or processes) can share one database: each job is claimed
    by one of them (see :mod:`feria.cashbox.printjobs`).
    """

    def __init__(
        self,
        engine: Engine,
        pm: pluggy.PluginManager,
        base_url: str = "",
        *,
        poll_interval: float = 2.0,
        backoff_base: float = 0.5,
        backoff_max: float = 10.0,
        lease: float = 120.0,
        max_attempts: int = 5,
    ) -> None:
        self.engine = engine
        self.pm = pm
        self.base_url = (base_url or "").rstrip("/")
        self.poll_interval = poll_interval
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.lease = lease
        self.max_attempts = max_attempts
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._queue: ReceiptQueue | None = None

    # -- running in a thread

    def start(self) -> Spooler:
        if self._thread is not None:
            return self
        self._queue = attach(self.engine, self.pm)
        if self._queue is not None:
            self._queue.add_spooler(self)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="feria-print-spooler", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the job being printed, if any (it is never cut off half-way)."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._queue is not None:
            self._queue.remove_spooler(self)
            self._queue = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        self._wake.set()

    def __enter__(self) -> Spooler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                if self.print_next():
                    continue
                due = next_due_in(self.engine)
            except Exception:  # the database is away: keep the thread, try again later
                log.exception("print spooler: could not reach the print queue")
                due = None
            wait = self.poll_interval if due is None else min(max(due, 0.02), self.poll_interval)
            self._wake.wait(wait)
            self._wake.clear()

    # -- one job at a time (also usable without a thread)

    def print_next(self) -> bool:
        """Claim and print one due job; ``False`` if none was due."""
        claimed = claim(self.engine, lease=self.lease)
        if claimed is None:
            return False
        self._print(claimed)
        return True

    def drain(self, timeout: float = 30.0) -> int:
        """Print every job that is due, waiting out retry delays for at most ``timeout``
        seconds; returns how many jobs were handled (printed or failed an attempt)."""
        handled = 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.print_next():
                handled += 1
                continue
            due = next_due_in(self.engine)
            if due is None:
                break
            time.sleep(min(max(due, 0.02), max(0.0, deadline - time.monotonic())))
        return handled

    def retry_delay(self, attempt: int) -> float:
        return min(self.backoff_max, self.backoff_base * 2 ** max(0, attempt - 1))

    def _print(self, claimed: ClaimedJob) -> None:
        try:
            printer = self._printer_for(claimed.till_id)
            printer.print_job(self._with_url(self.with_labels(claimed.job)))
        except PrinterError as exc:
            log.warning("till %s: printer %s: %s", claimed.till_id, exc.state, exc)
            mark_failed(
                self.engine,
                claimed,
                error=str(exc) or exc.state,
                failure=exc.state,
                retry_in=self.retry_delay(claimed.attempt),
            )
        except Exception as exc:
            log.exception("till %s: print job %s failed", claimed.till_id, claimed.id)
            retry = (
                None if claimed.attempt >= self.max_attempts else self.retry_delay(claimed.attempt)
            )
            message = exc.message if isinstance(exc, FeriaError) else f"{type(exc).__name__}: {exc}"
            mark_failed(self.engine, claimed, error=message, failure="error", retry_in=retry)
        else:
            mark_printed(self.engine, claimed)

    def _printer_for(self, till_id: int):
        with read_session(self.engine) as db:
            till = db.get(Till, till_id)
        if till is None or not till.printer:
            raise NoPrinter(f"till {till_id} has no printer settings", field="till")
        printer = self.pm.hook.feria_receipt_printer(till=till, settings=dict(till.printer))
        if printer is None:
            driver = till.printer.get("driver", "?")
            raise NoPrinter(
                f"no installed plugin prints with driver {driver!r} (till {till.code})",
                field="till",
            )
        return printer

    def with_labels(self, job: PrintJob) -> PrintJob:
        """A sale's receipt with, under each producer's lines, the certification labels
        valid *now*, as it is printed (``labels`` on each group; see the module's payloads).

        Read here, in the spooler, because a label is the registry's word on the day it is
        read, not part of the sale: a label revoked between the sale and the print is not
        printed, and a reprint shows what holds on the day it is reprinted. The sale's path
        never waits for it (``record_sale`` only queues the job). Each label prints its
        registry page's address as text, not a QR code: a code per label would add some 20
        lines to every receipt of a labelled producer, and the receipt's one QR code is the
        sale's verification. A job queued before receipts carried ids, or a label plugin
        that fails, prints without labels rather than not at all."""
        data = job.payload
        if job.kind != "receipt" or data.get("sale", {}).get("kind") != "sale":
            return job
        groups = [
            (
                group.get("producer", {}).get("id"),
                [
                    (line.get("product"), line.get("description") or "")
                    for line in group.get("lines", ())
                ],
            )
            for group in data.get("groups", ())
        ]
        if not any(producer_id is not None and lines for producer_id, lines in groups):
            return job
        try:
            with read_session(self.engine) as db:
                fair = db.get(Fair, data.get("fair", {}).get("id"))
                on = labels.today(fair.timezone if fair is not None else None)
                held = labels.labels_by_group(self.pm, db, groups, on)
        except Exception:
            log.exception("could not read the labels of sale %s", data["sale"].get("id"))
            return job
        groups = [
            {**group, "labels": [labels.as_json(h, self.base_url) for h in mine]}
            for group, mine in zip(data.get("groups", ()), held, strict=True)
        ]
        return PrintJob(
            job.kind, {**data, "groups": groups}, job.copy, job.open_drawer, dict(job.meta)
        )

    def _with_url(self, job: PrintJob) -> PrintJob:
        path = job.payload.get("verify_path")
        if not path or not self.base_url:
            return job
        payload = {**job.payload, "verify_url": self.base_url + path}
        return PrintJob(job.kind, payload, job.copy, job.open_drawer, dict(job.meta))


def start_spooler(
    engine: Engine, pm: pluggy.PluginManager, base_url: str = "", **kw: Any
) -> Spooler:
    """Start printing queued jobs in a background thread; call ``.stop()`` on the result.

    ``base_url`` is the app's public address (``FERIA_BASE_URL``): the receipts' QR codes
    lead to ``{base_url}/verify/{sale}``. Without it receipts print with no QR code.
    Keyword arguments tune the :class:`Spooler` (poll interval, backoff).
    """
    if not base_url:
        log.warning("print spooler started without a base URL: receipts print no QR code")
    return Spooler(engine, pm, base_url, **kw).start()
