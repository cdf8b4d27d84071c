"""Statements for the sale's hot path: written with SQLAlchemy Core, compiled once per
dialect, executed on the driver's own cursor.

A sale runs about a dozen small statements. Through ``Connection.execute`` each one costs
13–30 µs of SQLAlchemy bookkeeping (cache lookup, parameter processing, result set-up,
events) against 2–3 µs for the driver to run it, which made the statements' overhead a
larger share of a sale than the fsync'd commit. A :class:`Prepared` statement keeps what
SQLAlchemy is good at, the SQL built from the table metadata and each column type's
conversions for the dialect, and does once what ``execute`` repeats every time.

It runs inside the caller's transaction (it borrows the connection SQLAlchemy began), so
everything it writes commits or rolls back with the rest. It does not support expanding
``IN`` parameters: a caller that needs a variable number of values compiles one statement
per count (as :mod:`feria.cashbox.sales` does for its product lookup).
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Dialect, Table, bindparam, insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import Executable

Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    positional: bool
    pick: Callable[[Mapping[str, Any]], Any]  # the driver's parameters from a mapping
    binds: tuple[tuple[Any, Processor], ...]  # (position or name, conversion)
    defaults: dict[str, Any]
    row: type | None
    results: tuple[tuple[int, Processor], ...]


class Prepared:
    """A Core statement run at the driver's speed inside a SQLAlchemy transaction.

    Parameters are passed by bind name, as to ``Connection.execute``; rows come back as
    named tuples with each column's type conversion applied (an SQLite ``DATETIME`` as a
    ``datetime``, a JSON column as Python data), the same values ``execute`` would give.
    """

    __slots__ = ("statement", "_by_dialect", "_guard")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}
        self._guard = threading.Lock()

    def _compiled(self, dialect: Dialect) -> _Compiled:
        key = f"{dialect.name}+{dialect.driver}"
        compiled = self._by_dialect.get(key)
        if compiled is None:
            with self._guard:
                compiled = self._by_dialect.get(key) or self._compile(dialect)
                self._by_dialect[key] = compiled
        return compiled

    def _compile(self, dialect: Dialect) -> _Compiled:
        c = self.statement.compile(dialect=dialect)
        if any(b.expanding for b in c.binds.values()):
            raise ValueError("a Prepared statement cannot have expanding IN parameters")
        names = tuple(c.positiontup) if c.positional else tuple(c.binds)
        # Values written into the statement itself (``kind == "cooperative"``).
        defaults = {name: b.value for name, b in c.binds.items() if not b.required}
        binds = []
        for i, name in enumerate(names):
            typ = c.binds[name].type.dialect_impl(dialect)
            process = typ.bind_processor(dialect)
            if process is not None:
                binds.append((i if c.positional else name, process))
        row, results = None, []
        columns = getattr(self.statement, "selected_columns", None)
        if columns is not None and getattr(self.statement, "is_select", False):
            keys = [str(col.key) for col in columns]
            # A column with no usable name (``max(id)``) is read by position.
            row = namedtuple("Row", keys, rename=True)  # noqa: PYI024
            for i, col in enumerate(columns):
                process = col.type.dialect_impl(dialect).result_processor(dialect, None)
                if process is not None:
                    results.append((i, process))
        return _Compiled(
            c.string,
            c.positional,
            _picker(names, c.positional),
            tuple(binds),
            defaults,
            row,
            tuple(results),
        )

    @staticmethod
    def _params(compiled: _Compiled, values: Mapping[str, Any]) -> Sequence | dict:
        if compiled.defaults:
            values = {**compiled.defaults, **values}
        params = compiled.pick(values)
        if compiled.binds:
            if compiled.positional:
                params = list(params)
            for where, process in compiled.binds:
                params[where] = process(params[where])
        return params

    def _rows(self, compiled: _Compiled, raw: Iterable[Sequence]) -> list:
        make = compiled.row._make  # type: ignore[union-attr]
        if not compiled.results:
            return [make(r) for r in raw]
        out = []
        for r in raw:
            r = list(r)
            for i, process in compiled.results:
                r[i] = process(r[i])
            out.append(make(r))
        return out

    def _execute(self, conn: Connection, params: Any, *, many: bool = False, fetch: bool = False):
        compiled = self._compiled(conn.dialect)
        cursor = conn.connection.driver_connection.cursor()
        try:
            if many:
                cursor.executemany(compiled.sql, [self._params(compiled, p) for p in params])
                return None
            cursor.execute(compiled.sql, self._params(compiled, params or {}))
            return self._rows(compiled, cursor.fetchall()) if fetch else cursor.rowcount
        except conn.dialect.loaded_dbapi.Error as exc:
            # The same exception ``execute`` raises (an ``IntegrityError`` for a duplicate
            # key), so callers catch SQLAlchemy's classes whichever way a statement ran.
            raise DBAPIError.instance(
                compiled.sql,
                params,
                exc,
                conn.dialect.loaded_dbapi.Error,
                dialect=conn.dialect,
                ismulti=many,
            ) from exc
        finally:
            cursor.close()

    def all(self, conn: Connection, params: Mapping[str, Any] | None = None) -> list:
        """Every row the statement returns."""
        return self._execute(conn, params, fetch=True)

    def first(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any:
        """The first row, or ``None``."""
        rows = self._execute(conn, params, fetch=True)
        return rows[0] if rows else None

    def run(self, conn: Connection, params: Mapping[str, Any] | None = None) -> int:
        """Run a statement that returns no rows; the number of rows it changed."""
        return self._execute(conn, params)

    def run_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement once per parameter set (one ``executemany``)."""
        if rows:
            self._execute(conn, rows, many=True)


def _picker(names: tuple[str, ...], positional: bool) -> Callable[[Mapping[str, Any]], Any]:
    """What turns the caller's mapping into the driver's parameters, fast (``itemgetter``
    runs in C): a sequence in the statement's order, or a fresh dict of the names."""
    if not positional:
        return lambda values: {name: values[name] for name in names}
    if not names:
        return lambda values: ()
    if len(names) == 1:
        name = names[0]
        return lambda values: (values[name],)
    return itemgetter(*names)


@lru_cache(maxsize=128)
def inserting(table: Table, columns: tuple[str, ...]) -> Prepared:
    """``INSERT INTO table (columns…)``, each value a parameter named for its column.

    Only the columns named are written (no other column's Python-side default), and
    nothing is returned: the caller knows the rows it writes."""
    values = {name: bindparam(name) for name in columns}
    return Prepared(insert(table).values(values).inline())
