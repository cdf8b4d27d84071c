"""Money paid by card goes back by card: a refund recorded in the back office is made at
Stripe first, and only then journaled; if Stripe refuses, nothing is recorded."""

from __future__ import annotations

import json
import uuid

import pytest
from feria_stripe.method import REFUND_KEY
from sqlalchemy import select

from feria.cashbox.errors import PaymentRefused
from feria.cashbox.models import Sale, Tender
from feria.cashbox.refunds import refund_sale, void_sale
from feria.cashbox.sales import TenderRequest
from feria.db import read_session


@pytest.fixture
def paid_order(engine, checkout, stripe_env):
    """An order of honey (line 1, 8,000) and a scarf (line 2, 12,990), paid by card."""
    order = checkout()
    stripe_env.succeed(order.intent)
    with read_session(engine) as db:
        sale = db.scalar(select(Sale).where(Sale.idempotency_key == order.key))
    return order, sale.id


def _tenders(engine, sale_id: int) -> list[tuple[str, int, int, str]]:
    with read_session(engine) as db:
        return [
            (t.method, t.applied, t.fee, t.reference)
            for t in db.scalars(select(Tender).where(Tender.sale_id == sale_id))
        ]


def test_refund_in_the_back_office_goes_to_stripe_and_is_recorded(
    engine, pm, fair, paid_order, stripe_env
):
    order, sale_id = paid_order
    key = f"refund-{uuid.uuid4().hex}"

    refund = refund_sale(
        engine,
        pm,
        sale_id=sale_id,
        key=key,
        user_id=fair.users["organizer"],
        line_nos=[2],
        tenders=[TenderRequest("stripe", 12_990, reference=order.intent)],
        reason="la bufanda llegó dañada",
    )

    (at_stripe,) = stripe_env.refunds_of(order.intent)
    assert (at_stripe["amount"], at_stripe["status"], at_stripe["metadata"][REFUND_KEY]) == (
        12_990,
        "succeeded",
        key,
    )
    assert refund.body["kind"] == "refund" and refund.body["refers_to"] == sale_id
    assert _tenders(engine, refund.id) == [("stripe", -12_990, 0, at_stripe["id"])]
    # Stripe then tells feria about the refund; it is already in the journal.
    stripe_env.flush()
    told = [d for d in stripe_env.deliveries if d.event_type == "charge.refunded"]
    assert [(d.status, json.loads(d.body)["outcome"]) for d in told] == [
        (200, "refunds recorded by feria")
    ]


def test_refund_retried_with_the_same_key_refunds_once(engine, pm, fair, paid_order, stripe_env):
    order, sale_id = paid_order
    key = f"refund-{uuid.uuid4().hex}"

    def refund():
        return refund_sale(
            engine,
            pm,
            sale_id=sale_id,
            key=key,
            user_id=fair.users["organizer"],
            line_nos=[1],
            tenders=[TenderRequest("stripe", 8_000, reference=order.intent)],
        )

    first, second = refund(), refund()

    assert second.replayed and second.id == first.id
    assert len(stripe_env.refunds_of(order.intent)) == 1


def test_void_of_an_order_paid_by_card_refunds_it_all_at_stripe(
    engine, pm, fair, paid_order, stripe_env
):
    order, sale_id = paid_order

    void = void_sale(
        engine, pm, sale_id=sale_id, key=f"void-{uuid.uuid4().hex}", user_id=fair.users["organizer"]
    )

    assert [r["amount"] for r in stripe_env.refunds_of(order.intent)] == [20_990]
    assert void.body["total"] == -20_990


def test_refund_stripe_refuses_is_not_recorded(engine, pm, fair, paid_order, stripe_env, counts):
    order, sale_id = paid_order
    stripe_env.refund_in_dashboard(order.intent)  # already refunded in full, outside feria
    before = counts()

    with pytest.raises(PaymentRefused, match="already been refunded"):
        refund_sale(
            engine,
            pm,
            sale_id=sale_id,
            key=f"refund-{uuid.uuid4().hex}",
            user_id=fair.users["organizer"],
            tenders=[TenderRequest("stripe", 20_990, reference=order.intent)],
        )

    assert counts() == before


def test_refund_made_in_stripes_dashboard_is_recorded_once_without_paying_twice(
    engine, pm, fair, paid_order, stripe_env
):
    order, sale_id = paid_order
    made = stripe_env.refund_in_dashboard(order.intent, amount=8_000)
    stripe_env.flush()
    told = [d for d in stripe_env.deliveries if d.event_type == "charge.refunded"]
    assert json.loads(told[-1].body)["outcome"] == f"refunded outside feria: {made['id']}"

    def record(key: str):
        return refund_sale(
            engine,
            pm,
            sale_id=sale_id,
            key=key,
            user_id=fair.users["organizer"],
            line_nos=[1],
            tenders=[TenderRequest("stripe", 8_000, reference=made["id"])],
        )

    recorded = record(f"refund-{uuid.uuid4().hex}")

    assert _tenders(engine, recorded.id) == [("stripe", -8_000, 0, made["id"])]
    assert len(stripe_env.refunds_of(order.intent)) == 1  # nothing paid back twice
    assert stripe_env.get(made["id"])["metadata"][REFUND_KEY] == recorded.body["key"]
