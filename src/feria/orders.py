"""Online orders: a shopper orders from the storefront for pickup at a fair's caja común
(or for delivery), and the order's money goes through the same engine as a till sale.

An order moves through ``pending_payment → paid → ready → handed_over`` (or is
``cancelled``). Paying is always :func:`feria.cashbox.sales.record_sale` with the order's own
idempotency key: online (a payment plugin, once the provider confirmed the payment, calls
the ``feria_record_paid_order`` hook, which this module answers with
:func:`record_paid_order`; the sale has the fair and no cash session) or at the till when
the shopper collects it
(:func:`hand_over` with the cashier's tenders, in the cashier's cash session). Either way
the producers get the same lines, splits, withholding and fees as for a sale rung up at
the till, the journal records it, and the settlement counts it: to a producer an order is
a sale like any other.

The shopper pays the prices they were shown: the order keeps each line's price, and if the
catalogue price changed before payment the sale line is recorded as a free line for that
producer at the ordered price.

Stock is taken when the order is placed, in the order's transaction, with a conditional
``UPDATE`` (compare-and-set on the stock read), so concurrent orders can never sell more
than there is; a cancelled order gives its stock back.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import secrets
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import pluggy
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from feria import hookimpl, journal
from feria.cashbox.models import Sale
from feria.cashbox.sales import (
    LineRequest,
    RecordedSale,
    TenderRequest,
    payment_methods,
    record_sale,
)
from feria.catalogue.models import (
    WEIGHED_UNITS,
    Fair,
    Participation,
    Producer,
    Product,
    utcnow,
)
from feria.db import read_session, write_session
from feria.errors import Conflict, FeriaError, NotFound
from feria.money import Money, line_total
from feria.orders_models import (
    FULFILMENTS,
    PAY_AT_PICKUP,
    Order,
    OrderLine,
    OrderSettings,
)
from feria.payments import PaymentMethod

__all__ = [
    "PAY_AT_PICKUP",
    "CartLine",
    "Checkout",
    "InvalidOrder",
    "Order",
    "OrderLine",
    "OrderNotFound",
    "OrderSettings",
    "OrderStateConflict",
    "OrdersClosed",
    "OutOfStock",
    "PreorderCycle",
    "PreorderTotal",
    "Quote",
    "cancel_order",
    "fairs_taking_orders",
    "hand_over",
    "mark_ready",
    "new_checkout_key",
    "online_methods",
    "order_by_id",
    "order_by_key",
    "order_by_token",
    "orders_for_pickup",
    "orders_of_user",
    "record_paid_order",
    "place_order",
    "preorder_cycles",
    "quote",
    "set_order_settings",
    "settings_for",
]

MAX_LINES = 100
MAX_QUANTITY = Decimal(1000)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Orders a till can collect: paid ones, and those to be paid at pickup.
COLLECTABLE = ("pending_payment", "paid", "ready")
_CAS_ATTEMPTS = 100


# -- refusals ---------------------------------------------------------------------------------


class InvalidOrder(FeriaError):
    code = "invalid_order"


class OrdersClosed(Conflict):
    code = "orders_closed"


class OutOfStock(Conflict):
    code = "out_of_stock"


class OrderNotFound(NotFound):
    code = "order_not_found"


class OrderStateConflict(Conflict):
    code = "order_state_conflict"


# -- what callers send ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CartLine:
    """A product and how much of it (pieces, or kilos/grams/litres as decimal text)."""

    product_id: int
    quantity: Decimal | str | int = 1


@dataclass(frozen=True, slots=True)
class Checkout:
    """Who orders, for which fair, how it reaches them and how it is paid.

    ``payment`` is :data:`PAY_AT_PICKUP` or the code of an online payment method.
    ``checkout_key`` comes from the checkout form, so sending the form twice places one
    order.
    """

    fair_id: int
    email: str
    checkout_key: str
    name: str = ""
    phone: str = ""
    fulfilment: str = "pickup"
    address: str = ""
    payment: str = PAY_AT_PICKUP
    note: str = ""
    user_id: int | None = None
    locale: str = ""


@dataclass(frozen=True, slots=True)
class QuotedLine:
    product_id: int | None
    producer_id: int
    description: str
    quantity: Decimal
    unit: str
    unit_price: Money
    total: Money


@dataclass(frozen=True, slots=True)
class Quote:
    """What a cart costs at a fair, line by line, with the delivery fee when delivered."""

    lines: tuple[QuotedLine, ...]
    subtotal: Money
    delivery_fee: Money
    delivery_producer_id: int | None = None

    @property
    def total(self) -> Money:
        return self.subtotal + self.delivery_fee


@dataclass(frozen=True, slots=True)
class PreorderTotal:
    """How much of one product was ordered in one pre-order cycle (orders not cancelled)."""

    product_id: int
    sku: str
    name: str
    unit: str
    quantity: Decimal
    orders: int
    total: Money


@dataclass(slots=True)
class PreorderCycle:
    """A producer's consolidated pre-orders for one fair and cycle: what to make."""

    fair_id: int
    fair_name: str
    closes_at: dt.datetime | None
    products: list[PreorderTotal] = field(default_factory=list)


# -- small helpers ----------------------------------------------------------------------------


def _canonical(d: Decimal) -> str:
    """Decimal text that is the same on SQLite and PostgreSQL: ``7``, ``1.25``."""
    if d == d.to_integral_value():
        return str(d.quantize(Decimal(1)))
    return str(d.normalize())


def _quantity(raw: Decimal | str | int, unit: str, name: str, field: str) -> Decimal:
    try:
        q = Decimal(str(raw).strip().replace(",", "."))
    except InvalidOperation as exc:
        raise InvalidOrder(f"{raw!r} is not a quantity", field=field) from exc
    if not q.is_finite() or q <= 0 or q > MAX_QUANTITY:
        raise InvalidOrder(
            f"{name}: expected a quantity greater than 0 and at most {MAX_QUANTITY}", field=field
        )
    if q.as_tuple().exponent < -3:  # type: ignore[operator]
        raise InvalidOrder(f"{name}: expected at most 3 decimals", field=field)
    if unit not in WEIGHED_UNITS and q != q.to_integral_value():
        raise InvalidOrder(f"{name} is sold by the piece: expected a whole number", field=field)
    return Decimal(_canonical(q))


def _text(value: str | None, field: str, max_len: int, *, required: bool = False) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InvalidOrder(f"{field}: expected a value", field=field)
    if len(text) > max_len:
        raise InvalidOrder(f"{field}: expected at most {max_len} characters", field=field)
    return text


def new_checkout_key() -> str:
    """A fresh key for a checkout form (one per form shown)."""
    return uuid.uuid4().hex


# -- how a fair takes orders ------------------------------------------------------------------


def settings_for(db: Session, fair_id: int) -> OrderSettings:
    """The fair's order settings, or the defaults (pickup only, no cycle end) if it has none."""
    found = db.get(OrderSettings, fair_id)
    if found is not None:
        return found
    return OrderSettings(
        fair_id=fair_id,
        accepting=True,
        cycle_closes_at=None,
        pickup_note="",
        delivery=False,
        delivery_fee=0,
        delivery_free_from=None,
        delivery_producer_id=None,
        delivery_area="",
    )


def set_order_settings(engine: Engine, fair_id: int, **values) -> OrderSettings:
    """Create or change how ``fair_id`` takes orders (the columns of :class:`OrderSettings`)."""
    allowed = {c.key for c in OrderSettings.__table__.columns} - {"fair_id", "updated_at"}
    unknown = set(values) - allowed
    if unknown:
        raise InvalidOrder(f"unknown order settings: {', '.join(sorted(unknown))}")
    with write_session(engine) as db:
        fair = db.get(Fair, fair_id)
        if fair is None:
            raise OrderNotFound(f"there is no fair {fair_id}", field="fair")
        fee = values.get("delivery_fee", 0)
        if type(fee) is not int or fee < 0:
            raise InvalidOrder("expected 0 or more minor units", field="delivery_fee")
        producer_id = values.get("delivery_producer_id")
        if producer_id is not None and not _participates(db, fair_id, [producer_id]):
            raise InvalidOrder(
                "the producer that delivers must sell at the fair (its fee is split like a "
                "sale line)",
                field="delivery_producer_id",
            )
        row = db.get(OrderSettings, fair_id)
        if row is None:
            row = settings_for(db, fair_id)
            db.add(row)
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_at = utcnow()
        if row.delivery and row.delivery_fee and row.delivery_producer_id is None:
            raise InvalidOrder(
                "a delivery fee needs the producer it is paid to", field="delivery_producer_id"
            )
        db.flush()
        return row


def _participates(db: Session, fair_id: int, producer_ids: Iterable[int]) -> set[int]:
    ids = list(set(producer_ids))
    if not ids:
        return set()
    return set(
        db.scalars(
            select(Participation.producer_id).where(
                Participation.fair_id == fair_id, Participation.producer_id.in_(ids)
            )
        )
    )


def closed_reason(fair: Fair, settings: OrderSettings, now: dt.datetime) -> str | None:
    """Why ``fair`` takes no orders at ``now``, or ``None`` when it does."""
    if not settings.accepting:
        return f"{fair.name} is not taking online orders"
    if fair.ends_on < now.date():
        return f"{fair.name} is over"
    if settings.cycle_closes_at is not None and now > settings.cycle_closes_at:
        return (
            f"orders for {fair.name} closed on {settings.cycle_closes_at:%Y-%m-%d %H:%M}; "
            "the next order cycle has not opened yet"
        )
    return None


def fairs_taking_orders(
    db: Session, network_id: int, now: dt.datetime | None = None
) -> list[tuple[Fair, OrderSettings]]:
    """The network's fairs a shopper can order for now, soonest first."""
    now = now or utcnow()
    fairs = db.scalars(
        select(Fair)
        .where(Fair.network_id == network_id, Fair.ends_on >= now.date())
        .order_by(Fair.starts_on, Fair.id)
    ).all()
    out = []
    for fair in fairs:
        s = settings_for(db, fair.id)
        if closed_reason(fair, s, now) is None:
            out.append((fair, s))
    return out


# -- pricing a cart ---------------------------------------------------------------------------


def quote(
    db: Session, fair: Fair, lines: Sequence[CartLine], *, fulfilment: str = "pickup"
) -> Quote:
    """Price ``lines`` for ``fair``, refusing what the fair does not sell.

    Every product must be active, priced in the fair's currency and made by a producer who
    sells at the fair. Stock is not checked here (it is taken when the order is placed).
    """
    if not lines:
        raise InvalidOrder("the cart is empty", field="lines")
    if len(lines) > MAX_LINES:
        raise InvalidOrder(f"an order has at most {MAX_LINES} lines", field="lines")
    if fulfilment not in FULFILMENTS:
        raise InvalidOrder(
            f"expected one of {', '.join(FULFILMENTS)}, got {fulfilment!r}", field="fulfilment"
        )
    ids = [ln.product_id for ln in lines]
    rows = {
        p.id: p
        for p in db.execute(
            select(
                Product.id,
                Product.producer_id,
                Product.name,
                Product.unit,
                Product.price,
                Product.currency,
                Product.active,
                Producer.active.label("producer_active"),
            )
            .join(Producer, Producer.id == Product.producer_id)
            .where(Product.id.in_(ids), Producer.network_id == fair.network_id)
        )
    }
    selling = _participates(db, fair.id, [p.producer_id for p in rows.values()])
    quoted = []
    for i, ln in enumerate(lines):
        f = f"lines[{i}]"
        p = rows.get(ln.product_id)
        if p is None or not p.active or not p.producer_active:
            raise InvalidOrder(f"product {ln.product_id} is not in the catalogue", field=f)
        if p.producer_id not in selling:
            raise InvalidOrder(f"{p.name} is not sold at {fair.name}", field=f)
        if p.currency != fair.currency:
            raise InvalidOrder(
                f"{p.name} is priced in {p.currency}, {fair.name} sells in {fair.currency}",
                field=f,
            )
        q = _quantity(ln.quantity, p.unit, p.name, f"{f}.quantity")
        price = Money(p.price, p.currency)
        quoted.append(
            QuotedLine(p.id, p.producer_id, p.name, q, p.unit, price, line_total(q, price))
        )
    subtotal = Money(sum(ql.total.amount for ql in quoted), fair.currency)
    settings = settings_for(db, fair.id)
    fee = Money.zero(fair.currency)
    deliverer = None
    if fulfilment == "delivery":
        if not settings.delivery:
            raise InvalidOrder(f"{fair.name} does not deliver", field="fulfilment")
        free_from = settings.delivery_free_from
        if settings.delivery_fee and (free_from is None or subtotal.amount < free_from):
            fee = Money(settings.delivery_fee, fair.currency)
            deliverer = settings.delivery_producer_id
    return Quote(tuple(quoted), subtotal, fee, deliverer)


# -- placing an order -------------------------------------------------------------------------


def _take_stock(db: Session, product_id: int, wanted: Decimal, name: str) -> None:
    """Take ``wanted`` from the product's stock, if it tracks one, or refuse.

    Stock is decimal text (kilos are not whole), so the new value is computed exactly here
    and written only if the stock is still what was read (compare-and-set): a concurrent
    order that took stock in between makes the ``UPDATE`` match no row, and we read again.
    On SQLite writers are serialized anyway; on PostgreSQL this is what stops an oversell.
    """
    products = Product.__table__
    for _ in range(_CAS_ATTEMPTS):
        current = (
            db.connection()
            .execute(select(products.c.stock).where(products.c.id == product_id))
            .scalar_one()
        )
        if current is None:
            return  # made to order: no stock to run out of
        have = Decimal(current)
        if have < wanted:
            raise OutOfStock(
                f"only {_canonical(have)} of {name} left, {_canonical(wanted)} ordered",
                field="lines",
                product=product_id,
                available=_canonical(have),
            )
        taken = db.connection().execute(
            update(products)
            .where(products.c.id == product_id, products.c.stock == current)
            .values(stock=_canonical(have - wanted))
        )
        if taken.rowcount == 1:
            return
    raise OutOfStock(f"{name} is being ordered by many people at once; try again", field="lines")


def _give_back_stock(db: Session, product_id: int, quantity: Decimal) -> None:
    products = Product.__table__
    for _ in range(_CAS_ATTEMPTS):
        current = (
            db.connection()
            .execute(select(products.c.stock).where(products.c.id == product_id))
            .scalar_one()
        )
        if current is None:
            return
        done = db.connection().execute(
            update(products)
            .where(products.c.id == product_id, products.c.stock == current)
            .values(stock=_canonical(Decimal(current) + quantity))
        )
        if done.rowcount == 1:
            return
    raise OrderStateConflict("the stock is changing too fast to give this order's back; retry")


def online_methods(pm: pluggy.PluginManager, fair: Fair) -> dict[str, PaymentMethod]:
    """The payment methods a shopper can pay an order with online, by code.

    An online method is a payment method that can start a payment for an order before any
    sale exists: it has ``create_payment(order_key, amount, description, metadata)``
    returning what the payment page needs (see the Stripe plugin's ``PaymentStart``). Its
    confirmation later comes back through the ``feria_record_paid_order`` hook.
    """
    return {
        code: method
        for code, method in payment_methods(pm, fair).items()
        if callable(getattr(method, "create_payment", None))
    }


def _check_checkout(db: Session, pm: pluggy.PluginManager | None, fair: Fair, c: Checkout) -> None:
    email = _text(c.email, "email", 200, required=True)
    if not EMAIL.match(email):
        raise InvalidOrder("email: expected an e-mail address like ana@example.org", field="email")
    if c.fulfilment == "delivery" and not (c.address or "").strip():
        raise InvalidOrder("address: a delivery needs the address", field="address")
    if c.payment != PAY_AT_PICKUP:
        methods = online_methods(pm, fair) if pm is not None else {}
        if c.payment not in methods:
            raise InvalidOrder(
                f"payment method {c.payment!r} is not offered at {fair.name}", field="payment"
            )
    if not 8 <= len(c.checkout_key or "") <= 64:
        raise InvalidOrder("expected a checkout key of 8 to 64 characters", field="checkout_key")


def place_order(
    engine: Engine,
    checkout: Checkout,
    lines: Sequence[CartLine],
    *,
    pm: pluggy.PluginManager | None = None,
    now: dt.datetime | None = None,
) -> Order:
    """Place an order, taking its stock, in one transaction; return it with its lines.

    Sending the same ``checkout.checkout_key`` again returns the first order. ``pm`` is
    needed to check an online payment method; paying at pickup needs none.
    """
    now = now or utcnow()
    try:
        with write_session(engine) as db:
            existing = _by_checkout_key(db, checkout.checkout_key)
            if existing is not None:
                return existing
            return _place(db, pm, checkout, lines, now)
    except IntegrityError:
        # The same form sent twice at once: the other request placed it.
        with read_session(engine) as db:
            existing = _by_checkout_key(db, checkout.checkout_key)
        if existing is None:
            raise
        return existing


def _by_checkout_key(db: Session, checkout_key: str) -> Order | None:
    return db.scalar(
        select(Order).where(Order.checkout_key == checkout_key).options(selectinload(Order.lines))
    )


def _place(
    db: Session,
    pm: pluggy.PluginManager | None,
    c: Checkout,
    lines: Sequence[CartLine],
    now: dt.datetime,
) -> Order:
    fair = db.get(Fair, c.fair_id)
    if fair is None:
        raise InvalidOrder(f"there is no fair {c.fair_id}", field="fair")
    settings = settings_for(db, fair.id)
    reason = closed_reason(fair, settings, now)
    if reason is not None:
        raise OrdersClosed(reason, field="fair")
    _check_checkout(db, pm, fair, c)
    q = quote(db, fair, lines, fulfilment=c.fulfilment)
    wanted: dict[int, Decimal] = defaultdict(Decimal)
    for ql in q.lines:
        wanted[ql.product_id] += ql.quantity  # type: ignore[index]
    # Always in product order, so two orders never wait on each other's rows (no deadlock).
    for product_id in sorted(wanted):
        name = next(ql.description for ql in q.lines if ql.product_id == product_id)
        _take_stock(db, product_id, wanted[product_id], name)
    order = Order(
        token=secrets.token_urlsafe(24),
        key=f"order-{uuid.uuid4().hex}",
        checkout_key=c.checkout_key,
        fair_id=fair.id,
        user_id=c.user_id,
        email=c.email.strip(),
        name=_text(c.name, "name", 200),
        phone=_text(c.phone, "phone", 64),
        fulfilment=c.fulfilment,
        address=_text(c.address, "address", 1000) if c.fulfilment == "delivery" else "",
        payment=c.payment,
        currency=fair.currency,
        subtotal=q.subtotal.amount,
        delivery_fee=q.delivery_fee.amount,
        total=q.total.amount,
        status="pending_payment",
        cycle_closes_at=settings.cycle_closes_at,
        note=_text(c.note, "note", 1000),
        locale=(c.locale or "")[:16],
        created_at=now,
        cancel_reason="",
    )
    order.lines = [
        OrderLine(
            line_no=i + 1,
            product_id=ql.product_id,
            producer_id=ql.producer_id,
            description=ql.description[:300],
            quantity=_canonical(ql.quantity),
            unit=ql.unit,
            unit_price=ql.unit_price.amount,
            total=ql.total.amount,
        )
        for i, ql in enumerate(q.lines)
    ]
    if q.delivery_fee.amount:
        order.lines.append(
            OrderLine(
                line_no=len(q.lines) + 1,
                product_id=None,
                producer_id=q.delivery_producer_id,
                description="Delivery",
                quantity="1",
                unit="piece",
                unit_price=q.delivery_fee.amount,
                total=q.delivery_fee.amount,
            )
        )
    db.add(order)
    db.flush()
    return order


# -- reading orders ---------------------------------------------------------------------------


def _sync_payment(db: Session, orders: Sequence[Order]) -> None:
    """Note a sale recorded under an order's key that the order does not know of yet.

    Paying records the sale, then marks the order, in two transactions; a crash between
    them leaves a paid order that still says unpaid. Reading it puts that right: the sale
    under the order's key is the proof of payment.
    """
    unpaid = {o.key: o for o in orders if o.sale_id is None and o.status in COLLECTABLE}
    if not unpaid:
        return
    for key, sale_id, at in db.execute(
        select(Sale.idempotency_key, Sale.id, Sale.at).where(
            Sale.idempotency_key.in_(list(unpaid)), Sale.kind == "sale"
        )
    ):
        order = unpaid[key]
        order.sale_id = sale_id
        order.paid_at = order.paid_at or at
        if order.status == "pending_payment":
            order.status = "paid"


def _load(db: Session, *where) -> Order | None:
    return db.scalar(
        select(Order)
        .where(*where)
        .options(selectinload(Order.lines))
        .execution_options(populate_existing=True)
    )


def order_by_token(engine: Engine, token: str) -> Order | None:
    """The order behind a status-page link, with its lines (``None`` if there is none)."""
    if not token or len(token) > 64:
        return None
    with read_session(engine) as db:
        order = _load(db, Order.token == token)
        if order is not None:
            _sync_payment(db, [order])
        return order


def order_by_id(engine: Engine, order_id: int) -> Order | None:
    with read_session(engine) as db:
        order = _load(db, Order.id == order_id)
        if order is not None:
            _sync_payment(db, [order])
        return order


def order_by_key(engine: Engine, key: str) -> Order | None:
    """The order whose sale is recorded under idempotency key ``key``."""
    with read_session(engine) as db:
        order = _load(db, Order.key == key)
        if order is not None:
            _sync_payment(db, [order])
        return order


def orders_of_user(engine: Engine, user_id: int, limit: int = 50) -> list[Order]:
    with read_session(engine) as db:
        orders = db.scalars(
            select(Order)
            .where(Order.user_id == user_id)
            .order_by(Order.created_at.desc(), Order.id.desc())
            .limit(limit)
            .options(selectinload(Order.lines))
        ).all()
        _sync_payment(db, orders)
        return list(orders)


def orders_for_pickup(engine: Engine, fair_id: int) -> list[Order]:
    """The orders the caja común of ``fair_id`` can hand over now, oldest first: those paid
    online, and those to be paid at pickup. An order waiting for an online payment is not
    listed until it is paid (taking cash for it could charge the shopper twice)."""
    with read_session(engine) as db:
        orders = db.scalars(
            select(Order)
            .where(Order.fair_id == fair_id, Order.status.in_(COLLECTABLE))
            .order_by(Order.created_at, Order.id)
            .options(selectinload(Order.lines))
        ).all()
        _sync_payment(db, orders)
        return [o for o in orders if o.payment == PAY_AT_PICKUP or o.sale_id is not None]


# -- paying -----------------------------------------------------------------------------------


def sale_lines(db: Session, order: Order) -> list[LineRequest]:
    """The order's lines as the engine takes them, at the prices the shopper was shown."""
    product_ids = [ln.product_id for ln in order.lines if ln.product_id is not None]
    current = {
        p.id: p
        for p in db.execute(
            select(Product.id, Product.price, Product.currency, Product.active).where(
                Product.id.in_(product_ids)
            )
        )
    }
    codes = dict(
        db.execute(
            select(Producer.id, Producer.code).where(
                Producer.id.in_({ln.producer_id for ln in order.lines})
            )
        ).all()
    )
    out = []
    for ln in order.lines:
        p = current.get(ln.product_id) if ln.product_id is not None else None
        if p is not None and p.active and p.price == ln.unit_price and p.currency == order.currency:
            out.append(LineRequest(product_id=ln.product_id, quantity=ln.quantity))
        else:
            # The price changed (or the product left the catalogue) since the order: the
            # shopper pays what they were shown, still to the producer who made it.
            out.append(
                LineRequest(
                    producer_code=codes[ln.producer_id],
                    amount=ln.unit_price,
                    quantity=ln.quantity,
                    description=ln.description,
                )
            )
    return out


def _lines_for_sale(engine: Engine, order_id: int) -> tuple[Order, list[LineRequest]]:
    with read_session(engine) as db:
        order = _load(db, Order.id == order_id)
        if order is None:
            raise OrderNotFound(f"there is no order {order_id}", field="order")
        lines = sale_lines(db, order)
        _sync_payment(db, [order])  # last: a read session must not flush what it notes
        return order, lines


def _mark_paid(
    engine: Engine, order_id: int, sale_id: int, now: dt.datetime, *, handed_over: bool
) -> Order:
    with write_session(engine) as db:
        order = _load(db, Order.id == order_id)
        assert order is not None
        if order.sale_id is None:
            order.sale_id = sale_id
            order.paid_at = now
        if order.status == "pending_payment":
            order.status = "paid"
        if handed_over and order.status in COLLECTABLE:
            order.status = "handed_over"
            order.handed_over_at = now
        db.flush()
        return order


def _recorded(db: Session, sale_id: int) -> RecordedSale:
    """An order's sale as recorded, read back from its journal entry (``replayed``)."""
    seq = db.scalar(select(Sale.seq).where(Sale.id == sale_id))
    entry = db.get(journal.JournalEntry, seq)
    return RecordedSale(sale_id, entry.seq, entry.hash, True, json.loads(entry.body))


def record_paid_order(
    engine: Engine,
    pm: pluggy.PluginManager,
    *,
    order_key: str,
    tenders: Sequence[TenderRequest],
    now: dt.datetime | None = None,
) -> RecordedSale | None:
    """Record the sale of an order paid online, once the payment provider confirmed it (a
    verified webhook, never the shopper's browser); ``None`` if no order has ``order_key``.

    The sale is recorded for the order's fair without a cash session, under the order's
    key, with the order's lines at the prices the shopper was shown: a confirmation
    delivered twice returns the first recording (``replayed``). Each tender's method must
    be offered at the fair; its ``authorize`` checks the payment at the provider. Refused
    (nothing recorded) when the order was cancelled, or when the tenders do not pay exactly
    its total (the engine's ``InsufficientPayment``/``Overpayment``).
    """
    now = now or utcnow()
    with read_session(engine) as db:
        found = _load(db, Order.key == order_key)
        if found is None:
            return None
        _sync_payment(db, [found])
        if found.sale_id is not None:
            recorded = _recorded(db, found.sale_id)
    if found.sale_id is not None:
        _mark_paid(engine, found.id, found.sale_id, now, handed_over=False)
        return recorded
    if found.status == "cancelled":
        raise OrderStateConflict(
            f"order {found.id} was cancelled before it was paid; give the payment back",
            field="order",
            order=found.id,
        )
    order, lines = _lines_for_sale(engine, found.id)
    sale = record_sale(
        engine,
        pm,
        key=order.key,
        fair_id=order.fair_id,
        lines=lines,
        tenders=tenders,
        user_id=None,  # nobody at the fair rang it up
        now=now,
    )
    _mark_paid(engine, order.id, sale.id, now, handed_over=False)
    return sale


def mark_ready(engine: Engine, order_id: int, now: dt.datetime | None = None) -> Order:
    """The order's goods are gathered at the caja común, waiting for the shopper."""
    now = now or utcnow()
    with write_session(engine) as db:
        order = _load(db, Order.id == order_id)
        if order is None:
            raise OrderNotFound(f"there is no order {order_id}", field="order")
        _sync_payment(db, [order])
        if order.status == "ready":
            return order
        if order.status not in ("pending_payment", "paid"):
            raise OrderStateConflict(
                f"order {order.id} is {order.status.replace('_', ' ')}", field="order"
            )
        order.status = "ready"
        order.ready_at = now
        db.flush()
        return order


def hand_over(
    engine: Engine,
    pm: pluggy.PluginManager,
    order_id: int,
    *,
    user_id: int,
    session_id: int | None = None,
    tenders: Sequence[TenderRequest] = (),
    now: dt.datetime | None = None,
) -> tuple[Order, RecordedSale | None]:
    """Hand an order over at the caja común.

    A prepaid order is just marked handed over. Otherwise the cashier takes the payment:
    the sale is recorded in their open cash session (``session_id``) with ``tenders``, under
    the order's key, exactly like a sale rung up at the till; sending it again records
    nothing twice. Returns the order and the sale recorded now (``None`` if prepaid).
    """
    now = now or utcnow()
    order, lines = _lines_for_sale(engine, order_id)
    if order.status == "handed_over":
        return order, None
    if order.status == "cancelled":
        raise OrderStateConflict(f"order {order.id} was cancelled", field="order")
    sale = None
    if order.sale_id is None:
        if order.payment != PAY_AT_PICKUP:
            raise OrderStateConflict(
                f"order {order.id} is waiting for its online payment; it cannot be taken at "
                "the till until it is paid or cancelled",
                field="order",
            )
        if session_id is None or not tenders:
            raise InvalidOrder(
                f"order {order.id} is not paid: take the payment "
                f"({Money(order.total, order.currency)}) in your open cash session",
                field="tenders",
                due=order.total,
            )
        sale = record_sale(
            engine,
            pm,
            key=order.key,
            session_id=session_id,
            fair_id=order.fair_id,
            lines=lines,
            tenders=tenders,
            user_id=user_id,
            now=now,
        )
    sale_id = sale.id if sale is not None else order.sale_id
    assert sale_id is not None
    return _mark_paid(engine, order.id, sale_id, now, handed_over=True), sale


def cancel_order(
    engine: Engine, order_id: int, *, reason: str = "", now: dt.datetime | None = None
) -> Order:
    """Cancel an order that is not paid, giving its stock back.

    A paid order is not cancelled here: its money is in the journal, so it is corrected by
    a refund of its sale (which the back office sends to the payment provider).
    """
    now = now or utcnow()
    with write_session(engine) as db:
        order = _load(db, Order.id == order_id)
        if order is None:
            raise OrderNotFound(f"there is no order {order_id}", field="order")
        _sync_payment(db, [order])
        if order.status == "cancelled":
            return order
        if order.sale_id is not None or order.status == "handed_over":
            raise OrderStateConflict(
                f"order {order.id} is paid: refund its sale instead of cancelling it",
                field="order",
                sale=order.sale_id,
            )
        given: dict[int, Decimal] = defaultdict(Decimal)
        for ln in order.lines:
            if ln.product_id is not None:
                given[ln.product_id] += Decimal(ln.quantity)
        for product_id in sorted(given):
            _give_back_stock(db, product_id, given[product_id])
        order.status = "cancelled"
        order.cancelled_at = now
        order.cancel_reason = _text(reason, "reason", 1000)
        db.flush()
        return order


# -- production on demand ---------------------------------------------------------------------


def preorder_cycles(db: Session, producer_id: int) -> list[PreorderCycle]:
    """What ``producer_id`` has to make: the quantities of each of its products ordered in
    each fair's pre-order cycle, newest cycle first (cancelled orders do not count)."""
    rows = db.execute(
        select(
            Order.fair_id,
            Fair.name,
            Order.cycle_closes_at,
            Order.id,
            Order.currency,
            OrderLine.product_id,
            Product.sku,
            Product.name.label("product_name"),
            OrderLine.unit,
            OrderLine.quantity,
            OrderLine.total,
        )
        .join(OrderLine, OrderLine.order_id == Order.id)
        .join(Product, Product.id == OrderLine.product_id)
        .join(Fair, Fair.id == Order.fair_id)
        .where(OrderLine.producer_id == producer_id, Order.status != "cancelled")
    ).all()
    cycles: dict[tuple[int, dt.datetime | None], PreorderCycle] = {}
    sums: dict[tuple[int, dt.datetime | None], dict[int, list]] = defaultdict(dict)
    for r in rows:
        k = (r.fair_id, r.cycle_closes_at)
        cycles.setdefault(k, PreorderCycle(r.fair_id, r.name, r.cycle_closes_at))
        acc = sums[k].setdefault(
            r.product_id, [r.sku, r.product_name, r.unit, Decimal(0), set(), 0, r.currency]
        )
        acc[3] += Decimal(r.quantity)
        acc[4].add(r.id)
        acc[5] += r.total
    for k, cycle in cycles.items():
        cycle.products = sorted(
            (
                PreorderTotal(pid, a[0], a[1], a[2], a[3], len(a[4]), Money(a[5], a[6]))
                for pid, a in sums[k].items()
            ),
            key=lambda t: t.name,
        )
    far_future = dt.datetime.max
    return sorted(
        cycles.values(),
        key=lambda c: (c.closes_at or far_future, c.fair_id),
        reverse=True,
    )


# -- as a plugin: what payment plugins call --------------------------------------------------

log = logging.getLogger("feria.orders")


@hookimpl
def feria_record_paid_order(order_key, tenders, engine, pm):
    return record_paid_order(engine, pm, order_key=order_key, tenders=tenders)


@hookimpl
def feria_online_payment_failed(order_key, method, reference, reason):
    # Nothing to undo: no sale was recorded and the order keeps waiting for its payment,
    # so the shopper can try again from the order's page.
    log.info("payment %s by %s for order %s failed: %s", reference, method, order_key, reason)
