"""``POST /-/plugins/stripe/webhook``: the only way a card payment is confirmed.

Register this URL in Stripe's dashboard (Developers → Webhooks) for the events
``payment_intent.succeeded``, ``payment_intent.payment_failed`` and ``charge.refunded``, and
put the endpoint's signing secret in ``FERIA_STRIPE_WEBHOOK_SECRET``.

Every request is checked by the SDK's ``construct_event``: the ``Stripe-Signature`` header
must carry an HMAC-SHA256, with the endpoint's secret, of ``"{t}.{body}"``, and ``t`` must be
within the tolerance (300 s by default). A forged or stale request is answered 400 and
touches nothing.

An event is acted on at most once: its id goes into ``stripe_events`` after it was handled,
and an id already there is answered 200 without doing anything (Stripe stops retrying). Two
deliveries of the same event arriving at the same instant may both be handled; that is safe
because a paid order's sale is recorded under the order's idempotency key, so the second
finds the first's sale. If handling fails, the id is not written and the answer is 500:
Stripe delivers the event again later (for up to three days), so a passing failure heals.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pluggy
import stripe
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from feria.cashbox.sales import TenderRequest
from feria.db import read_session, write_session
from feria.errors import FeriaError
from feria.web.state import app_state
from feria_stripe.amounts import from_stripe
from feria_stripe.method import CODE, ORDER_KEY, REFUND_KEY, stripe_client
from feria_stripe.models import StripeEvent
from feria_stripe.settings import StripeSettings

log = logging.getLogger("feria.stripe")

PREFIX = "/-/plugins/stripe"
WEBHOOK_PATH = f"{PREFIX}/webhook"
MAX_BODY = 512 * 1024  # Stripe's events are a few kilobytes


class OrderNotRecorded(FeriaError):
    """A payment succeeded at Stripe but no sale could be recorded for its order (yet)."""

    code = "stripe_order_not_recorded"
    status = 500


def already_processed(engine: Engine, event_id: str) -> bool:
    with read_session(engine) as db:
        return db.scalar(select(StripeEvent.id).where(StripeEvent.id == event_id)) is not None


def mark_processed(engine: Engine, event: dict[str, Any], outcome: str) -> bool:
    """Write the event's id; ``False`` if a concurrent delivery of it got there first."""
    obj = event.get("data", {}).get("object", {})
    try:
        with write_session(engine) as db:
            db.add(
                StripeEvent(
                    id=event["id"],
                    type=event.get("type", "")[:100],
                    object_id=str(obj.get("id", ""))[:255],
                    outcome=outcome[:500],
                )
            )
    except IntegrityError:
        return False
    return True


# -- what each event means -----------------------------------------------------------------


def payment_succeeded(event, *, engine, pm, settings) -> str:
    intent = event["data"]["object"]
    order_key = (intent.get("metadata") or {}).get(ORDER_KEY)
    if not order_key:
        return "not a feria payment"
    paid = from_stripe(intent["amount_received"], intent["currency"])
    tenders = [TenderRequest(CODE, paid.amount, currency=paid.currency, reference=intent["id"])]
    try:
        sale = pm.hook.feria_record_paid_order(
            order_key=order_key, tenders=tenders, engine=engine, pm=pm
        )
    except FeriaError as exc:
        # The card was charged but the order's sale was refused (the order was cancelled,
        # changed, or paid otherwise). Money is never moved back without a person: the
        # organizer decides, and meanwhile Stripe keeps redelivering this event.
        raise OrderNotRecorded(
            f"{intent['id']} paid {paid} for order {order_key}, but its sale was refused: "
            f"{exc.message}. Fix the order, or refund the payment in Stripe's dashboard.",
        ) from exc
    if sale is None:
        raise OrderNotRecorded(
            f"{intent['id']} paid {paid} for order {order_key}, which no installed plugin "
            "knows (is the storefront installed and enabled?)"
        )
    if intent["id"] not in {t.get("reference") for t in sale.body.get("tenders", ())}:
        # The order was already paid by another payment (a second intent for the same
        # order, after Stripe forgot the first idempotency key): this money has no sale.
        # Retrying would not change that, so the event is acknowledged and a person told.
        outcome = (
            f"order {order_key} was already paid (sale {sale.id}): {intent['id']} charged "
            f"{paid} more; refund it in Stripe's dashboard"
        )
        log.error("Stripe payment with no sale: %s", outcome)
        return outcome
    return f"sale {sale.id}" + (" (already recorded)" if sale.replayed else "")


def payment_failed(event, *, engine, pm, settings) -> str:
    intent = event["data"]["object"]
    order_key = (intent.get("metadata") or {}).get(ORDER_KEY)
    if not order_key:
        return "not a feria payment"
    error = intent.get("last_payment_error") or {}
    reason = error.get("message") or "the payment was not completed"
    pm.hook.feria_online_payment_failed(
        order_key=order_key, method=CODE, reference=intent["id"], reason=reason
    )
    return f"failed: {reason}"


def charge_refunded(event, *, engine, pm, settings) -> str:
    """Refunds made in the back office are already journaled (the refund entry is only
    written once Stripe accepted it). A refund made in Stripe's dashboard is not: feria
    cannot tell which lines it returns, so it is logged for a person to record."""
    charge = event["data"]["object"]
    refunds = stripe_client(settings).v1.refunds.list({"charge": charge["id"], "limit": 100})
    outside = [
        r["id"] for r in refunds.to_dict()["data"] if not (r.get("metadata") or {}).get(REFUND_KEY)
    ]
    if not outside:
        return "refunds recorded by feria"
    log.warning(
        "Stripe refunded %s outside feria (%s): record the refund in the back office with "
        "the refund's id as the card tender's reference",
        charge.get("payment_intent") or charge["id"],
        ", ".join(outside),
    )
    return "refunded outside feria: " + ", ".join(outside)


HANDLERS = {
    "payment_intent.succeeded": payment_succeeded,
    "payment_intent.payment_failed": payment_failed,
    "charge.refunded": charge_refunded,
}


def handle_event(
    engine: Engine, pm: pluggy.PluginManager, settings: StripeSettings, event: dict[str, Any]
) -> str:
    """Act on a verified event once; return what was done, for the log and the answer."""
    if already_processed(engine, event["id"]):
        return "duplicate"
    handler = HANDLERS.get(event.get("type", ""))
    outcome = (
        "ignored" if handler is None else handler(event, engine=engine, pm=pm, settings=settings)
    )
    if not mark_processed(engine, event, outcome):
        return "duplicate"
    return outcome


# -- the endpoint ------------------------------------------------------------------------------


def _refusal(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message}}, status_code=status)


async def webhook(request: Request) -> JSONResponse:
    state = app_state(request)
    settings = StripeSettings.from_env()
    problem = settings.problem()
    if problem is not None:
        log.error("a Stripe webhook arrived but card payments are not configured: %s", problem)
        return _refusal(503, "card payments are not configured here")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        return _refusal(413, "a Stripe event is never this large")
    payload = await request.body()
    try:
        stripe_client(settings).construct_event(
            payload,
            request.headers.get("stripe-signature"),
            settings.webhook_secret,
            tolerance=settings.tolerance,
        )
        event = json.loads(payload)
        if not isinstance(event, dict) or not isinstance(event.get("id"), str):
            raise ValueError("an event has an id")
    except stripe.SignatureVerificationError as exc:
        log.warning("refused a webhook that Stripe did not sign (or too old): %s", exc)
        return _refusal(400, "the Stripe-Signature header does not verify")
    except ValueError as exc:
        return _refusal(400, f"not a Stripe event: {exc}")
    try:
        outcome = await run_in_threadpool(handle_event, state.engine, state.pm, settings, event)
    except Exception as exc:
        log.error("Stripe event %s (%s) was not handled: %s", event["id"], event.get("type"), exc)
        if not isinstance(exc, FeriaError | stripe.StripeError):
            log.exception("while handling Stripe event %s", event["id"])
        return _refusal(500, "not handled; Stripe will deliver it again")
    log.info("Stripe event %s (%s): %s", event["id"], event.get("type"), outcome)
    return JSONResponse({"received": True, "outcome": outcome})


routes = [Route(WEBHOOK_PATH, webhook, methods=["POST"], name="stripe_webhook")]
