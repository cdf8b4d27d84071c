"""The throwaway PostgreSQL server that the test suite runs against."""

from __future__ import annotations

import pytest
import sqlalchemy

from feria.testing.pgserver import PostgresServer, PostgresUnavailable


def test_created_database_serves_sqlalchemy_and_stop_removes_the_data_dir() -> None:
    with PostgresServer() as server:
        base_dir = server.base_dir
        assert base_dir is not None and server.data_dir.is_dir()

        url = server.create_database("feria_smoke")
        assert url == f"postgresql+psycopg://feria@127.0.0.1:{server.port}/feria_smoke"

        engine = sqlalchemy.create_engine(url)
        try:
            with engine.connect() as conn:
                assert conn.execute(sqlalchemy.text("select 1")).scalar_one() == 1
                assert conn.execute(sqlalchemy.text("select current_database()")).scalar_one() == (
                    "feria_smoke"
                )
                version = conn.execute(sqlalchemy.text("show server_version")).scalar_one()
                assert int(version.split(".")[0]) >= 13
        finally:
            engine.dispose()

        server.drop_database("feria_smoke")
        with sqlalchemy.create_engine(server.url()).connect() as conn:
            names = conn.execute(sqlalchemy.text("select datname from pg_database")).scalars()
            assert "feria_smoke" not in set(names)

    assert not server.running
    assert not base_dir.exists()


def test_database_created_from_template_copies_its_tables() -> None:
    with PostgresServer() as server:
        template_engine = sqlalchemy.create_engine(server.create_database("feria_template"))
        with template_engine.begin() as conn:
            conn.execute(sqlalchemy.text("create table stall (name text)"))
            conn.execute(sqlalchemy.text("insert into stall values ('Cooperativa La Minga')"))
        template_engine.dispose()  # PostgreSQL copies only templates nobody is connected to

        engine = sqlalchemy.create_engine(
            server.create_database("feria_copy", template="feria_template")
        )
        try:
            with engine.connect() as conn:
                names = conn.execute(sqlalchemy.text("select name from stall")).scalars().all()
        finally:
            engine.dispose()
        assert names == ["Cooperativa La Minga"]


def test_missing_postgres_programs_raise_unavailable_with_install_hint(tmp_path) -> None:
    with pytest.raises(PostgresUnavailable, match="apt-get install postgresql"):
        PostgresServer(bindir=tmp_path).start()
