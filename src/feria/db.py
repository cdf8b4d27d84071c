"""Storage: one SQLAlchemy engine per process, tuned so a fair laptop never shows
"database is locked" to a person.

SQLite is the embedded default (one laptop, no internet). It runs in WAL mode so readers
never wait for the till that is writing, with ``synchronous=FULL`` because a sale that the
cashier saw confirmed must survive a power cut, and with a generous busy timeout. Writes
open their transaction with ``BEGIN IMMEDIATE``: taking the write lock up front means two
tills never deadlock upgrading a read lock, they simply queue.

``FERIA_DATABASE_URL=postgresql+psycopg://…`` runs the same code on PostgreSQL.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

M = TypeVar("M")

DEFAULT_SQLITE_PATH = Path("var") / "feria.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000


class Base(DeclarativeBase):
    """The declarative base of every feria table."""


def database_url(url: str | None = None) -> str:
    """The URL to use: the argument, else ``FERIA_DATABASE_URL``, else ``var/feria.db``."""
    if url:
        return url
    env = os.environ.get("FERIA_DATABASE_URL")
    if env:
        return env
    DEFAULT_SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str | None = None, **kwargs) -> Engine:
    """Create the engine for ``url`` with feria's connection settings applied."""
    url = database_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            **kwargs,
        )
        _tune_sqlite(engine)
    else:
        kwargs.setdefault("pool_pre_ping", True)
        engine = create_engine(url, **kwargs)
    return engine


def _tune_sqlite(engine: Engine) -> None:
    synchronous = os.environ.get("FERIA_SQLITE_SYNCHRONOUS", "FULL").upper()
    if synchronous not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
        raise ValueError("FERIA_SQLITE_SYNCHRONOUS must be OFF, NORMAL, FULL or EXTRA")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        try:
            conn.connection.driver_connection.execute(_BEGIN[mode])
        except sqlite3.Error as exc:  # raised as any statement's error would be
            raise DBAPIError.instance(_BEGIN[mode], (), exc, sqlite3.Error) from exc


_BEGIN = {mode: f"BEGIN {mode}" for mode in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE")}


_writers: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def writer(engine: Engine) -> Engine:
    """The same engine, but every transaction takes the write lock when it begins."""
    if not is_sqlite(engine):
        return engine
    found = _writers.get(engine)
    if found is None:
        found = _writers[engine] = engine.execution_options(sqlite_begin="IMMEDIATE")
    return found


_writer_locks: dict[str, threading.RLock] = {}
_writer_locks_guard = threading.Lock()


def _writer_lock(engine: Engine) -> threading.RLock | None:
    """One lock per SQLite database in this process.

    SQLite lets one writer in at a time and makes the others poll, sleeping up to 100 ms
    between tries in no particular order, so under load some tills would wait seconds.
    Queueing this process's writers on a lock instead hands the database over as soon as
    it is free; other processes still meet SQLite's busy timeout.
    """
    if not is_sqlite(engine):
        return None
    lock = _engine_locks.get(engine)
    if lock is None:
        with _writer_locks_guard:
            lock = _writer_locks.setdefault(str(engine.url), threading.RLock())
        _engine_locks[engine] = lock
    return lock


_engine_locks: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """A session for one write transaction: committed on success, rolled back on error."""
    lock = _writer_lock(engine)
    if lock is None:
        with Session(writer(engine), expire_on_commit=False) as session, session.begin():
            yield session
        return
    with lock, Session(writer(engine), expire_on_commit=False) as session, session.begin():
        yield session


@contextmanager
def write_connection(engine: Engine) -> Iterator[Connection]:
    """A Core connection in one write transaction, committed on success.

    For the sale's hot path, which needs no ORM: a Session's own bookkeeping costs about
    as much as the statements of a sale (see :mod:`feria.prepared`)."""
    lock = _writer_lock(engine)
    with lock or nullcontext(), writer(engine).begin() as conn:
        yield conn


def connection_of(db: Session | Connection) -> Connection:
    """The connection of ``db``, which is a Session or already a Connection."""
    return db if isinstance(db, Connection) else db.connection()


def as_loaded(model: type[M], values: Mapping[str, Any]) -> M:
    """An instance of ``model`` holding ``values`` as if loaded from the database (in no
    session), built without the change events its constructor fires.

    For the objects the hot paths build from rows they read themselves and hand to
    plugins, which read them and never save them: a ``Fair(**row)`` cost 12 µs, this 1 µs.
    """
    manager = _managers.get(model) or _manager(model)
    instance = manager.new_instance()
    instance.__dict__.update(values)
    return instance


_managers: dict[type, Any] = {}


def _manager(model: type) -> Any:
    manager = _managers[model] = inspect(model).class_manager
    return manager


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A session for reading; nothing it does is committed."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
