"""Migration 0004 gives every product already in a database its sort key, on SQLite and on
PostgreSQL, and the catalogue's index over it; and it can be undone."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from feria import migrate
from feria.catalogue.models import name_sort_key


def _alembic(engine, verb: str, target: str) -> None:
    cfg = migrate.alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, verb)(cfg, target)


def _columns(engine) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns("products")}


def _indexes(engine) -> set[str]:
    return {i["name"] for i in sa.inspect(engine).get_indexes("products")}


def test_existing_products_get_their_sort_key(engine, fair):
    _alembic(engine, "downgrade", "0003")
    assert "sort_name" not in _columns(engine)
    assert "ix_products_active_name" in _indexes(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE products SET name = :name WHERE id = :id"),
            {"name": "Ámbar  Ñuble", "id": fair.products["honey"]},
        )

    migrate.upgrade(engine)

    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT name, sort_name FROM products")).all()
    assert rows and all(key == name_sort_key(name) for name, key in rows)
    assert ("Ámbar  Ñuble", "ambar n~uble") in rows
    indexes = _indexes(engine)
    assert {"ix_products_active_sort_name", "ix_products_category_sort_name"} <= indexes
    assert "ix_products_active_name" not in indexes
