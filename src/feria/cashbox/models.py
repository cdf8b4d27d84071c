"""Tables of the caja común. They are *derived* from the journal (see :mod:`feria.journal`):
each row is written in the same transaction as the journal entry that records it, and
``feria verify`` re-derives them from the entries and compares.

Sales, their lines, tenders and splits are append-only; the database refuses updates and
deletes (see the migration's triggers). A refund or a void is a new ``Sale`` row of its own
kind with negative amounts that refers to the original.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from feria.catalogue.models import utcnow
from feria.db import Base

SALE_KINDS = ("sale", "refund", "void")


class Till(Base):
    """A checkout point at a fair (a laptop, a tablet), with its printer settings."""

    __tablename__ = "tills"
    id: Mapped[int] = mapped_column(primary_key=True)
    fair_id: Mapped[int] = mapped_column(ForeignKey("fairs.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200), default="")
    printer: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CashSession(Base):
    """A cashier's shift at a till, from the opening float to the counted close.

    The close columns are written once, by the close entry; the database refuses any change
    to a closed session.
    """

    __tablename__ = "cash_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    fair_id: Mapped[int] = mapped_column(ForeignKey("fairs.id"), index=True)
    till_id: Mapped[int] = mapped_column(ForeignKey("tills.id"), index=True)
    cashier_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    currency: Mapped[str] = mapped_column(String(8))
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    float_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    float_detail: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    open_seq: Mapped[int] = mapped_column(BigInteger)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    expected: Mapped[dict[str, int] | None] = mapped_column(JSON, nullable=True)
    counted: Mapped[dict[str, int] | None] = mapped_column(JSON, nullable=True)
    discrepancy: Mapped[dict[str, int] | None] = mapped_column(JSON, nullable=True)
    close_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    till: Mapped[Till] = relationship()

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class CashMovement(Base):
    """Money put into (paid-in) or taken out of (paid-out) a till's drawer, with a reason."""

    __tablename__ = "cash_movements"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("cash_sessions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # paid_in | paid_out
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    seq: Mapped[int] = mapped_column(BigInteger)


class Sale(Base):
    """A sale, refund or void at the caja común (or an online order paid through it).

    ``id`` is the number printed on the receipt. ``total`` is in the fair currency (negative
    for refunds and voids); ``seq`` is the journal entry that recorded it.
    """

    __tablename__ = "sales"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), default="sale")
    fair_id: Mapped[int] = mapped_column(ForeignKey("fairs.id"), index=True)
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("cash_sessions.id"), index=True, nullable=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    refers_to: Mapped[int | None] = mapped_column(ForeignKey("sales.id"), index=True, nullable=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    rule_version_id: Mapped[int] = mapped_column(ForeignKey("rule_versions.id"))
    currency: Mapped[str] = mapped_column(String(8))
    total: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)

    lines: Mapped[list[SaleLine]] = relationship(order_by="SaleLine.line_no", viewonly=True)
    tenders: Mapped[list[Tender]] = relationship(order_by="Tender.tender_no", viewonly=True)
    splits: Mapped[list[Split]] = relationship(order_by="Split.id", viewonly=True)


class SaleLine(Base):
    """One line of a sale: a catalogue product × quantity, or a free line typed by code."""

    __tablename__ = "sale_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"), nullable=True)
    description: Mapped[str] = mapped_column(String(300), default="")
    quantity: Mapped[str] = mapped_column(String(32))
    unit: Mapped[str] = mapped_column(String(8))
    unit_price: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
    refers_line: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Tender(Base):
    """How (part of) a sale was paid: a method, an amount in its own currency, the change.

    ``amount`` is what was handed over, ``change`` what was given back (cash only), and
    ``applied = amount - change`` is what the sale keeps, in ``currency``. ``value`` is
    ``applied`` in the fair currency at ``rate``.
    """

    __tablename__ = "tenders"
    id: Mapped[int] = mapped_column(primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id"), index=True)
    tender_no: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(8))
    amount: Mapped[int] = mapped_column(BigInteger)
    change: Mapped[int] = mapped_column(BigInteger, default=0)
    applied: Mapped[int] = mapped_column(BigInteger)
    rate: Mapped[str] = mapped_column(String(32), default="1")
    value: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger, default=0)
    in_drawer: Mapped[bool] = mapped_column(Boolean, default=False)
    reference: Mapped[str] = mapped_column(String(200), default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Split(Base):
    """What of one tender goes to one producer: gross, solidarity withholding, fee, net.

    Per sale and currency: Σ net + Σ withheld + Σ fee = Σ applied tenders.
    """

    __tablename__ = "splits"
    id: Mapped[int] = mapped_column(primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id"), index=True)
    tender_no: Mapped[int] = mapped_column(Integer)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id"), index=True)
    currency: Mapped[str] = mapped_column(String(8))
    gross: Mapped[int] = mapped_column(BigInteger)
    withheld: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger)
    net: Mapped[int] = mapped_column(BigInteger)


class MemberSplit(Base):
    """A cooperative member's part of their cooperative's net, per sale and currency."""

    __tablename__ = "member_splits"
    id: Mapped[int] = mapped_column(primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id"), index=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    currency: Mapped[str] = mapped_column(String(8))
    amount: Mapped[int] = mapped_column(BigInteger)


class Payout(Base):
    """Money handed to a producer against their settlement, later acknowledged by them."""

    __tablename__ = "payouts"
    id: Mapped[int] = mapped_column(primary_key=True)
    fair_id: Mapped[int] = mapped_column(ForeignKey("fairs.id"), index=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id"), index=True)
    currency: Mapped[str] = mapped_column(String(8))
    amount: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str] = mapped_column(String(200), default="")
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    seq: Mapped[int] = mapped_column(BigInteger)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    ack_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
