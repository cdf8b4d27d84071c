"""product sort key: the catalogue is listed as a person sorts names (accents and case set
aside), the same on SQLite and PostgreSQL, over an index

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 10:00:00.000000
"""
import re
import unicodedata

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# Compared byte by byte on both databases (SQLite's BINARY, PostgreSQL's "C").
SORT_KEY = sa.String(length=200).with_variant(postgresql.VARCHAR(200, collation="C"), "postgresql")


def _key(name):
    # feria.catalogue.models.name_sort_key as of this revision.
    text = unicodedata.normalize("NFKD", (name or "").casefold()).replace("n\u0303", "n~")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", text).strip()[:200]


def upgrade() -> None:
    # NOT NULL with a default, so SQLite adds the column in place (no copy of the table,
    # which sales refer to); every row then gets its real key.
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sort_name', SORT_KEY, nullable=False, server_default=''))

    products = sa.table('products', sa.column('id', sa.Integer), sa.column('name', sa.String),
                        sa.column('sort_name', sa.String))
    conn = op.get_bind()
    rows = conn.execute(sa.select(products.c.id, products.c.name)).all()
    update = (
        sa.update(products)
        .where(products.c.id == sa.bindparam('pid'))
        .values(sort_name=sa.bindparam('key'))
    )
    for start in range(0, len(rows), 1000):
        chunk = rows[start:start + 1000]
        conn.execute(update, [{'pid': pid, 'key': _key(name)} for pid, name in chunk])

    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_index('ix_products_active_name')
        batch_op.drop_index('ix_products_category')
        batch_op.create_index('ix_products_active_sort_name', ['active', 'sort_name', 'id'], unique=False)
        batch_op.create_index('ix_products_category_sort_name', ['category', 'sort_name'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_index('ix_products_category_sort_name')
        batch_op.drop_index('ix_products_active_sort_name')
        batch_op.create_index('ix_products_category', ['category', 'name'], unique=False)
        batch_op.create_index('ix_products_active_name', ['active', 'name', 'id'], unique=False)
        batch_op.drop_column('sort_name')
