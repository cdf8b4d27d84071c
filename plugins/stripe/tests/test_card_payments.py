"""An online order paid by card: Stripe confirms it with a webhook, the order's sale goes
through the caja común like any other, and Stripe's real fee is the tender's fee."""

from __future__ import annotations

import pytest
import stripe
from feria_stripe.method import ORDER_KEY
from sqlalchemy import select

from feria.cashbox.errors import PaymentRefused
from feria.cashbox.models import Sale, SaleLine, Split, Tender
from feria.cashbox.sales import LineRequest, TenderRequest, payment_methods, record_sale
from feria.catalogue.models import Fair
from feria.db import read_session


def _sale(engine, key: str) -> Sale | None:
    with read_session(engine) as db:
        return db.scalar(select(Sale).where(Sale.idempotency_key == key))


def test_paid_order_is_in_each_producers_lines_with_stripes_fee_split_exactly(
    engine, fair, checkout, stripe_env, storefront
):
    order = checkout()  # 1 kg of honey (P01, 8,000) and a scarf (P07, 12,990)

    deliveries = stripe_env.succeed(order.intent)

    assert [d.status for d in deliveries] == [200, 200]
    sale = _sale(engine, order.key)
    assert sale is not None and sale.total == 20_990 and sale.session_id is None
    with read_session(engine) as db:
        (tender,) = db.scalars(select(Tender).where(Tender.sale_id == sale.id))
        lines = {
            ln.producer_id: ln.total
            for ln in db.scalars(select(SaleLine).where(SaleLine.sale_id == sale.id))
        }
        splits = {
            s.producer_id: (s.gross, s.withheld, s.fee, s.net)
            for s in db.scalars(select(Split).where(Split.sale_id == sale.id))
        }
    # Stripe's fee as its balance transaction states it: 2.9% of 20,990 (608.71 → 609) + 30.
    txn = stripe_env.get(stripe_env.get(order.intent)["latest_charge"])["balance_transaction"]
    assert stripe_env.get(txn)["fee"] == 639
    assert (tender.method, tender.reference, tender.applied, tender.fee) == (
        "stripe",
        order.intent,
        20_990,
        639,
    )
    p01, p07 = fair.producers["P01"], fair.producers["P07"]
    assert lines == {p01: 8_000, p07: 12_990}
    # The fee is shared like the money (largest remainder: 243.5… gets the odd peso), the
    # fund withholds 5%, and everything adds up to what the shopper paid, to the peso.
    assert splits == {p01: (8_000, 400, 244, 7_356), p07: (12_990, 650, 395, 11_945)}
    assert sum(n for *_, n in splits.values()) + 1_050 + 639 == 20_990
    assert storefront.recorded == [(order.key, sale.id)]


def test_checkout_sent_twice_starts_one_payment_intent_keyed_by_the_order(
    engine, pm, fair, checkout, stripe_env
):
    order = checkout()
    with read_session(engine) as db:
        method = payment_methods(pm, db.get(Fair, fair.fair_id))["stripe"]

    again = method.create_payment(order.key, order.total, description="Pedido de prueba")

    assert again.reference == order.intent
    creates = [
        r for r in stripe_env.requests if (r.method, r.path) == ("POST", "/v1/payment_intents")
    ]
    assert [r.idempotency_key for r in creates] == [f"feria-order-{order.key}"] * 2
    intent = stripe_env.get(order.intent)
    assert (intent["amount"], intent["currency"], intent["metadata"][ORDER_KEY]) == (
        20_990,
        "clp",
        order.key,
    )


def test_declined_card_leaves_no_sale_and_tells_the_storefront(
    engine, checkout, stripe_env, storefront, counts
):
    order = checkout()
    before = counts()

    deliveries = stripe_env.fail(order.intent)

    assert [d.status for d in deliveries] == [200, 200]
    assert _sale(engine, order.key) is None
    assert counts() == before
    assert storefront.failed == [(order.key, "stripe", order.intent, "Your card was declined.")]


def test_shopper_may_pay_again_after_a_decline(engine, checkout, stripe_env, storefront):
    order = checkout()
    stripe_env.fail(order.intent)

    stripe_env.succeed(order.intent)

    assert _sale(engine, order.key) is not None
    assert len(storefront.recorded) == 1


def test_payment_for_an_order_no_plugin_knows_is_not_acknowledged_until_one_does(
    engine, checkout, stripe_env, storefront, counts
):
    order = checkout()
    known = storefront.orders.pop(order.key)  # e.g. the storefront was disabled
    before = counts()

    first = stripe_env.succeed(order.intent)

    assert [d.status for d in first if d.event_type == "payment_intent.succeeded"] == [500]
    assert counts() == before
    # Stripe delivers the event again later; by then the order is known.
    storefront.orders[order.key] = known
    event_id = next(d.event_id for d in first if d.event_type == "payment_intent.succeeded")
    (again,) = stripe_env.resend(event_id)
    assert again.status == 200
    assert _sale(engine, order.key) is not None


def test_payment_made_by_another_system_on_the_same_account_is_left_alone(
    engine, app_url, stripe_env, storefront, counts
):
    client = stripe.StripeClient(stripe_env.secret_key, base_addresses={"api": stripe_env.url})
    intent = client.v1.payment_intents.create({"amount": 5_000, "currency": "clp"})
    before = counts()

    deliveries = stripe_env.succeed(intent.id)

    assert [d.status for d in deliveries] == [200, 200]
    assert '"not a feria payment"' in deliveries[-1].body
    assert counts() == before and storefront.recorded == []


def test_a_card_tender_must_name_a_paid_intent_made_for_that_very_sale(
    engine, pm, fair, checkout, stripe_env, storefront
):
    """A till (or anything calling the engine) cannot settle a sale with a card payment that
    is unpaid, or that paid another order."""
    lines = [LineRequest(product_id=fair.products["scarf"], quantity=1)]
    unpaid = checkout(lines)
    paid = checkout(lines)
    storefront.orders.clear()  # keep the webhook from recording them: this test does
    stripe_env.succeed(paid.intent)

    def pay(key: str, intent: str):
        return record_sale(
            engine,
            pm,
            key=key,
            fair_id=fair.fair_id,
            lines=lines,
            tenders=[TenderRequest("stripe", 12_990, reference=intent)],
        )

    with pytest.raises(PaymentRefused, match="not paid"):
        pay(unpaid.key, unpaid.intent)
    with pytest.raises(PaymentRefused, match="pays another order"):
        pay("another-order-key", paid.intent)
    with pytest.raises(PaymentRefused, match="pi_"):
        pay("yet-another-order", "")
    assert pay(paid.key, paid.intent).body["tenders"][0]["fee"] == 407  # 2.9% of 12,990 + 30


def test_a_second_payment_for_an_order_already_paid_records_nothing_and_is_reported(
    engine, checkout, stripe_env, storefront, counts, caplog
):
    order = checkout()
    stripe_env.succeed(order.intent)
    before = counts()
    # A second intent for the same order (Stripe forgets idempotency keys after a day).
    client = stripe.StripeClient(stripe_env.secret_key, base_addresses={"api": stripe_env.url})
    second = client.v1.payment_intents.create(
        {"amount": 20_990, "currency": "clp", "metadata": {ORDER_KEY: order.key}}
    )

    deliveries = stripe_env.succeed(second.id)

    assert [d.status for d in deliveries] == [200, 200]
    assert counts() == before
    assert f"{second.id} charged" in caplog.text and "refund it" in caplog.text
