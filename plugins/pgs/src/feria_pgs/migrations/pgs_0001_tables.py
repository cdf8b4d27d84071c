"""pgs: schemes, applications, visits, decisions, holdings and their status changes

Revision ID: pgs_0001
Revises:
Create Date: 2026-11-23

The rows are the registry's history, so the database refuses to update or delete them:
a correction (a suspension, a reinstatement, a revocation) is a new row.
"""

import sqlalchemy as sa
from alembic import op

revision = "pgs_0001"
down_revision = None
branch_labels = ("pgs",)
depends_on = "0001"

TABLES = (
    "pgs_schemes",
    "pgs_applications",
    "pgs_application_products",
    "pgs_visits",
    "pgs_visitors",
    "pgs_decisions",
    "pgs_committee_members",
    "pgs_holdings",
    "pgs_holding_products",
    "pgs_status_changes",
)
MESSAGE = "is append-only: record a suspension, reinstatement or revocation as a new entry"


def _participant_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("producer_id", sa.Integer(), sa.ForeignKey("producers.id"), nullable=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "pgs_schemes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("network_id", sa.Integer(), sa.ForeignKey("networks.id"), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("criteria", sa.Text(), nullable=False),
        sa.Column("logo", sa.String(300), nullable=False),
        sa.Column("validity_months", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("network_id", "code"),
    )
    op.create_table(
        "pgs_applications",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("scheme_id", sa.Integer(), sa.ForeignKey("pgs_schemes.id"), nullable=False),
        sa.Column("producer_id", sa.Integer(), sa.ForeignKey("producers.id"), nullable=False),
        sa.Column("applied_on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_pgs_applications_scheme_id", "pgs_applications", ["scheme_id"])
    op.create_index("ix_pgs_applications_producer_id", "pgs_applications", ["producer_id"])
    op.create_table(
        "pgs_application_products",
        sa.Column(
            "application_id",
            sa.Integer(),
            sa.ForeignKey("pgs_applications.id"),
            primary_key=True,
        ),
        sa.Column("product_id", sa.Integer(), sa.ForeignKey("products.id"), primary_key=True),
    )
    op.create_table(
        "pgs_visits",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "application_id", sa.Integer(), sa.ForeignKey("pgs_applications.id"), nullable=False
        ),
        sa.Column("visited_on", sa.Date(), nullable=False),
        sa.Column("findings", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_pgs_visits_application_id", "pgs_visits", ["application_id"])
    op.create_table(
        "pgs_visitors",
        *_participant_columns(),
        sa.Column("visit_id", sa.Integer(), sa.ForeignKey("pgs_visits.id"), nullable=False),
    )
    op.create_index("ix_pgs_visitors_visit_id", "pgs_visitors", ["visit_id"])
    op.create_table(
        "pgs_decisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "application_id",
            sa.Integer(),
            sa.ForeignKey("pgs_applications.id"),
            nullable=False,
            unique=True,
        ),
        sa.Column("visit_id", sa.Integer(), sa.ForeignKey("pgs_visits.id"), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("committee", sa.String(200), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("conditions", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "pgs_committee_members",
        *_participant_columns(),
        sa.Column("decision_id", sa.Integer(), sa.ForeignKey("pgs_decisions.id"), nullable=False),
    )
    op.create_index(
        "ix_pgs_committee_members_decision_id", "pgs_committee_members", ["decision_id"]
    )
    op.create_table(
        "pgs_holdings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "decision_id",
            sa.Integer(),
            sa.ForeignKey("pgs_decisions.id"),
            nullable=False,
            unique=True,
        ),
        sa.Column("scheme_id", sa.Integer(), sa.ForeignKey("pgs_schemes.id"), nullable=False),
        sa.Column("producer_id", sa.Integer(), sa.ForeignKey("producers.id"), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_pgs_holdings_scheme_id", "pgs_holdings", ["scheme_id"])
    op.create_index("ix_pgs_holdings_producer_id", "pgs_holdings", ["producer_id"])
    op.create_table(
        "pgs_holding_products",
        sa.Column("holding_id", sa.Integer(), sa.ForeignKey("pgs_holdings.id"), primary_key=True),
        sa.Column("product_id", sa.Integer(), sa.ForeignKey("products.id"), primary_key=True),
    )
    op.create_table(
        "pgs_status_changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("holding_id", sa.Integer(), sa.ForeignKey("pgs_holdings.id"), nullable=False),
        sa.Column("change", sa.String(16), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_pgs_status_changes_holding_id", "pgs_status_changes", ["holding_id"])
    _refuse_changes(op.get_bind().dialect.name)


def _refuse_changes(dialect: str) -> None:
    if dialect == "sqlite":
        for table in TABLES:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} {MESSAGE}'); END"
                )
        return
    op.execute(
        "CREATE OR REPLACE FUNCTION pgs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN RAISE EXCEPTION '% {MESSAGE}', TG_TABLE_NAME; END $$"
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION pgs_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION pgs_append_only()"
        )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)  # its triggers go with it
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION IF EXISTS pgs_append_only()")
