"""Schema migrations (Alembic), and the start-up check that refuses an unmigrated database.

The core's revisions live in ``feria/migrations/versions``. A plugin with tables of its own
ships its revisions as a separate Alembic *branch* (``branch_labels = ("<plugin>",)``,
``depends_on`` the core revision it builds on) in a directory it returns from the
``feria_migration_dirs`` hook; ``feria db upgrade`` brings every branch to its head.
"""

from __future__ import annotations

import os
from importlib import resources

import pluggy
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from feria.errors import FeriaError


class DatabaseNotMigrated(FeriaError):
    code = "database_not_migrated"
    status = 503


def _plugin_dirs(pm: pluggy.PluginManager | None) -> list[str]:
    if pm is None:
        from feria.plugins import get_plugin_manager

        pm = get_plugin_manager()
    dirs: list[str] = []
    for found in pm.hook.feria_migration_dirs():
        dirs.extend(str(d) for d in found or ())
    return dirs


def alembic_config(engine: Engine | None = None, pm: pluggy.PluginManager | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "feria:migrations")
    core = str(resources.files("feria") / "migrations" / "versions")
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join([core, *_plugin_dirs(pm)]))
    if engine is not None:
        cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def upgrade(engine: Engine, pm: pluggy.PluginManager | None = None) -> None:
    """Bring the database up to the newest revision of the core and of every plugin."""
    cfg = alembic_config(engine, pm)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")


def head_revisions(pm: pluggy.PluginManager | None = None) -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config(pm=pm)).get_heads())


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def ensure_migrated(engine: Engine, pm: pluggy.PluginManager | None = None) -> None:
    """Refuse to start on a database that is not at the newest schema, saying what to run."""
    current, heads = current_revisions(engine), head_revisions(pm)
    if current != heads:
        where = "is empty" if not current else f"is at revision {', '.join(sorted(current))}"
        raise DatabaseNotMigrated(
            f"the database {where}, feria needs revision {', '.join(sorted(heads))}: "
            "run `feria db upgrade`"
        )
