"""stripe: the webhook events already processed

Revision ID: stripe_0001
Revises:
Create Date: 2026-11-25

One row per Stripe event id acted on, so an event delivered twice is acted on once.
"""

import sqlalchemy as sa
from alembic import op

revision = "stripe_0001"
down_revision = None
branch_labels = ("stripe",)
depends_on = "0001"


def upgrade() -> None:
    op.create_table(
        "stripe_events",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("object_id", sa.String(255), nullable=False),
        sa.Column("outcome", sa.String(500), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("stripe_events")
