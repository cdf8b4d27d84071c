"""Only Stripe can confirm a payment: a webhook must carry Stripe's signature over exactly
this body, recently made, and each event is acted on once, however often it arrives."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from feria_stripe.models import StripeEvent
from feria_stripe.webhooks import WEBHOOK_PATH
from sqlalchemy import func, select

from feria.db import read_session


def _events_seen(engine) -> int:
    with read_session(engine) as db:
        return db.scalar(select(func.count()).select_from(StripeEvent))


@pytest.fixture
def paid_event(checkout, stripe_env):
    """A ``payment_intent.succeeded`` event for a fresh order, not delivered to feria yet."""
    order = checkout()
    endpoints, stripe_env.endpoints[:] = list(stripe_env.endpoints), []
    stripe_env.succeed(order.intent)
    stripe_env.endpoints[:] = endpoints
    event = next(e for e in stripe_env.events if e["type"] == "payment_intent.succeeded")
    return order, stripe_env.get(event["id"])


def _post(app_url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(app_url + WEBHOOK_PATH, content=body, headers=headers)


def test_webhook_signed_with_another_secret_is_refused_and_changes_nothing(
    engine, app_url, paid_event, stripe_env, storefront, counts
):
    order, event = paid_event
    before = counts()
    body, headers = stripe_env.signed(event, secret="whsec_guessed_by_an_attacker")

    answer = _post(app_url, body, headers)

    assert answer.status_code == 400
    assert counts() == before and _events_seen(engine) == 0 and storefront.recorded == []


def test_webhook_whose_body_was_altered_after_signing_is_refused(
    engine, app_url, paid_event, stripe_env, storefront, counts
):
    order, event = paid_event
    before = counts()
    body, headers = stripe_env.signed(event)
    forged = json.loads(body)
    forged["data"]["object"]["amount_received"] = 1
    forged_body = json.dumps(forged, indent=2).encode()

    answers = [
        _post(app_url, forged_body, headers),
        _post(app_url, body, {"Content-Type": "application/json"}),  # no signature at all
    ]

    assert [a.status_code for a in answers] == [400, 400]
    assert counts() == before and _events_seen(engine) == 0 and storefront.recorded == []


def test_webhook_signed_longer_ago_than_the_tolerance_is_refused(
    engine, app_url, paid_event, stripe_env, storefront, counts
):
    order, event = paid_event
    before = counts()
    body, headers = stripe_env.signed(event, timestamp=int(time.time()) - 301)

    answer = _post(app_url, body, headers)

    assert answer.status_code == 400
    assert counts() == before and _events_seen(engine) == 0 and storefront.recorded == []
    # The same event, freshly signed, is accepted: it was the age that was refused.
    assert _post(app_url, *stripe_env.signed(event)).status_code == 200
    assert len(storefront.recorded) == 1


def test_replayed_webhook_is_acted_on_once(
    engine, app_url, paid_event, stripe_env, storefront, counts
):
    order, event = paid_event
    body, headers = stripe_env.signed(event)
    first = _post(app_url, body, headers)
    after_first = counts()

    # Someone who captured the delivery replays it within the tolerance, and Stripe
    # itself delivers the same event again.
    replayed = _post(app_url, body, headers)
    (resent,) = stripe_env.resend(event["id"])

    assert first.status_code == 200 and first.json()["outcome"].startswith("sale ")
    assert replayed.status_code == 200 and replayed.json()["outcome"] == "duplicate"
    assert resent.status == 200 and json.loads(resent.body)["outcome"] == "duplicate"
    assert counts() == after_first
    assert len(storefront.recorded) == 1
    assert _events_seen(engine) == 1


def test_webhooks_are_refused_when_card_payments_are_not_configured(
    engine, app_url, paid_event, stripe_env, monkeypatch, counts
):
    order, event = paid_event
    before = counts()
    body, headers = stripe_env.signed(event)
    monkeypatch.delenv("FERIA_STRIPE_WEBHOOK_SECRET")

    answer = _post(app_url, body, headers)

    assert answer.status_code == 503
    assert counts() == before


def test_the_same_event_delivered_twice_at_once_records_one_sale(
    engine, app_url, paid_event, stripe_env, counts
):
    order, event = paid_event
    body, headers = stripe_env.signed(event)
    sales_before, entries_before = counts()
    barrier = threading.Barrier(2)

    def deliver() -> httpx.Response:
        barrier.wait()
        return _post(app_url, body, headers)

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: deliver(), range(2)))

    assert [a.status_code for a in answers] == [200, 200]
    assert counts() == (sales_before + 1, entries_before + 1)
    assert _events_seen(engine) == 1
