"""The print queue: receipts, reports and slips waiting for a till's printer.

A job is written *after* the sale it prints is committed, and printed by a spooler thread
(:mod:`feria.receipts`), so a printer that is unplugged, out of paper or slow never
blocks or loses a sale. The queue is shared by every app process on one database:

* **Claiming** a job marks it ``printing`` with a lease, in a short transaction of its own
  (``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two processes never take the same
  row; SQLite's write lock, taken with ``BEGIN IMMEDIATE``, serializes the claim). The
  printer is driven outside any transaction.
* **One job per till at a time, oldest first**: a job is claimed only when no older job of
  its till is still waiting. So receipts come out in the order the sales were rung up,
  and a job waiting out its retry delay holds back the till's later jobs too: a printer
  that is down is knocked on once per delay, not once per queued receipt.
* **Nothing prints twice**: a job is printed by the one spooler that claimed it, and the
  receipt of a sale is queued once (``key`` is unique). A reprint is a new job marked as
  a copy. Only if a process dies between the paper coming out and marking the job
  printed does the lease expire and the job print again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    and_,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, aliased, mapped_column

from feria.catalogue.models import utcnow
from feria.db import Base, is_sqlite, read_session, write_session
from feria.printing import JOB_KINDS, PrintJob

STATUSES = ("pending", "printing", "printed", "failed")
WAITING = ("pending", "printing")


class QueuedPrintJob(Base):
    """A print job for one till, and where it stands."""

    __tablename__ = "print_jobs"
    # The spooler looks for waiting jobs; printed ones pile up all day.
    __table_args__ = (Index("ix_print_jobs_status_till", "status", "till_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    till_id: Mapped[int] = mapped_column(ForeignKey("tills.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    # The original receipt of a sale is queued once: "receipt:<sale id>". Copies have none.
    key: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    sale_id: Mapped[int | None] = mapped_column(Integer, index=True, nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    copy: Mapped[bool] = mapped_column(Boolean, default=False)
    open_drawer: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # What the last failure says about the printer: offline, out_of_paper, slow, error.
    failure: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    attempted_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    printed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job a spooler has taken: print it, then call :func:`mark_printed` or
    :func:`mark_failed` with ``id`` and ``attempt``."""

    id: int
    till_id: int
    attempt: int
    job: PrintJob


def enqueue(
    engine: Engine,
    till_id: int,
    job: PrintJob,
    *,
    key: str | None = None,
    sale_id: int | None = None,
    now: dt.datetime | None = None,
) -> int | None:
    """Queue ``job`` for ``till_id`` and return its id.

    With a ``key`` the job is queued at most once: a second call with the same key returns
    ``None`` and queues nothing (so a sale's receipt cannot be queued twice).
    """
    if job.kind not in JOB_KINDS:
        raise ValueError(f"unknown print job kind {job.kind!r}; expected one of {JOB_KINDS}")
    now = now or utcnow()
    row = QueuedPrintJob(
        till_id=till_id,
        kind=job.kind,
        key=key,
        sale_id=sale_id,
        payload=job.payload,
        copy=job.copy,
        open_drawer=job.open_drawer,
        status="pending",
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )
    try:
        with write_session(engine) as db:
            db.add(row)
            db.flush()
            return row.id
    except IntegrityError:
        if key is None:
            raise
        with read_session(engine) as db:
            if db.scalar(select(QueuedPrintJob.id).where(QueuedPrintJob.key == key)) is None:
                raise
        return None


def claim(
    engine: Engine, *, lease: float = 60.0, now: dt.datetime | None = None
) -> ClaimedJob | None:
    """Take the next job that is due, or return ``None`` if none is.

    Due: pending and past its retry time, or left ``printing`` by a spooler whose lease ran
    out (its process died). Only the oldest waiting job of a till can be due.
    """
    now = now or utcnow()
    job = QueuedPrintJob
    due = or_(
        and_(job.status == "pending", job.next_attempt_at <= now),
        and_(job.status == "printing", job.lease_until < now),
    )
    query = select(job.id).where(due, ~_held_back()).order_by(job.id).limit(1)
    if not is_sqlite(engine):
        query = query.with_for_update(skip_locked=True, of=job)
    with write_session(engine) as db:
        job_id = db.scalar(query)
        if job_id is None:
            return None
        db.execute(
            update(job)
            .where(job.id == job_id)
            .values(
                status="printing",
                attempts=job.attempts + 1,
                attempted_at=now,
                lease_until=now + dt.timedelta(seconds=lease),
            )
        )
        row = db.get(job, job_id)
        db.refresh(row)
        return ClaimedJob(
            id=row.id,
            till_id=row.till_id,
            attempt=row.attempts,
            job=PrintJob(
                kind=row.kind,
                payload=dict(row.payload),
                copy=row.copy,
                open_drawer=row.open_drawer,
                meta={"job": row.id, "till": row.till_id, "attempt": row.attempts},
            ),
        )


def mark_printed(engine: Engine, claimed: ClaimedJob, *, now: dt.datetime | None = None) -> None:
    now = now or utcnow()
    with write_session(engine) as db:
        db.execute(
            update(QueuedPrintJob)
            .where(QueuedPrintJob.id == claimed.id, QueuedPrintJob.status == "printing")
            .values(status="printed", printed_at=now, lease_until=None)
        )


def mark_failed(
    engine: Engine,
    claimed: ClaimedJob,
    *,
    error: str,
    failure: str,
    retry_in: float | None,
    now: dt.datetime | None = None,
) -> None:
    """Record a failed attempt: retried after ``retry_in`` seconds, or marked ``failed``
    for good when ``retry_in`` is ``None``."""
    now = now or utcnow()
    values: dict[str, Any] = {
        "last_error": error[:2000],
        "failure": failure,
        "lease_until": None,
    }
    if retry_in is None:
        values["status"] = "failed"
    else:
        values["status"] = "pending"
        values["next_attempt_at"] = now + dt.timedelta(seconds=retry_in)
    with write_session(engine) as db:
        db.execute(
            update(QueuedPrintJob)
            .where(QueuedPrintJob.id == claimed.id, QueuedPrintJob.status == "printing")
            .values(**values)
        )


def _held_back():
    job, older = QueuedPrintJob, aliased(QueuedPrintJob)
    return exists().where(
        older.till_id == job.till_id, older.id < job.id, older.status.in_(WAITING)
    )


def next_due_in(engine: Engine, *, now: dt.datetime | None = None) -> float | None:
    """Seconds until the first job a spooler could claim is due (0 if one is due now), or
    ``None`` when nothing waits: how long a spooler may sleep."""
    now = now or utcnow()
    job = QueuedPrintJob
    with read_session(engine) as db:
        soonest = db.scalar(
            select(func.min(func.coalesce(job.lease_until, job.next_attempt_at))).where(
                job.status.in_(WAITING), ~_held_back()
            )
        )
    if soonest is None:
        return None
    return max(0.0, (soonest - now).total_seconds())


# A job waiting longer than this without an error means the printer is slow or stuck.
SLOW_AFTER = dt.timedelta(seconds=20)


def printer_status(engine: Engine, till_id: int, *, now: dt.datetime | None = None) -> dict:
    """Where the printer of ``till_id`` stands, for the POS to warn the cashier.

    ``state`` is ``ok`` (nothing waiting or printing normally), ``offline``,
    ``out_of_paper``, ``slow`` or ``error`` (what the oldest waiting job last ran into),
    or ``not_configured`` when the till has no printer settings. ``warning`` is true when
    the cashier should be told: receipts are waiting and the printer is not printing them.
    """
    from feria.cashbox.models import Till

    now = now or utcnow()
    job = QueuedPrintJob
    with read_session(engine) as db:
        till = db.get(Till, till_id)
        configured = bool(till is not None and till.printer)
        pending = db.scalar(
            select(func.count()).where(job.till_id == till_id, job.status.in_(WAITING))
        )
        failed = db.scalar(
            select(func.count()).where(job.till_id == till_id, job.status == "failed")
        )
        last_success = db.scalar(select(func.max(job.printed_at)).where(job.till_id == till_id))
        head = db.execute(
            select(job.created_at, job.failure, job.last_error, job.attempted_at)
            .where(job.till_id == till_id, job.status.in_(WAITING))
            .order_by(job.id)
            .limit(1)
        ).first()
        last_failed = db.execute(
            select(job.last_error, job.attempted_at)
            .where(job.till_id == till_id, job.status == "failed")
            .order_by(job.attempted_at.desc())
            .limit(1)
        ).first()
    state, last_error, last_error_at = "ok", None, None
    if head is not None and head.failure:
        state, last_error, last_error_at = head.failure, head.last_error, head.attempted_at
    elif head is not None and now - head.created_at > SLOW_AFTER:
        state = "slow"
    elif last_failed is not None and (last_success is None or last_failed[1] > last_success):
        state, last_error, last_error_at = "error", last_failed[0], last_failed[1]
    if not configured:
        state = "not_configured"
    return {
        "till": till_id,
        "configured": configured,
        "state": state,
        "pending": int(pending or 0),
        "failed": int(failed or 0),
        "last_error": last_error,
        "last_error_at": _iso(last_error_at),
        "last_success_at": _iso(last_success),
        "oldest_pending_at": _iso(head.created_at) if head is not None else None,
        "warning": configured and state != "ok",
    }


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def job_status(engine: Engine, job_id: int) -> str | None:
    """``pending``, ``printing``, ``printed`` or ``failed`` (``None``: no such job)."""
    with read_session(engine) as db:
        return db.scalar(select(QueuedPrintJob.status).where(QueuedPrintJob.id == job_id))


def job_till(engine: Engine, job_id: int) -> int | None:
    with read_session(engine) as db:
        return db.scalar(select(QueuedPrintJob.till_id).where(QueuedPrintJob.id == job_id))
