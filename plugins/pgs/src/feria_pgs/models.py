"""The tables of a participatory guarantee system (sistema participativo de garantía).

Every step of the cycle is a row of its own and no row is ever changed: an application, each
peer visit and who made it, the committee's decision and who sat on it, the label it granted,
and every suspension, reinstatement or revocation. The database refuses updates and deletes
(see the migration), so the registry a shopper reads is the whole story, not its last page.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from feria.catalogue.models import Producer, Product, utcnow
from feria.db import Base

OUTCOMES = ("approved", "approved_with_conditions", "rejected")
GRANTING_OUTCOMES = ("approved", "approved_with_conditions")
CHANGES = ("suspended", "reinstated", "revoked")


class Scheme(Base):
    """A label a network grants through peers, e.g. "Hecho sin patrón" (made without
    bosses), with the criteria producers are visited against and how long a grant lasts."""

    __tablename__ = "pgs_schemes"
    __table_args__ = (UniqueConstraint("network_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    criteria: Mapped[str] = mapped_column(Text, default="")
    logo: Mapped[str] = mapped_column(String(300), default="")
    validity_months: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Application(Base):
    """A producer asks for a scheme's label, for itself as a whole or for some products."""

    __tablename__ = "pgs_applications"
    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("pgs_schemes.id"), index=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id"), index=True)
    applied_on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    scheme: Mapped[Scheme] = relationship()
    producer: Mapped[Producer] = relationship()
    products: Mapped[list[Product]] = relationship(
        secondary="pgs_application_products", order_by="Product.id"
    )


class ApplicationProduct(Base):
    __tablename__ = "pgs_application_products"
    application_id: Mapped[int] = mapped_column(ForeignKey("pgs_applications.id"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)


class _Participant:
    """Someone who took part in a visit or a committee: another producer, a consumer or
    anyone the network trusts. ``name`` is kept as it was said that day, beside the
    producer or user it refers to (when there is one)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    producer_id: Mapped[int | None] = mapped_column(ForeignKey("producers.id"), nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)


class Visit(Base):
    """A peer visit to the applicant: who went, when, and what they found."""

    __tablename__ = "pgs_visits"
    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("pgs_applications.id"), index=True)
    visited_on: Mapped[dt.date] = mapped_column(Date)
    findings: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    visitors: Mapped[list[Visitor]] = relationship(order_by="Visitor.id")


class Visitor(_Participant, Base):
    __tablename__ = "pgs_visitors"
    visit_id: Mapped[int] = mapped_column(ForeignKey("pgs_visits.id"), index=True)


class Decision(Base):
    """The committee's decision on an application, with its reasons. One per application:
    a producer turned down applies again, and that is a new application."""

    __tablename__ = "pgs_decisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("pgs_applications.id"), unique=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("pgs_visits.id"), nullable=True)
    decided_on: Mapped[dt.date] = mapped_column(Date)
    outcome: Mapped[str] = mapped_column(String(32))
    committee: Mapped[str] = mapped_column(String(200))
    reasons: Mapped[str] = mapped_column(Text)
    conditions: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    members: Mapped[list[CommitteeMember]] = relationship(order_by="CommitteeMember.id")
    visit: Mapped[Visit | None] = relationship()
    holding: Mapped[Holding | None] = relationship(viewonly=True)
    """The label an approval granted (``None`` for a rejection)."""


class CommitteeMember(_Participant, Base):
    __tablename__ = "pgs_committee_members"
    decision_id: Mapped[int] = mapped_column(ForeignKey("pgs_decisions.id"), index=True)


class Holding(Base):
    """A label granted by a decision: to the producer as a whole, or (when ``products`` is
    not empty) to those products only, from ``valid_from`` to ``valid_until`` inclusive."""

    __tablename__ = "pgs_holdings"
    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("pgs_decisions.id"), unique=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("pgs_schemes.id"), index=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id"), index=True)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    scheme: Mapped[Scheme] = relationship()
    producer: Mapped[Producer] = relationship()
    decision: Mapped[Decision] = relationship()
    products: Mapped[list[Product]] = relationship(
        secondary="pgs_holding_products", order_by="Product.id"
    )
    changes: Mapped[list[StatusChange]] = relationship(
        order_by=lambda: (StatusChange.effective_on, StatusChange.id)
    )


class HoldingProduct(Base):
    __tablename__ = "pgs_holding_products"
    holding_id: Mapped[int] = mapped_column(ForeignKey("pgs_holdings.id"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)


class StatusChange(Base):
    """A label suspended, reinstated or revoked from ``effective_on``, and why."""

    __tablename__ = "pgs_status_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    holding_id: Mapped[int] = mapped_column(ForeignKey("pgs_holdings.id"), index=True)
    change: Mapped[str] = mapped_column(String(16))
    effective_on: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
