"""social currency: currencies, rates, accounts, movements, vouchers, demurrage

Revision ID: sc0001
Revises:
Create Date: 2026-11-23 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "sc0001"
down_revision = None
branch_labels = ("social_currency",)
depends_on = "0001"

# Where money moves, rows are only ever added; accounts are never deleted.
APPEND_ONLY = (
    "social_currency_currencies",
    "social_currency_rates",
    "social_currency_movements",
    "social_currency_vouchers",
    "social_currency_redemptions",
    "social_currency_refused",
    "social_currency_demurrage_rules",
    "social_currency_demurrage_runs",
)
NO_DELETE = ("social_currency_accounts",)
MESSAGE = "is append-only: record a correction as a new entry"


def upgrade() -> None:
    op.create_table(
        "social_currency_currencies",
        sa.Column("code", sa.String(8), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("decimals", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("backing_currency", sa.String(8), nullable=True),
        sa.Column("default_debit_limit", sa.BigInteger(), nullable=False),
        sa.Column("default_credit_limit", sa.BigInteger(), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('community_bank', 'mutual_credit', 'barter')",
            name="social_currency_currencies_kind",
        ),
    )
    op.create_table(
        "social_currency_rates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "code",
            sa.String(8),
            sa.ForeignKey("social_currency_currencies.code"),
            nullable=False,
            index=True,
        ),
        sa.Column("rate", sa.String(32), nullable=False),
        sa.Column("effective_at", sa.DateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "social_currency_accounts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "code",
            sa.String(8),
            sa.ForeignKey("social_currency_currencies.code"),
            nullable=False,
            index=True,
        ),
        sa.Column("number", sa.String(32), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column(
            "producer_id", sa.Integer(), sa.ForeignKey("producers.id"), nullable=True, index=True
        ),
        sa.Column("fair_id", sa.Integer(), sa.ForeignKey("fairs.id"), nullable=True),
        sa.Column("debit_limit", sa.BigInteger(), nullable=True),
        sa.Column("credit_limit", sa.BigInteger(), nullable=True),
        sa.Column("pin_hash", sa.String(200), nullable=True),
        sa.Column("card_no", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "debit_limit IS NULL OR debit_limit >= 0", name="social_currency_accounts_debit"
        ),
        sa.CheckConstraint(
            "credit_limit IS NULL OR credit_limit >= 0", name="social_currency_accounts_credit"
        ),
    )
    op.create_table(
        "social_currency_movements",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False, index=True),
        sa.Column(
            "code",
            sa.String(8),
            sa.ForeignKey("social_currency_currencies.code"),
            nullable=False,
            index=True,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column(
            "from_account",
            sa.Integer(),
            sa.ForeignKey("social_currency_accounts.id"),
            nullable=False,
            index=True,
        ),
        sa.Column(
            "to_account",
            sa.Integer(),
            sa.ForeignKey("social_currency_accounts.id"),
            nullable=False,
            index=True,
        ),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("backing", sa.BigInteger(), nullable=True),
        sa.Column("sale_id", sa.Integer(), nullable=True),
        sa.Column("tender_no", sa.Integer(), nullable=True),
        sa.Column("payout_id", sa.Integer(), nullable=True),
        sa.Column("voucher", sa.String(32), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("sale_id", "tender_no"),
        sa.UniqueConstraint("payout_id"),
        sa.CheckConstraint("amount > 0", name="social_currency_movements_amount"),
        sa.CheckConstraint("from_account <> to_account", name="social_currency_movements_accounts"),
    )
    op.create_table(
        "social_currency_vouchers",
        sa.Column("serial", sa.String(32), primary_key=True),
        sa.Column(
            "code",
            sa.String(8),
            sa.ForeignKey("social_currency_currencies.code"),
            nullable=False,
            index=True,
        ),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("amount > 0", name="social_currency_vouchers_amount"),
    )
    op.create_table(
        "social_currency_redemptions",
        sa.Column(
            "serial",
            sa.String(32),
            sa.ForeignKey("social_currency_vouchers.serial"),
            primary_key=True,
        ),
        sa.Column("sale_id", sa.Integer(), nullable=False),
        sa.Column("tender_no", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "social_currency_refused",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(), nullable=False, index=True),
        sa.Column("code", sa.String(8), nullable=True),
        sa.Column("what", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("fair_id", sa.Integer(), nullable=True),
        sa.Column("sale_key", sa.String(128), nullable=True),
    )
    op.create_table(
        "social_currency_demurrage_rules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "code",
            sa.String(8),
            sa.ForeignKey("social_currency_currencies.code"),
            nullable=False,
            index=True,
        ),
        sa.Column("bp", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(8), nullable=False),
        sa.Column("effective_at", sa.DateTime(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "social_currency_demurrage_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "code", sa.String(8), sa.ForeignKey("social_currency_currencies.code"), nullable=False
        ),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("bp", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("code", "period"),
    )
    dialect = op.get_bind().dialect.name
    for stmt in _sqlite_triggers() if dialect == "sqlite" else _postgresql_triggers():
        op.execute(stmt)


def _sqlite_triggers() -> list[str]:
    out = []
    for t in APPEND_ONLY:
        for what in ("UPDATE", "DELETE"):
            out.append(
                f"CREATE TRIGGER {t}_no_{what.lower()} BEFORE {what} ON {t} "
                f"BEGIN SELECT RAISE(ABORT, '{t} {MESSAGE}'); END"
            )
    for t in NO_DELETE:
        out.append(
            f"CREATE TRIGGER {t}_no_delete BEFORE DELETE ON {t} "
            f"BEGIN SELECT RAISE(ABORT, '{t} {MESSAGE}'); END"
        )
    return out


def _postgresql_triggers() -> list[str]:
    out = [
        "CREATE OR REPLACE FUNCTION social_currency_append_only() RETURNS trigger "
        f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '% {MESSAGE}', TG_TABLE_NAME; END $$"
    ]
    for t in APPEND_ONLY:
        out.append(
            f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
            "FOR EACH ROW EXECUTE FUNCTION social_currency_append_only()"
        )
    for t in NO_DELETE:
        out.append(
            f"CREATE TRIGGER {t}_no_delete BEFORE DELETE ON {t} "
            "FOR EACH ROW EXECUTE FUNCTION social_currency_append_only()"
        )
    for t in (*APPEND_ONLY, *NO_DELETE):
        out.append(
            f"CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} "
            "FOR EACH STATEMENT EXECUTE FUNCTION social_currency_append_only()"
        )
    return out


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS social_currency_append_only() CASCADE")
    for t in (
        "social_currency_demurrage_runs",
        "social_currency_demurrage_rules",
        "social_currency_refused",
        "social_currency_redemptions",
        "social_currency_vouchers",
        "social_currency_movements",
        "social_currency_accounts",
        "social_currency_rates",
        "social_currency_currencies",
    ):
        op.drop_table(t)
