"""The stand-in answers as Stripe does on the wire, so passing against it means something:
idempotency keys, error objects and statuses, and webhook signatures Stripe's own SDK
accepts."""

from __future__ import annotations

import json
import time

import httpx
import pytest
import stripe
from feria_stripe.amounts import UnsupportedAmount, from_stripe, to_stripe
from feria_stripe.testing import parse_form

from feria.money import Money


@pytest.fixture
def client(local_stripe) -> stripe.StripeClient:
    return stripe.StripeClient(local_stripe.secret_key, base_addresses={"api": local_stripe.url})


def test_same_idempotency_key_returns_the_same_object_marked_as_replayed(local_stripe):
    def create():
        return httpx.post(
            local_stripe.url + "/v1/payment_intents",
            data={"amount": "1000", "currency": "usd", "metadata[order]": "A-1"},
            headers={
                "Authorization": f"Bearer {local_stripe.secret_key}",
                "Idempotency-Key": "order-A-1",
            },
        )

    first, second = create(), create()

    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert first.json()["object"] == "payment_intent"
    assert first.json()["metadata"] == {"order": "A-1"}
    assert second.headers["Idempotent-Replayed"] == "true"


def test_same_idempotency_key_with_other_parameters_is_an_idempotency_error(client):
    client.v1.payment_intents.create({"amount": 1000, "currency": "usd"}, {"idempotency_key": "k1"})

    with pytest.raises(stripe.IdempotencyError):
        client.v1.payment_intents.create(
            {"amount": 2000, "currency": "usd"}, {"idempotency_key": "k1"}
        )


def test_errors_are_stripe_error_objects_with_stripes_statuses(local_stripe, client):
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.payment_intents.retrieve("pi_doesnotexist")
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.payment_intents.create({"amount": 100, "currency": "usd", "colour": "red"})
    with pytest.raises(stripe.AuthenticationError) as wrong_key:
        stripe.StripeClient(
            "sk_test_wrong", base_addresses={"api": local_stripe.url}
        ).v1.payment_intents.retrieve("pi_x")
    intent = client.v1.payment_intents.create({"amount": 100, "currency": "usd"})
    with pytest.raises(stripe.CardError) as declined:
        client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_chargeDeclined"})

    assert (missing.value.http_status, missing.value.code) == (404, "resource_missing")
    assert missing.value.json_body["error"]["type"] == "invalid_request_error"
    assert (unknown.value.http_status, unknown.value.param) == (400, "colour")
    assert wrong_key.value.http_status == 401
    assert (declined.value.http_status, declined.value.code) == (402, "card_declined")
    assert client.v1.payment_intents.retrieve(intent.id).status == "requires_payment_method"


def test_paying_through_the_api_settles_the_intent_with_a_charge_and_its_fee(client):
    intent = client.v1.payment_intents.create({"amount": 10_000, "currency": "usd"})

    client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_visa"})
    paid = client.v1.payment_intents.retrieve(
        intent.id, {"expand": ["latest_charge.balance_transaction"]}
    )

    assert paid.status == "succeeded" and paid.amount_received == 10_000
    charge = paid.latest_charge
    assert charge.object == "charge" and charge.paid and charge.payment_intent == intent.id
    txn = charge.balance_transaction
    assert (txn.object, txn.fee, txn.net, txn.currency) == (
        "balance_transaction",
        320,
        9_680,
        "usd",
    )


def test_webhooks_are_signed_so_that_stripes_sdk_verifies_them(local_stripe):
    received: list[tuple[bytes, dict[str, str]]] = []
    local_stripe.deliver = lambda url, body, headers: (received.append((body, headers)), (200, ""))[
        1
    ]
    local_stripe.endpoint("http://127.0.0.1:9/hook")
    intent = stripe.StripeClient(
        local_stripe.secret_key, base_addresses={"api": local_stripe.url}
    ).v1.payment_intents.create({"amount": 500, "currency": "eur"})

    local_stripe.succeed(intent.id)

    body, headers = received[-1]
    header = headers["Stripe-Signature"]
    assert header.startswith("t=") and ",v1=" in header
    event = stripe.Webhook.construct_event(body, header, local_stripe.webhook_secret)
    assert event.type == "payment_intent.succeeded" and event.data.object.id == intent.id
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, header, "whsec_other")
    old_body, old_headers = local_stripe.signed(json.loads(body), timestamp=int(time.time()) - 600)
    with pytest.raises(stripe.SignatureVerificationError, match="tolerance"):
        stripe.Webhook.construct_event(
            old_body, old_headers["Stripe-Signature"], local_stripe.webhook_secret
        )


def test_the_test_payment_page_pays_and_returns_to_the_shop(local_stripe):
    local_stripe.deliver = lambda url, body, headers: (200, "")
    intent = stripe.StripeClient(
        local_stripe.secret_key, base_addresses={"api": local_stripe.url}
    ).v1.payment_intents.create({"amount": 990, "currency": "clp", "description": "Pedido 7"})
    page = local_stripe.url + f"/test/pay/{intent.id}"

    shown = httpx.get(page, params={"return_url": "http://shop.test/pedido/7"})
    paid = httpx.post(
        page, data={"card": "4242 4242 4242 4242", "return_url": "http://shop.test/pedido/7"}
    )

    assert "Pay 990 CLP" in shown.text and "Pedido 7" in shown.text
    assert paid.status_code == 303
    assert paid.headers["Location"] == (
        f"http://shop.test/pedido/7?payment_intent={intent.id}&redirect_status=succeeded"
    )
    assert local_stripe.get(intent.id)["status"] == "succeeded"


def test_form_encoding_is_read_back_into_nested_values():
    assert parse_form(
        [("amount", "5"), ("metadata[a]", "1"), ("expand[0]", "x"), ("expand[1]", "y.z")]
    ) == {"amount": "5", "metadata": {"a": "1"}, "expand": ["x", "y.z"]}


@pytest.mark.parametrize(
    ("money", "wire"),
    [
        (Money(12_990, "CLP"), (12_990, "clp")),  # zero-decimal both sides
        (Money(1_250, "BRL"), (1_250, "brl")),  # centavos both sides
        (Money(5, "ISK"), (500, "isk")),  # Stripe writes ISK with two decimals, always 00
        (Money(1_230, "KWD"), (1_230, "kwd")),  # three decimals, the last one 0
    ],
)
def test_amounts_keep_their_value_on_the_wire(money, wire):
    assert to_stripe(money) == wire
    assert from_stripe(*wire) == money


def test_amounts_stripe_cannot_take_are_refused_not_rounded():
    with pytest.raises(UnsupportedAmount):
        to_stripe(Money(1_235, "KWD"))
    assert from_stripe(1_250, "isk", rounding=True) == Money(13, "ISK")  # a fee, rounded once
