"""The catalogue: network, fairs, producers (and cooperative members), products, and the
fair rules the network's assembly decides.

Amounts are integer minor units beside their currency code (see :mod:`feria.money`).
Decimal quantities are stored as canonical decimal text, so SQLite and PostgreSQL hold
exactly the same value.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column, relationship

from feria.db import Base

PRODUCER_KINDS = ("individual", "association", "cooperative")
UNITS = ("piece", "kg", "g", "l")
WEIGHED_UNITS = ("kg", "g", "l")
SHARES_WHOLE = 10_000  # cooperative member shares are basis points of the whole


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


SORT_KEY_LENGTH = 200

SortKey = String(SORT_KEY_LENGTH).with_variant(
    postgresql.VARCHAR(SORT_KEY_LENGTH, collation="C"), "postgresql"
)
"""The type of a stored sort key: compared byte by byte on every database (SQLite's
``BINARY``, PostgreSQL's ``"C"``), so both list in exactly the same order."""


def name_sort_key(name: str) -> str:
    """Where ``name`` goes in a list sorted as a person expects: ``Bálsamo`` before
    ``Bufanda``, ``miel`` beside ``Miel``, ``Ñandú`` after ``Nuez`` (as Spanish sorts ñ).

    Case and accents are set aside (casefolded, decomposed, the marks dropped), spaces
    collapsed; ñ becomes ``n~``, which sorts after every other n-word. The key is stored
    beside the name (``products.sort_name``) and the catalogue orders by it, for three
    reasons a database collation cannot meet together: it is the same on SQLite and on
    PostgreSQL (a collation is not: SQLite has no accent-blind one and PostgreSQL's depend
    on the server's ICU or glibc), it needs no extension or setting on the server, and a
    plain index over it (``ix_products_active_sort_name``) keeps a page of 10,000 products
    a range scan. Compared byte by byte (:data:`SortKey`), so the order does not depend on
    the database's locale either.
    """
    text = unicodedata.normalize("NFKD", name.casefold()).replace("n\u0303", "n~")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", text).strip()[:SORT_KEY_LENGTH]


def _sort_name_default(context: DefaultExecutionContext) -> str:
    """A product inserted without its sort key (a bulk insert of rows) gets its name's."""
    return name_sort_key(context.get_current_parameters().get("name") or "")


class Network(Base):
    """A solidarity-economy network: it runs many fairs with the same producers."""

    __tablename__ = "networks"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    theme: Mapped[str] = mapped_column(String(64), default="default")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Fair(Base):
    """One fair (feria): a place and dates, in one currency and locale."""

    __tablename__ = "fairs"
    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    place: Mapped[str] = mapped_column(String(300), default="")
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(8))
    locale: Mapped[str] = mapped_column(String(16), default="es")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    receipt_footer: Mapped[str] = mapped_column(Text, default="")

    network: Mapped[Network] = relationship()


class Producer(Base):
    """Someone who sells at the fairs: a person, an association or a cooperative.

    ``code`` is what a cashier types for a free line (``P07 2500``), so it is short and
    unique within the network.
    """

    __tablename__ = "producers"
    __table_args__ = (UniqueConstraint("network_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"))
    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="individual")
    story: Mapped[str] = mapped_column(Text, default="")
    place: Mapped[str] = mapped_column(String(300), default="")
    contact_email: Mapped[str] = mapped_column(String(200), default="")
    contact_phone: Mapped[str] = mapped_column(String(64), default="")
    payout_details: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    members: Mapped[list[Member]] = relationship(
        back_populates="producer", order_by="Member.id", cascade="all, delete-orphan"
    )


class Member(Base):
    """A member of a cooperative producer and their agreed share, in basis points."""

    __tablename__ = "members"
    id: Mapped[int] = mapped_column(primary_key=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id"))
    name: Mapped[str] = mapped_column(String(200))
    share_bp: Mapped[int] = mapped_column(Integer)

    producer: Mapped[Producer] = relationship(back_populates="members")


class Participation(Base):
    """A producer selling at a fair, at a stall."""

    __tablename__ = "participations"
    __table_args__ = (UniqueConstraint("fair_id", "producer_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    fair_id: Mapped[int] = mapped_column(ForeignKey("fairs.id"))
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id"))
    stall: Mapped[str] = mapped_column(String(32), default="")

    producer: Mapped[Producer] = relationship()


class Product(Base):
    """Something a producer sells, at a price per ``unit`` (piece, kg, g, l)."""

    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("producer_id", "sku"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id"), index=True)
    sku: Mapped[str] = mapped_column(String(64))
    barcode: Mapped[str | None] = mapped_column(String(14), unique=True, nullable=True)
    name: Mapped[str] = mapped_column(String(200))
    sort_name: Mapped[str] = mapped_column(SortKey, default=_sort_name_default, server_default="")
    """:func:`name_sort_key` of ``name``: what the catalogue is ordered by. Kept up to date
    when the name is set (here, or by the CSV import, which writes both)."""
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(100), default="")
    unit: Mapped[str] = mapped_column(String(8), default="piece")
    price: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(8))
    stock: Mapped[str | None] = mapped_column(String(32), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    image: Mapped[str] = mapped_column(String(300), default="")
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    producer: Mapped[Producer] = relationship()


@event.listens_for(Product.name, "set")
def _name_set(product: Product, name: str | None, _old: object, _initiator: object) -> None:
    product.sort_name = name_sort_key(name or "")


class RuleVersion(Base):
    """One version of a fair's money rules, as decided by the network's assembly.

    Versions are append-only (the database refuses updates): a sale records the version in
    force when it was rung up, so a later decision never changes money already recorded.

    ``fees`` maps a payment-method code to ``{"bp": basis points, "fixed": minor units of
    the fair currency}``; ``rates`` maps a currency code to how many units of the fair
    currency one unit of it is worth, as decimal text.
    """

    __tablename__ = "rule_versions"
    __table_args__ = (UniqueConstraint("fair_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    fair_id: Mapped[int] = mapped_column(ForeignKey("fairs.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    effective_at: Mapped[dt.datetime] = mapped_column(DateTime)
    solidarity_bp: Mapped[int] = mapped_column(Integer, default=0)
    fees: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rates: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    rounding: Mapped[str] = mapped_column(String(16), default="half_up")
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
