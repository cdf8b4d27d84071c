"""Schema migrations (Alembic), and the start-up check that refuses an unmigrated database."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from feria.errors import FeriaError


class DatabaseNotMigrated(FeriaError):
    code = "database_not_migrated"
    status = 503


def alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "feria:migrations")
    if engine is not None:
        cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database up to ``revision`` (the newest by default)."""
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def ensure_migrated(engine: Engine) -> None:
    """Refuse to start on a database that is not at the newest schema, saying what to run."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        where = "is empty" if current is None else f"is at revision {current}"
        raise DatabaseNotMigrated(
            f"the database {where}, feria needs revision {head}: run `feria db upgrade`"
        )
