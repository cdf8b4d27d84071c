"""Database triggers that make the record append-only, on SQLite and PostgreSQL.

The application never updates or deletes these rows; the triggers make the database refuse
it too, so a slip in a script or a careless ``UPDATE`` cannot quietly change a recorded sale.
(Someone with full control of the database can drop the triggers; that is what the journal's
hash chain and the published head are for.)
"""

from __future__ import annotations

APPEND_ONLY_TABLES = (
    "journal_entries",
    "sales",
    "sale_lines",
    "tenders",
    "splits",
    "member_splits",
    "cash_movements",
    "rule_versions",
)
# Written once more (a close, an acknowledgement), then frozen: (table, frozen-when condition).
WRITE_ONCE_TABLES = (
    ("cash_sessions", "OLD.closed_at IS NOT NULL"),
    ("payouts", "OLD.ack_seq IS NOT NULL"),
)
NO_DELETE_TABLES = ("cash_sessions", "payouts", "journal_head")

MESSAGE = "is append-only: record a correction as a new entry"


def sqlite_statements() -> list[str]:
    out = []
    for t in APPEND_ONLY_TABLES:
        for op in ("UPDATE", "DELETE"):
            out.append(
                f"CREATE TRIGGER {t}_no_{op.lower()} BEFORE {op} ON {t} "
                f"BEGIN SELECT RAISE(ABORT, '{t} {MESSAGE}'); END"
            )
    for t, cond in WRITE_ONCE_TABLES:
        out.append(
            f"CREATE TRIGGER {t}_frozen BEFORE UPDATE ON {t} WHEN {cond} "
            f"BEGIN SELECT RAISE(ABORT, '{t} {MESSAGE}'); END"
        )
    for t in NO_DELETE_TABLES:
        out.append(
            f"CREATE TRIGGER {t}_no_delete BEFORE DELETE ON {t} "
            f"BEGIN SELECT RAISE(ABORT, '{t} {MESSAGE}'); END"
        )
    return out


def postgresql_statements() -> list[str]:
    out = [
        "CREATE OR REPLACE FUNCTION feria_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN RAISE EXCEPTION '% {MESSAGE}', TG_TABLE_NAME; END $$"
    ]
    for t in APPEND_ONLY_TABLES:
        out.append(
            f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
            "FOR EACH ROW EXECUTE FUNCTION feria_append_only()"
        )
    for t, cond in WRITE_ONCE_TABLES:
        out.append(
            f"CREATE TRIGGER {t}_frozen BEFORE UPDATE ON {t} FOR EACH ROW WHEN ({cond}) "
            "EXECUTE FUNCTION feria_append_only()"
        )
    for t in (*APPEND_ONLY_TABLES, *NO_DELETE_TABLES):
        out.append(
            f"CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} "
            "FOR EACH STATEMENT EXECUTE FUNCTION feria_append_only()"
        )
    for t in NO_DELETE_TABLES:
        out.append(
            f"CREATE TRIGGER {t}_no_delete BEFORE DELETE ON {t} "
            "FOR EACH ROW EXECUTE FUNCTION feria_append_only()"
        )
    return out


def install(op_or_conn, dialect: str) -> None:
    """Create the triggers; ``op_or_conn`` is an Alembic ``op`` (or anything with ``execute``)."""
    stmts = sqlite_statements() if dialect == "sqlite" else postgresql_statements()
    for stmt in stmts:
        op_or_conn.execute(stmt)


def drop_statements(dialect: str) -> list[str]:
    """The statements that remove every trigger (used only by tamper tests, to play the
    administrator with database access the journal must still catch)."""
    names = []
    for t in APPEND_ONLY_TABLES:
        names += (
            [(t, f"{t}_no_update"), (t, f"{t}_no_delete")]
            if dialect == "sqlite"
            else [(t, f"{t}_append_only"), (t, f"{t}_no_truncate")]
        )
    for t, _ in WRITE_ONCE_TABLES:
        names.append((t, f"{t}_frozen"))
    for t in NO_DELETE_TABLES:
        names.append((t, f"{t}_no_delete"))
        if dialect != "sqlite":
            names.append((t, f"{t}_no_truncate"))
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {n}" for _, n in names]
    return [f"DROP TRIGGER IF EXISTS {n} ON {t}" for t, n in names]
