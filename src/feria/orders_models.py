"""Tables of online orders: how a fair takes orders, the orders and their lines.

An order is a promise, not money: its money is recorded by the caja común engine as an
ordinary sale (``record_sale`` with the order's own idempotency key) when it is paid online
or at the till, so it is split, withheld, journaled and settled exactly like a till sale.
These rows only track the promise: what was ordered at which price, for which fair, and
where it stands (see :mod:`feria.orders`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from feria.catalogue.models import Product, utcnow
from feria.db import Base

ORDER_STATUSES = ("pending_payment", "paid", "ready", "handed_over", "cancelled")
FULFILMENTS = ("pickup", "delivery")
PAY_AT_PICKUP = "at_pickup"
"""The ``payment`` of an order paid at the caja común when it is collected (or delivered)."""


class OrderSettings(Base):
    """How a fair takes online orders, decided by its organizers.

    ``cycle_closes_at`` is the end of the current pre-order cycle (production on demand):
    producers see the quantities ordered up to it and make just that; after it the shop
    takes no more orders for the fair until the organizers open the next cycle. The delivery
    fee is a rule of the fair: ``delivery_fee`` minor units of the fair currency, nothing
    from ``delivery_free_from`` up, paid to ``delivery_producer_id`` (the network's delivery
    collective) through the same split as any other line. Each order keeps the fee it was
    charged, so changing the rule never changes an order already placed.

    A fair without a row takes pickup orders with no cycle end and no delivery.
    """

    __tablename__ = "fair_order_settings"
    fair_id: Mapped[int] = mapped_column(ForeignKey("fairs.id"), primary_key=True)
    accepting: Mapped[bool] = mapped_column(Boolean, default=True)
    cycle_closes_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    pickup_note: Mapped[str] = mapped_column(Text, default="")
    delivery: Mapped[bool] = mapped_column(Boolean, default=False)
    delivery_fee: Mapped[int] = mapped_column(BigInteger, default=0)
    delivery_free_from: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    delivery_producer_id: Mapped[int | None] = mapped_column(
        ForeignKey("producers.id"), nullable=True
    )
    delivery_area: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Order(Base):
    """A shopper's order for one fair.

    ``token`` is the secret in the status page's link (whoever has the link sees the
    order, as with a paper ticket); ``key`` is the idempotency key its sale is recorded
    under, so paying twice (a webhook delivered twice, a cashier pressing twice) records one
    sale; ``checkout_key`` makes a double-submitted checkout form one order. ``sale_id`` is
    set once the order is paid; an order is *prepaid* when it has a sale before pickup.
    """

    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_fair_status", "fair_id", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    checkout_key: Mapped[str] = mapped_column(String(64), unique=True)
    fair_id: Mapped[int] = mapped_column(ForeignKey("fairs.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True, index=True)
    email: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(64), default="")
    fulfilment: Mapped[str] = mapped_column(String(16), default="pickup")
    address: Mapped[str] = mapped_column(Text, default="")
    payment: Mapped[str] = mapped_column(String(32), default=PAY_AT_PICKUP)
    currency: Mapped[str] = mapped_column(String(8))
    subtotal: Mapped[int] = mapped_column(BigInteger)
    delivery_fee: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="pending_payment")
    cycle_closes_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    locale: Mapped[str] = mapped_column(String(16), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    paid_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    ready_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    handed_over_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("sales.id"), nullable=True)

    lines: Mapped[list[OrderLine]] = relationship(
        order_by="OrderLine.line_no", cascade="all, delete-orphan", back_populates="order"
    )

    @property
    def prepaid(self) -> bool:
        return self.sale_id is not None


class OrderLine(Base):
    """One line of an order at the price the shopper was shown. A line without a product is
    the delivery fee, owed to the producer that delivers."""

    __tablename__ = "order_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int | None] = mapped_column(
        ForeignKey("products.id"), nullable=True, index=True
    )
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id"), index=True)
    description: Mapped[str] = mapped_column(String(300), default="")
    quantity: Mapped[str] = mapped_column(String(32))
    unit: Mapped[str] = mapped_column(String(8), default="piece")
    unit_price: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)

    order: Mapped[Order] = relationship(back_populates="lines")


# The storefront's catalogue pages list active products by name, by category or by
# producer, a page at a time; these indexes keep that a range scan at 10,000 products.
# (Declared here, beside the queries' only users, so the metadata matches migrations 0003
# and 0004: the order is a product's sort key, see feria.catalogue.models.name_sort_key.)
_products = Product.__table__.c
Index("ix_products_active_sort_name", _products.active, _products.sort_name, _products.id)
Index("ix_products_category_sort_name", _products.category, _products.sort_name)
