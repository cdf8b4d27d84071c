"""Online orders: placed with stock taken atomically, paid online or at the till through the
same engine as a till sale, handed over at the caja común, consolidated for producers."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from feria import hookimpl
from feria.cashbox.models import Sale, SaleLine, Split, Tender
from feria.cashbox.sales import TenderRequest
from feria.catalogue.models import Fair, Product
from feria.db import read_session, write_session
from feria.orders import (
    PAY_AT_PICKUP,
    CartLine,
    Checkout,
    InvalidOrder,
    OrdersClosed,
    OrderStateConflict,
    OutOfStock,
    cancel_order,
    hand_over,
    mark_ready,
    order_by_token,
    orders_for_pickup,
    place_order,
    preorder_cycles,
    record_paid_order,
    set_order_settings,
)
from feria.payments import Authorization, PaymentMethod
from feria.settlement import settle

NOW = dt.datetime(2026, 11, 20, 12, 0)


class OnlineCard(PaymentMethod):
    """A stand-in for an online card method: approves what the provider confirmed."""

    code = "testcard"
    name = "Test card"
    online = True

    def create_payment(self, order_key, amount, description="", metadata=None):
        return {"order_key": order_key, "amount": amount}

    def authorize(self, tender, sale):
        if not tender.reference:
            return Authorization.refuse("no payment reference")
        return Authorization.approve(reference=tender.reference)


class OnlineCardPlugin:
    @hookimpl
    def feria_payment_methods(self, fair):
        return [OnlineCard()]


@pytest.fixture
def shop_pm(pm):
    if pm.get_plugin("cash") is None:
        import feria_cash

        pm.register(feria_cash, name="cash")
    pm.register(OnlineCardPlugin(), name="test-online-card")
    return pm


def _stock(engine, product_id: int, stock: str | None) -> None:
    with write_session(engine) as db:
        db.execute(update(Product).where(Product.id == product_id).values(stock=stock))


def _checkout(fair, **kw) -> Checkout:
    values = {
        "fair_id": fair.fair_id,
        "email": "ana@example.org",
        "name": "Ana",
        "checkout_key": uuid.uuid4().hex,
    }
    values.update(kw)
    return Checkout(**values)


def _order(engine, fair, lines=None, pm=None, **kw):
    lines = lines or [
        CartLine(fair.products["honey"], "0.5"),
        CartLine(fair.products["scarf"], 2),
    ]
    return place_order(engine, _checkout(fair, **kw), lines, pm=pm, now=NOW)


def _splits(engine, sale_id: int) -> list[tuple[int, int, int, int, int]]:
    with read_session(engine) as db:
        return sorted(
            db.execute(
                select(Split.producer_id, Split.gross, Split.withheld, Split.fee, Split.net).where(
                    Split.sale_id == sale_id
                )
            ).all()
        )


def test_an_order_collected_at_the_till_is_a_sale_split_to_its_producers(
    engine, shop_pm, fair, cash_session
):
    order = _order(engine, fair)
    assert order.status == "pending_payment"
    assert order.total == 4000 + 2 * 12990
    assert [ln.total for ln in order.lines] == [4000, 25980]

    waiting = orders_for_pickup(engine, fair.fair_id)
    assert [o.id for o in waiting] == [order.id]
    assert not waiting[0].prepaid

    mark_ready(engine, order.id, now=NOW)
    handed, sale = hand_over(
        engine,
        shop_pm,
        order.id,
        user_id=fair.users["cashier"],
        session_id=cash_session.id,
        tenders=[TenderRequest(method="cash", amount=40_000)],
        now=NOW,
    )

    assert handed.status == "handed_over"
    assert sale is not None and sale.total.amount == order.total
    assert sale.change.amount == 40_000 - order.total
    assert handed.sale_id == sale.id
    assert orders_for_pickup(engine, fair.fair_id) == []
    splits = _splits(engine, sale.id)
    assert {s[0] for s in splits} == {fair.producers["P01"], fair.producers["P07"]}
    assert sum(s[1] for s in splits) == order.total
    with read_session(engine) as db:
        recorded = db.get(Sale, sale.id)
        assert recorded.session_id == cash_session.id  # the cash went into this drawer
        assert recorded.idempotency_key == order.key
        settlement = settle(db, fair.fair_id)
    p07 = next(p for p in settlement.producers if p.producer_id == fair.producers["P07"])
    assert p07.gross.amount == 25980


def test_handing_over_twice_records_one_sale(engine, shop_pm, fair, cash_session):
    order = _order(engine, fair)
    args = {
        "user_id": fair.users["cashier"],
        "session_id": cash_session.id,
        "tenders": [TenderRequest(method="cash", amount=order.total)],
        "now": NOW,
    }
    hand_over(engine, shop_pm, order.id, **args)
    again, sale = hand_over(engine, shop_pm, order.id, **args)

    assert again.status == "handed_over" and sale is None
    with read_session(engine) as db:
        assert db.scalar(select(Sale.id).where(Sale.idempotency_key == order.key)) is not None
        assert len(db.scalars(select(Sale.id)).all()) == 1


def test_an_unpaid_order_is_not_handed_over_without_payment(engine, shop_pm, fair):
    order = _order(engine, fair)
    with pytest.raises(InvalidOrder, match="not paid"):
        hand_over(engine, shop_pm, order.id, user_id=fair.users["cashier"])


def test_orders_paid_online_and_at_the_till_split_alike_for_the_producer(
    engine, shop_pm, fair, cash_session
):
    online = _order(engine, fair, pm=shop_pm, payment="testcard")
    at_till = _order(engine, fair)

    # Waiting for its online payment, the card order is not offered at the till.
    assert [o.id for o in orders_for_pickup(engine, fair.fair_id)] == [at_till.id]

    online_sale = shop_pm.hook.feria_record_paid_order(
        order_key=online.key,
        tenders=[_card(online, "pi_test_1")],
        engine=engine,
        pm=shop_pm,
    )
    paid = order_by_token(engine, online.token)
    assert paid.status == "paid" and paid.prepaid
    _, till_sale = hand_over(
        engine,
        shop_pm,
        at_till.id,
        user_id=fair.users["cashier"],
        session_id=cash_session.id,
        tenders=[TenderRequest(method="cash", amount=at_till.total)],
        now=NOW,
    )

    assert _splits(engine, online_sale.id) == _splits(engine, till_sale.id)
    with read_session(engine) as db:
        online_row = db.get(Sale, online_sale.id)
        assert online_row.session_id is None and online_row.fair_id == fair.fair_id
        lines = db.execute(
            select(SaleLine.sale_id, SaleLine.product_id, SaleLine.quantity, SaleLine.total)
            .where(SaleLine.sale_id.in_([online_sale.id, till_sale.id]))
            .order_by(SaleLine.line_no)
        ).all()
    by_sale = {
        s: [(p, q, t) for sid, p, q, t in lines if sid == s] for s in {ln[0] for ln in lines}
    }
    assert by_sale[online_sale.id] == by_sale[till_sale.id]

    # Paid online, it now waits at the till to be handed over, with nothing to pay.
    waiting = orders_for_pickup(engine, fair.fair_id)
    assert [(o.id, o.prepaid) for o in waiting] == [(online.id, True)]
    done, nothing = hand_over(engine, shop_pm, online.id, user_id=fair.users["cashier"])
    assert done.status == "handed_over" and nothing is None


def _card(order, reference: str) -> TenderRequest:
    return TenderRequest("testcard", order.total, currency=order.currency, reference=reference)


def test_a_payment_confirmed_twice_records_one_sale(engine, shop_pm, fair):
    order = _order(engine, fair, pm=shop_pm, payment="testcard")
    pay = {"order_key": order.key, "tenders": [_card(order, "pi_twice")], "now": NOW}
    first = record_paid_order(engine, shop_pm, **pay)
    second = record_paid_order(engine, shop_pm, **pay)

    assert not first.replayed and second.replayed and first.id == second.id
    with read_session(engine) as db:
        assert db.scalars(select(Tender.reference)).all() == ["pi_twice"]


def test_a_wrong_amount_or_a_cancelled_order_records_no_sale(engine, shop_pm, fair):
    from feria.cashbox.errors import InsufficientPayment

    order = _order(engine, fair, pm=shop_pm, payment="testcard")
    short = TenderRequest("testcard", order.total - 1, reference="pi_short")
    with pytest.raises(InsufficientPayment):
        record_paid_order(engine, shop_pm, order_key=order.key, tenders=[short])
    cancel_order(engine, order.id, reason="changed my mind", now=NOW)
    with pytest.raises(OrderStateConflict, match="cancelled"):
        record_paid_order(engine, shop_pm, order_key=order.key, tenders=[_card(order, "pi_late")])
    assert record_paid_order(engine, shop_pm, order_key="order-unknown", tenders=[]) is None
    with read_session(engine) as db:
        assert db.scalars(select(Sale.id)).all() == []


def test_stock_is_taken_by_the_order_and_given_back_when_cancelled(engine, fair):
    _stock(engine, fair.products["scarf"], "3")
    _stock(engine, fair.products["honey"], "1.5")

    order = _order(engine, fair)  # 0.5 kg honey, 2 scarves

    with read_session(engine) as db:
        assert db.get(Product, fair.products["scarf"]).stock == "1"
        assert db.get(Product, fair.products["honey"]).stock == "1"
    with pytest.raises(OutOfStock, match="only 1 of Bufanda left"):
        _order(engine, fair, [CartLine(fair.products["scarf"], 2)])

    cancelled = cancel_order(engine, order.id, reason="no time", now=NOW)

    assert cancelled.status == "cancelled"
    with read_session(engine) as db:
        assert db.get(Product, fair.products["scarf"]).stock == "3"
        assert db.get(Product, fair.products["honey"]).stock == "1.5"
    assert orders_for_pickup(engine, fair.fair_id) == []


def test_a_paid_order_is_refunded_not_cancelled(engine, shop_pm, fair):
    order = _order(engine, fair, pm=shop_pm, payment="testcard")
    record_paid_order(engine, shop_pm, order_key=order.key, tenders=[_card(order, "pi_x")])
    with pytest.raises(OrderStateConflict, match="refund"):
        cancel_order(engine, order.id)


@pytest.mark.slow
def test_concurrent_orders_never_oversell(engine, fair):
    """Eight shoppers order the last five scarves at the same moment: five get one."""
    _stock(engine, fair.products["scarf"], "5")
    barrier = threading.Barrier(8)
    placed: list[int] = []
    refused: list[str] = []
    errors: list[BaseException] = []

    def shopper() -> None:
        try:
            barrier.wait()
            order = _order(engine, fair, [CartLine(fair.products["scarf"], 1)])
            placed.append(order.id)
        except OutOfStock as exc:
            refused.append(exc.message)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=shopper) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert errors == []
    assert len(placed) == 5 and len(refused) == 3
    with read_session(engine) as db:
        assert db.get(Product, fair.products["scarf"]).stock == "0"


def test_the_shopper_pays_the_price_they_were_shown(engine, shop_pm, fair, cash_session):
    order = _order(engine, fair, [CartLine(fair.products["scarf"], 1)])
    with write_session(engine) as db:
        db.execute(update(Product).where(Product.id == fair.products["scarf"]).values(price=15000))

    _, sale = hand_over(
        engine,
        shop_pm,
        order.id,
        user_id=fair.users["cashier"],
        session_id=cash_session.id,
        tenders=[TenderRequest(method="cash", amount=12990)],
        now=NOW,
    )

    assert sale.total.amount == 12990
    line = sale.body["lines"][0]
    assert line["producer"] == fair.producers["P07"] and line["description"] == "Bufanda"


def test_delivery_fee_is_a_fair_rule_paid_to_the_producer_that_delivers(
    engine, shop_pm, fair, cash_session
):
    with pytest.raises(InvalidOrder, match="does not deliver"):
        _order(engine, fair, fulfilment="delivery", address="Calle 1")
    set_order_settings(
        engine,
        fair.fair_id,
        delivery=True,
        delivery_fee=2500,
        delivery_free_from=50_000,
        delivery_producer_id=fair.producers["P02"],
    )
    with pytest.raises(InvalidOrder, match="address"):
        _order(engine, fair, fulfilment="delivery")

    small = _order(engine, fair, fulfilment="delivery", address="Calle 1, Santiago")
    big = _order(
        engine,
        fair,
        [CartLine(fair.products["scarf"], 4)],
        fulfilment="delivery",
        address="Calle 2",
    )

    assert (small.delivery_fee, small.total) == (2500, small.subtotal + 2500)
    assert big.delivery_fee == 0  # free from 50,000
    _, sale = hand_over(
        engine,
        shop_pm,
        small.id,
        user_id=fair.users["cashier"],
        session_id=cash_session.id,
        tenders=[TenderRequest(method="cash", amount=small.total)],
        now=NOW,
    )
    delivery = [s for s in _splits(engine, sale.id) if s[0] == fair.producers["P02"]]
    assert delivery and delivery[0][1] == 2500


def test_orders_close_with_the_cycle_and_with_the_fair(engine, fair):
    set_order_settings(engine, fair.fair_id, cycle_closes_at=dt.datetime(2026, 11, 27, 20, 0))
    order = _order(engine, fair)
    assert order.cycle_closes_at == dt.datetime(2026, 11, 27, 20, 0)

    with pytest.raises(OrdersClosed, match="closed on 2026-11-27"):
        place_order(
            engine,
            _checkout(fair),
            [CartLine(fair.products["scarf"], 1)],
            now=dt.datetime(2026, 11, 28, 9, 0),
        )
    set_order_settings(engine, fair.fair_id, cycle_closes_at=None)
    with pytest.raises(OrdersClosed, match="is over"):
        place_order(
            engine,
            _checkout(fair),
            [CartLine(fair.products["scarf"], 1)],
            now=dt.datetime(2027, 1, 5, 9, 0),
        )
    set_order_settings(engine, fair.fair_id, accepting=False)
    with pytest.raises(OrdersClosed, match="not taking"):
        _order(engine, fair)


def test_only_what_the_fair_sells_can_be_ordered(engine, fair):
    with pytest.raises(InvalidOrder, match="not sold at Feria de prueba"):
        _order(engine, fair, [CartLine(fair.products["other"], 1)])
    with pytest.raises(InvalidOrder, match="by the piece"):
        _order(engine, fair, [CartLine(fair.products["scarf"], "1.5")])
    with pytest.raises(InvalidOrder, match="e-mail"):
        _order(engine, fair, email="not an address")
    with pytest.raises(InvalidOrder, match="not offered"):
        _order(engine, fair, payment="bitcoin")


def test_a_checkout_sent_twice_places_one_order(engine, fair):
    checkout = _checkout(fair)
    lines = [CartLine(fair.products["scarf"], 1)]
    first = place_order(engine, checkout, lines, now=NOW)
    second = place_order(engine, checkout, lines, now=NOW)
    assert first.id == second.id and first.token == second.token


def test_status_link_shows_the_order_and_notices_a_payment_it_missed(engine, shop_pm, fair):
    """A crash between recording the sale and marking the order must not lose the payment."""
    from feria.cashbox.sales import LineRequest, record_sale

    order = _order(engine, fair, [CartLine(fair.products["scarf"], 1)], pm=shop_pm)
    record_sale(
        engine,
        shop_pm,
        key=order.key,
        fair_id=fair.fair_id,
        lines=[LineRequest(product_id=fair.products["scarf"], quantity=1)],
        tenders=[TenderRequest(method="testcard", amount=12990, reference="pi_crash")],
    )

    seen = order_by_token(engine, order.token)

    assert seen.status == "paid" and seen.prepaid
    assert order_by_token(engine, "no-such-token") is None


def test_producers_see_their_preorders_consolidated_per_cycle(engine, fair):
    first_cycle = dt.datetime(2026, 11, 27, 20, 0)
    set_order_settings(engine, fair.fair_id, cycle_closes_at=first_cycle)
    _order(engine, fair, [CartLine(fair.products["honey"], "1.25")])
    _order(engine, fair, [CartLine(fair.products["honey"], "0.5")])
    gone = _order(engine, fair, [CartLine(fair.products["honey"], 3)])
    cancel_order(engine, gone.id, now=NOW)
    set_order_settings(engine, fair.fair_id, cycle_closes_at=dt.datetime(2026, 12, 4, 20, 0))
    _order(engine, fair, [CartLine(fair.products["honey"], 2)])

    with read_session(engine) as db:
        cycles = preorder_cycles(db, fair.producers["P01"])
        others = preorder_cycles(db, fair.producers["P07"])

    assert [c.closes_at for c in cycles] == [dt.datetime(2026, 12, 4, 20, 0), first_cycle]
    older = cycles[1].products
    assert [(p.name, p.quantity, p.orders) for p in older] == [("Miel", Decimal("1.75"), 2)]
    assert older[0].total.amount == 10000 + 4000
    assert others == []


def test_fair_with_a_payment_at_pickup_default(engine, fair):
    order = _order(engine, fair)
    assert order.payment == PAY_AT_PICKUP
    with read_session(engine) as db:
        assert db.get(Fair, fair.fair_id).currency == order.currency
