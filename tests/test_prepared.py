"""Prepared statements give what ``Connection.execute`` gives, on both databases."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    func,
    select,
)
from sqlalchemy.exc import IntegrityError

from feria.prepared import Prepared, inserting

metadata = MetaData()
things = Table(
    "prepared_things",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(20), nullable=False),
    Column("kind", String(10), default="plain"),
    Column("at", DateTime(timezone=True)),
    Column("on", Date),
    Column("active", Boolean),
    Column("data", JSON),
)

ROWS = [
    {
        "id": 1,
        "name": "honey",
        "kind": "food",
        "at": dt.datetime(2026, 12, 1, 10, 30, 5, 123456, tzinfo=dt.UTC),
        "on": dt.date(2026, 12, 1),
        "active": True,
        "data": {"ref": "ñandú", "n": [1, 2]},
    },
    {
        "id": 2,
        "name": "scarf",
        "kind": "craft",
        "at": dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC),
        "on": dt.date(2026, 12, 2),
        "active": False,
        "data": {},
    },
]


@pytest.fixture
def table(engine):
    metadata.create_all(engine)
    with engine.begin() as conn:
        inserting(things, tuple(ROWS[0])).run_many(conn, ROWS)
    return things


def test_rows_come_back_as_execute_gives_them_with_each_type_converted(engine, table):
    statement = select(table).order_by(table.c.id)
    with engine.connect() as conn:
        expected = [tuple(r) for r in conn.execute(statement)]
        got = Prepared(statement).all(conn)
    assert [tuple(r) for r in got] == expected
    assert got[0].on == dt.date(2026, 12, 1)
    assert got[0].data == {"ref": "ñandú", "n": [1, 2]}
    assert got[1].active is False
    assert got[0].at.replace(tzinfo=None) == dt.datetime(2026, 12, 1, 10, 30, 5, 123456)


def test_named_parameters_and_values_written_into_the_statement_are_both_sent(engine, table):
    statement = (
        select(table.c.name)
        .where(table.c.kind != "nothing", table.c.id >= bindparam("from_id"))
        .order_by(table.c.id)
        .limit(1)
    )
    with engine.connect() as conn:
        assert Prepared(statement).first(conn, {"from_id": 2}).name == "scarf"
        assert Prepared(statement).first(conn, {"from_id": 3}) is None


def test_a_column_without_a_name_is_read_by_position(engine, table):
    with engine.connect() as conn:
        assert Prepared(select(func.max(table.c.id))).first(conn)[0] == 2


def test_a_duplicate_key_raises_sqlalchemys_integrity_error(engine, table):
    with pytest.raises(IntegrityError, match="prepared_things"), engine.begin() as conn:
        inserting(table, ("id", "name")).run(conn, {"id": 1, "name": "again"})


def test_inserting_writes_only_the_columns_it_names(engine, table):
    with engine.begin() as conn:
        inserting(table, ("id", "name")).run(conn, {"id": 3, "name": "bare"})
        row = conn.execute(select(table.c.kind, table.c.data).where(table.c.id == 3)).one()
    # The column's Python-side default ("plain") is not applied: the caller writes rows
    # whole, and a silent default would hide a column it forgot.
    assert tuple(row) == (None, None)


def test_it_writes_in_the_callers_transaction(engine, table):
    with pytest.raises(RuntimeError), engine.begin() as conn:
        inserting(table, ("id", "name")).run(conn, {"id": 4, "name": "undone"})
        raise RuntimeError("the caller fails after the insert")
    with engine.connect() as conn:
        assert Prepared(select(table.c.id).where(table.c.id == 4)).first(conn) is None


def test_an_update_says_how_many_rows_it_changed(engine, table):
    from sqlalchemy import update

    statement = Prepared(update(table).where(table.c.id == bindparam("pk")).values(name="x"))
    with engine.begin() as conn:
        assert statement.run(conn, {"pk": 2}) == 1
        assert statement.run(conn, {"pk": 99}) == 0


def test_an_expanding_in_list_is_refused_when_first_run(engine, table):
    statement = Prepared(select(table.c.id).where(table.c.id.in_(bindparam("ids", expanding=True))))
    with engine.connect() as conn, pytest.raises(ValueError, match="expanding IN"):
        statement.all(conn, {"ids": [1, 2]})


def test_an_object_built_as_loaded_reads_like_one_its_constructor_made():
    from sqlalchemy import inspect

    from feria.catalogue.models import Fair
    from feria.db import as_loaded

    values = {
        "id": 7,
        "network_id": 1,
        "slug": "feria-de-otono",
        "name": "Feria de Otoño",
        "starts_on": dt.date(2026, 4, 1),
        "ends_on": dt.date(2026, 4, 2),
        "currency": "CLP",
    }
    built, made = as_loaded(Fair, values), Fair(**values)
    columns = [c.key for c in Fair.__table__.columns]
    assert [getattr(built, c) for c in columns] == [getattr(made, c) for c in columns]
    assert inspect(built).transient
    built.name = "Otra"  # still an ordinary mapped object: a change is tracked
    assert inspect(built).attrs.name.history.added == ["Otra"]
