"""A stand-in of Stripe's API on 127.0.0.1, for tests and the demo.

Stripe cannot be reached from a fair's laptop nor from CI, so the plugin is tested with the
real ``stripe`` SDK pointed at this server (``FERIA_STRIPE_API_BASE``). It answers the part
of the API the plugin uses, in Stripe's wire format: form-encoded requests authenticated by
``Authorization: Bearer sk_…``, JSON objects (``payment_intent``, ``charge``,
``balance_transaction``, ``refund``, ``event``, ``list``) and error objects with ``type``,
``code``, ``message`` and ``param`` under the HTTP status Stripe uses. It keeps Stripe's
promises that the plugin relies on:

* ``Idempotency-Key``: a POST repeated with the same key returns the first answer (with
  ``Idempotent-Replayed: true``); the same key with other parameters is an
  ``idempotency_error``;
* webhooks are signed as Stripe signs them, ``Stripe-Signature: t=<unix time>,v1=<hex
  HMAC-SHA256 of "{t}.{body}" with the endpoint's secret>``, and delivered by HTTP POST;
* a charge's balance transaction states the fee (``fee_bp``/``fee_fixed``, in Stripe's units
  of the charge currency, or converted to a ``settlement_currency``).

A test plays the shopper and the card network: :meth:`LocalStripe.succeed` or
:meth:`LocalStripe.fail` settle an intent and deliver its events at once; ``POST
/v1/payment_intents/{id}/confirm`` with Stripe's test payment methods (``pm_card_visa``,
``pm_card_chargeDeclined``) does the same through the API. In the demo, the shopper pays on
``/test/pay/{intent}``, a page standing in for Stripe's card form (the test card
``4242 4242 4242 4242`` pays; ``4000 0000 0000 0002`` is declined).

It is a test double: no persistence, no authentication beyond the one key, one account.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import html
import json
import queue
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from feria_stripe.amounts import stripe_decimals

API_VERSION = "2026-10-28.endive"
TEST_CARD_PAYS = "4242424242424242"
TEST_CARD_DECLINED = "4000000000000002"
PAYING_METHODS = {"pm_card_visa", "pm_card_mastercard", "pm_card_amex"}
DECLINED_METHODS = {"pm_card_chargeDeclined", "pm_card_visa_chargeDeclined"}


class StripeWireError(Exception):
    """An error answer: ``status`` and Stripe's error object."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"message": message, "type": type}
        if code:
            self.body["code"] = code
            self.body["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param:
            self.body["param"] = param
        self.body.update(extra)


def _missing(kind: str, object_id: str, param: str) -> StripeWireError:
    return StripeWireError(
        404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param
    )


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook POST: which event, to where, and the receiver's HTTP status (0: no
    answer)."""

    event_id: str
    event_type: str
    url: str
    status: int
    body: str


@dataclass(frozen=True, slots=True)
class RequestSeen:
    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None


Deliver = Callable[[str, bytes, dict[str, str]], tuple[int, str]]


def post_over_http(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """Deliver a webhook as Stripe does: an HTTP POST of the JSON body."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as exc:
        return 0, str(exc)


def sign(payload: bytes | str, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header value for ``payload``, as Stripe computes it."""
    text = payload.decode("utf-8") if isinstance(payload, bytes) else payload
    t = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(secret.encode("utf-8"), f"{t}.{text}".encode(), hashlib.sha256)
    return f"t={t},v1={mac.hexdigest()}"


def _new_id(prefix: str) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(24))


def parse_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding back to nested values: ``metadata[k]=v`` is a dict,
    ``expand[0]=a`` (or ``expand[]=a``) a list."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"^[^\[\]]+|\[([^\[\]]*)\]", key)
        names = [key.split("[", 1)[0], *parts[1:]] if "[" in key else [key]
        node = root
        for i, name in enumerate(names):
            last = i == len(names) - 1
            if name == "":
                name = str(sum(1 for k in node if k.isdigit()))
            if last:
                node[name] = value
            else:
                node = node.setdefault(name, {})
                if not isinstance(node, dict):
                    raise StripeWireError(400, f"Invalid array: {key}", param=key)
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: _lists(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def _int(params: dict[str, Any], name: str, *, required: bool = False) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise StripeWireError(
                400, f"Missing required param: {name}.", code="parameter_missing", param=name
            )
        return None
    if not isinstance(raw, str) or not re.fullmatch(r"-?\d+", raw):
        raise StripeWireError(
            400, f"Invalid integer: {raw}", code="parameter_invalid_integer", param=name
        )
    return int(raw)


def _check_params(params: dict[str, Any], allowed: set[str]) -> None:
    for name in params:
        if name not in allowed:
            raise StripeWireError(
                400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name
            )


def _metadata(params: dict[str, Any], current: dict[str, str] | None = None) -> dict[str, str]:
    raw = params.get("metadata", {})
    if raw == "":
        return {}
    if not isinstance(raw, dict):
        raise StripeWireError(400, "Invalid object", param="metadata")
    merged = dict(current or {})
    for k, v in raw.items():
        if v == "":
            merged.pop(k, None)  # Stripe unsets a metadata key given an empty value
        else:
            merged[k] = str(v)
    return merged


class LocalStripe:
    """Stripe's API on ``http://127.0.0.1:<free port>``; use as a context manager or call
    :meth:`start` and :meth:`stop`.

    ``endpoint(url)`` adds a webhook endpoint; every event is then POSTed there, signed
    with ``webhook_secret``. Events caused by a test's own call (:meth:`succeed`,
    :meth:`fail`) are delivered before the call returns; events caused by an API request
    (a refund) are delivered afterwards from a background thread, as Stripe does, and
    :meth:`flush` waits for them.
    """

    def __init__(
        self,
        secret_key: str = "sk_test_local_stand_in",
        *,
        webhook_secret: str = "whsec_local_stand_in",
        publishable_key: str = "pk_test_local_stand_in",
        fee_bp: int = 290,
        fee_fixed: int = 30,
        settlement_currency: str | None = None,
        exchange_rate: Decimal | str | None = None,
        deliver: Deliver = post_over_http,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.secret_key = secret_key
        self.webhook_secret = webhook_secret
        self.publishable_key = publishable_key
        self.fee_bp = fee_bp
        self.fee_fixed = fee_fixed
        self.settlement_currency = settlement_currency.lower() if settlement_currency else None
        self.exchange_rate = Decimal(str(exchange_rate)) if exchange_rate is not None else None
        self.deliver = deliver
        self.endpoints: list[tuple[str, str]] = []
        self.events: list[dict[str, Any]] = []
        self.deliveries: list[Delivery] = []
        self.requests: list[RequestSeen] = []
        self._objects: dict[str, dict[str, Any]] = {}
        self._idempotent: dict[str, tuple[str, str, dict[str, Any], int, bytes]] = {}
        self._lock = threading.RLock()
        self._outbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._server = ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True
        self._server.stand_in = self  # type: ignore[attr-defined]
        self._threads: list[threading.Thread] = []

    # -- running ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LocalStripe:
        for target in (self._server.serve_forever, self._sender):
            thread = threading.Thread(target=target, name="local-stripe", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._outbox.put(None)
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> LocalStripe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        """The plugin's settings that point it here."""
        return {
            "FERIA_STRIPE_SECRET_KEY": self.secret_key,
            "FERIA_STRIPE_WEBHOOK_SECRET": self.webhook_secret,
            "FERIA_STRIPE_PUBLISHABLE_KEY": self.publishable_key,
            "FERIA_STRIPE_API_BASE": self.url,
        }

    def endpoint(self, url: str, secret: str | None = None) -> None:
        """Send every event from now on to ``url``, signed with ``secret``."""
        with self._lock:
            self.endpoints.append((url, secret or self.webhook_secret))

    # -- what a test looks at ----------------------------------------------------------------
    def get(self, object_id: str) -> dict[str, Any]:
        """A copy of any object this stand-in holds (``pi_…``, ``ch_…``, ``re_…``, ``evt_…``)."""
        with self._lock:
            return copy.deepcopy(self._objects[object_id])

    def refunds_of(self, intent_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [
                copy.deepcopy(o)
                for o in self._objects.values()
                if o["object"] == "refund" and o["payment_intent"] == intent_id
            ]

    # -- the shopper and the card network -------------------------------------------------
    def succeed(self, intent_id: str) -> list[Delivery]:
        """The shopper's card pays ``intent_id``; its events are delivered now."""
        with self._lock:
            events = self._settle(intent_id, paid=True)
        return [d for e in events for d in self._deliver(e)]

    def fail(self, intent_id: str, message: str = "Your card was declined.") -> list[Delivery]:
        """The shopper's card is declined; the intent waits for another payment method."""
        with self._lock:
            events = self._settle(intent_id, paid=False, message=message)
        return [d for e in events for d in self._deliver(e)]

    def refund_in_dashboard(self, intent_id: str, amount: int | None = None) -> dict[str, Any]:
        """Someone refunds ``intent_id`` in Stripe's dashboard, outside feria."""
        with self._lock:
            refund, events = self._refund(
                {
                    "payment_intent": intent_id,
                    **({"amount": str(amount)} if amount is not None else {}),
                },
                request=None,
            )
        for event in events:
            self._deliver(event)
        return refund

    def resend(self, event_id: str) -> list[Delivery]:
        """Deliver an event again, as the dashboard's "Resend" (or a retry) does."""
        return self._deliver(self.get(event_id))

    def signed(
        self,
        event: dict[str, Any],
        *,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers of a webhook delivery of ``event`` (for a test to send
        itself, e.g. late, or signed with the wrong secret)."""
        body = json.dumps(event, indent=2).encode("utf-8")
        return body, {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": sign(body, secret or self.webhook_secret, timestamp),
        }

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until the events caused by API requests have been delivered."""
        deadline = time.monotonic() + timeout
        while self._outbox.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        if self._outbox.unfinished_tasks:
            raise TimeoutError("webhooks still waiting to be delivered")

    # -- state changes (called with the lock held) ------------------------------------------
    def _store(self, obj: dict[str, Any]) -> dict[str, Any]:
        self._objects[obj["id"]] = obj
        return obj

    def _find(self, object_id: str, kind: str, param: str) -> dict[str, Any]:
        obj = self._objects.get(object_id)
        if obj is None or obj["object"] != kind:
            raise _missing(kind, object_id, param)
        return obj

    def _event(self, type_: str, obj: dict[str, Any], request: dict | None) -> dict[str, Any]:
        event = self._store(
            {
                "id": _new_id("evt_"),
                "object": "event",
                "api_version": API_VERSION,
                "created": int(time.time()),
                "data": {"object": copy.deepcopy(obj)},
                "livemode": False,
                "pending_webhooks": len(self.endpoints),
                "request": request or {"id": None, "idempotency_key": None},
                "type": type_,
            }
        )
        self.events.append(event)
        return copy.deepcopy(event)

    def _create_intent(self, params: dict[str, Any]) -> dict[str, Any]:
        _check_params(
            params,
            {
                "amount",
                "currency",
                "automatic_payment_methods",
                "payment_method_types",
                "metadata",
                "description",
                "receipt_email",
                "statement_descriptor_suffix",
                "expand",
            },
        )
        amount = _int(params, "amount", required=True)
        if amount is None or amount < 1:
            raise StripeWireError(
                400, "This value must be greater than or equal to 1.", param="amount"
            )
        code = params.get("currency")
        if not code:
            raise StripeWireError(
                400,
                "Missing required param: currency.",
                code="parameter_missing",
                param="currency",
            )
        if not re.fullmatch(r"[a-z]{3}", code):
            raise StripeWireError(400, f"Invalid currency: {code}.", param="currency")
        intent_id = _new_id("pi_")
        automatic = params.get("automatic_payment_methods")
        return self._store(
            {
                "id": intent_id,
                "object": "payment_intent",
                "amount": amount,
                "amount_capturable": 0,
                "amount_received": 0,
                "automatic_payment_methods": {"allow_redirects": "always", "enabled": True}
                if automatic
                else None,
                "canceled_at": None,
                "capture_method": "automatic_async",
                "client_secret": f"{intent_id}_secret_{secrets.token_hex(12)}",
                "confirmation_method": "automatic",
                "created": int(time.time()),
                "currency": code,
                "customer": None,
                "description": params.get("description"),
                "last_payment_error": None,
                "latest_charge": None,
                "livemode": False,
                "metadata": _metadata(params),
                "next_action": None,
                "payment_method": None,
                "payment_method_types": params.get("payment_method_types") or ["card"],
                "receipt_email": params.get("receipt_email"),
                "status": "requires_payment_method",
            }
        )

    def _settled_amount(self, amount: int, code: str) -> tuple[int, str, str | None]:
        if not self.settlement_currency or self.settlement_currency == code:
            return amount, code, None
        rate = self.exchange_rate or Decimal(1)
        exact = (
            Decimal(amount)
            * rate
            * Decimal(10) ** (stripe_decimals(self.settlement_currency) - stripe_decimals(code))
        )
        settled = int(exact.to_integral_value(rounding=ROUND_HALF_UP))
        return settled, self.settlement_currency, str(rate)

    def _settle(
        self, intent_id: str, *, paid: bool, message: str = "", request: dict | None = None
    ) -> list[dict[str, Any]]:
        intent = self._find(intent_id, "payment_intent", "intent")
        if intent["status"] in ("succeeded", "canceled"):
            raise StripeWireError(
                400,
                f"This PaymentIntent's status is {intent['status']}; it cannot be paid again.",
                code="payment_intent_unexpected_state",
            )
        now = int(time.time())
        charge = {
            "id": _new_id("ch_"),
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": intent["amount"] if paid else 0,
            "amount_refunded": 0,
            "balance_transaction": None,
            "captured": paid,
            "created": now,
            "currency": intent["currency"],
            "description": intent["description"],
            "failure_code": None if paid else "card_declined",
            "failure_message": None if paid else message,
            "livemode": False,
            "metadata": dict(intent["metadata"]),
            "outcome": {
                "network_status": "approved_by_network" if paid else "declined_by_network",
                "reason": None if paid else "generic_decline",
                "type": "authorized" if paid else "issuer_declined",
            },
            "paid": paid,
            "payment_intent": intent_id,
            "payment_method": _new_id("pm_"),
            "refunded": False,
            "status": "succeeded" if paid else "failed",
        }
        intent["latest_charge"] = charge["id"]
        intent["payment_method"] = charge["payment_method"]
        if paid:
            settled, code, rate = self._settled_amount(intent["amount"], intent["currency"])
            fee = (
                int((Decimal(settled) * self.fee_bp / 10_000).to_integral_value(ROUND_HALF_UP))
                + self.fee_fixed
            )
            txn = self._store(
                {
                    "id": _new_id("txn_"),
                    "object": "balance_transaction",
                    "amount": settled,
                    "available_on": now + 2 * 86_400,
                    "created": now,
                    "currency": code,
                    "description": intent["description"],
                    "exchange_rate": float(rate) if rate else None,
                    "fee": fee,
                    "fee_details": [
                        {
                            "amount": fee,
                            "application": None,
                            "currency": code,
                            "description": "Stripe processing fees",
                            "type": "stripe_fee",
                        }
                    ],
                    "net": settled - fee,
                    "reporting_category": "charge",
                    "source": charge["id"],
                    "status": "pending",
                    "type": "charge",
                }
            )
            charge["balance_transaction"] = txn["id"]
            intent.update(
                status="succeeded", amount_received=intent["amount"], last_payment_error=None
            )
        else:
            intent.update(
                status="requires_payment_method",
                last_payment_error={
                    "charge": charge["id"],
                    "code": "card_declined",
                    "decline_code": "generic_decline",
                    "doc_url": "https://stripe.com/docs/error-codes/card-declined",
                    "message": message,
                    "type": "card_error",
                },
            )
        self._store(charge)
        kind = "succeeded" if paid else "failed"
        return [
            self._event(f"charge.{kind}", charge, request),
            self._event(
                "payment_intent.succeeded" if paid else "payment_intent.payment_failed",
                intent,
                request,
            ),
        ]

    def _refund(
        self, params: dict[str, Any], request: dict | None
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        _check_params(
            params, {"payment_intent", "charge", "amount", "reason", "metadata", "expand"}
        )
        if params.get("payment_intent"):
            intent = self._find(params["payment_intent"], "payment_intent", "payment_intent")
            if not intent["latest_charge"] or intent["status"] != "succeeded":
                raise StripeWireError(
                    400,
                    f"This PaymentIntent ({intent['id']}) does not have a successful charge "
                    "to refund.",
                    code="charge_not_refundable",
                )
            charge = self._find(intent["latest_charge"], "charge", "charge")
        elif params.get("charge"):
            charge = self._find(params["charge"], "charge", "charge")
        else:
            raise StripeWireError(
                400,
                "One of the following params should be provided for this request: "
                "payment_intent or charge.",
                code="parameter_missing",
            )
        left = charge["amount_captured"] - charge["amount_refunded"]
        if left <= 0:
            raise StripeWireError(
                400,
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = _int(params, "amount")
        amount = left if amount is None else amount
        if amount < 1 or amount > left:
            raise StripeWireError(
                400,
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                code="amount_too_large",
                param="amount",
            )
        reason = params.get("reason")
        if reason not in (None, "duplicate", "fraudulent", "requested_by_customer"):
            raise StripeWireError(400, f"Invalid reason: {reason}", param="reason")
        now = int(time.time())
        txn = self._store(
            {
                "id": _new_id("txn_"),
                "object": "balance_transaction",
                "amount": -amount,
                "created": now,
                "currency": charge["currency"],
                "fee": 0,
                "fee_details": [],
                "net": -amount,
                "reporting_category": "refund",
                "source": None,
                "status": "pending",
                "type": "refund",
            }
        )
        refund = self._store(
            {
                "id": _new_id("re_"),
                "object": "refund",
                "amount": amount,
                "balance_transaction": txn["id"],
                "charge": charge["id"],
                "created": now,
                "currency": charge["currency"],
                "metadata": _metadata(params),
                "payment_intent": charge["payment_intent"],
                "reason": reason,
                "receipt_number": None,
                "status": "succeeded",
            }
        )
        txn["source"] = refund["id"]
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount_captured"]
        events = [
            self._event("refund.created", refund, request),
            self._event("charge.refunded", charge, request),
        ]
        return copy.deepcopy(refund), events

    # -- delivering events ---------------------------------------------------------------------
    def _deliver(self, event: dict[str, Any]) -> list[Delivery]:
        with self._lock:
            endpoints = list(self.endpoints)
        done = []
        for url, secret in endpoints:
            body, headers = self.signed(event, secret=secret)
            status, answer = self.deliver(url, body, headers)
            delivery = Delivery(event["id"], event["type"], url, status, answer)
            with self._lock:
                self.deliveries.append(delivery)
            done.append(delivery)
        return done

    def _sender(self) -> None:
        while True:
            event = self._outbox.get()
            try:
                if event is None:
                    return
                self._deliver(event)
            finally:
                self._outbox.task_done()

    def _later(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            self._outbox.put(event)

    # -- the API ------------------------------------------------------------------------------
    def _expand(self, obj: dict[str, Any], paths: list[str]) -> dict[str, Any]:
        obj = copy.deepcopy(obj)
        for path in paths:
            node = obj
            for part in path.split("."):
                value = node.get(part) if isinstance(node, dict) else None
                if isinstance(value, str) and value in self._objects:
                    value = copy.deepcopy(self._objects[value])
                    node[part] = value
                node = value
        return obj

    def handle(
        self, method: str, path: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
        """Answer one API request: ``(status, body, events to deliver afterwards)``."""
        request = {
            "id": headers.get("request-id"),
            "idempotency_key": headers.get("idempotency-key"),
        }
        expand = params.pop("expand", []) if method == "GET" else params.get("expand", [])
        if isinstance(expand, str):
            expand = [expand]
        segments = [s for s in path.split("/") if s]
        if segments[:1] != ["v1"]:
            raise StripeWireError(404, f"Unrecognized request URL ({method}: {path}).")
        route = (method, *segments[1:2], len(segments))
        with self._lock:
            if route == ("POST", "payment_intents", 2):
                return 200, self._expand(self._create_intent(params), expand), []
            if route == ("GET", "payment_intents", 3):
                intent = self._find(segments[2], "payment_intent", "intent")
                return 200, self._expand(intent, expand), []
            if route == ("POST", "payment_intents", 4) and segments[3] == "confirm":
                _check_params(params, {"payment_method", "return_url", "expand"})
                pm = params.get("payment_method", "")
                if pm not in PAYING_METHODS | DECLINED_METHODS:
                    raise StripeWireError(
                        400,
                        f"No such PaymentMethod: '{pm}'",
                        code="resource_missing",
                        param="payment_method",
                    )
                paid = pm in PAYING_METHODS
                events = self._settle(
                    segments[2], paid=paid, message="Your card was declined.", request=request
                )
                intent = self._objects[segments[2]]
                if not paid:
                    body = dict(intent["last_payment_error"])
                    body["payment_intent"] = copy.deepcopy(intent)
                    self._later(events)
                    raise StripeWireError(
                        402,
                        body.pop("message"),
                        type=body.pop("type"),
                        code=body.pop("code"),
                        **{k: v for k, v in body.items() if k != "doc_url"},
                    )
                return 200, self._expand(intent, expand), events
            if route == ("GET", "charges", 3):
                return 200, self._expand(self._find(segments[2], "charge", "charge"), expand), []
            if route == ("GET", "balance_transactions", 3):
                txn = self._find(segments[2], "balance_transaction", "id")
                return 200, self._expand(txn, expand), []
            if route == ("POST", "refunds", 2):
                refund, events = self._refund(params, request)
                return 200, self._expand(refund, expand), events
            if route == ("GET", "refunds", 2):
                found = [
                    o
                    for o in self._objects.values()
                    if o["object"] == "refund"
                    and (not params.get("charge") or o["charge"] == params["charge"])
                    and (
                        not params.get("payment_intent")
                        or o["payment_intent"] == params["payment_intent"]
                    )
                ]
                limit = _int(params, "limit") or 10
                found.sort(key=lambda o: o["created"], reverse=True)
                return (
                    200,
                    {
                        "object": "list",
                        "data": [self._expand(o, []) for o in found[:limit]],
                        "has_more": len(found) > limit,
                        "url": "/v1/refunds",
                    },
                    [],
                )
            if route == ("GET", "refunds", 3):
                return 200, self._expand(self._find(segments[2], "refund", "refund"), expand), []
            if route == ("POST", "refunds", 3):
                _check_params(params, {"metadata", "expand"})
                refund = self._find(segments[2], "refund", "refund")
                refund["metadata"] = _metadata(params, refund["metadata"])
                return 200, self._expand(refund, expand), []
            if route == ("GET", "events", 3):
                return 200, self._find(segments[2], "event", "id"), []
        raise StripeWireError(404, f"Unrecognized request URL ({method}: {path}).")

    def _test_pay_page(self, intent_id: str, query: dict[str, Any]) -> str:
        with self._lock:
            intent = copy.deepcopy(self._find(intent_id, "payment_intent", "intent"))
        digits = stripe_decimals(intent["currency"])
        shown = Decimal(intent["amount"]).scaleb(-digits)
        back = html.escape(str(query.get("return_url", "")))
        return f"""<!doctype html><html lang="en"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Test payment</title>
<style>body{{font:1.1rem system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}}
input,button{{font:inherit;padding:.6rem;width:100%;box-sizing:border-box;margin:.3rem 0}}
.note{{background:#fff3cd;padding:.6rem;border-radius:.3rem}}</style>
<p class="note">A <strong>test stand-in</strong> of Stripe's card form: no real card is
charged. Card {TEST_CARD_PAYS[:4]} {TEST_CARD_PAYS[4:8]} {TEST_CARD_PAYS[8:12]}
{TEST_CARD_PAYS[12:]} pays; {TEST_CARD_DECLINED[:4]} {TEST_CARD_DECLINED[4:8]}
{TEST_CARD_DECLINED[8:12]} {TEST_CARD_DECLINED[12:]} is declined.</p>
<h1>Pay {shown} {intent["currency"].upper()}</h1>
<p>{html.escape(intent.get("description") or "")}</p>
<p>Status: <strong>{intent["status"]}</strong></p>
<form method="post">
<input type="hidden" name="return_url" value="{back}">
<label for="card">Card number</label>
<input id="card" name="card" inputmode="numeric" autocomplete="cc-number"
 value="{TEST_CARD_PAYS[:4]} {TEST_CARD_PAYS[4:8]} {TEST_CARD_PAYS[8:12]} {TEST_CARD_PAYS[12:]}">
<button type="submit">Pay</button></form></html>"""

    def _test_pay(self, intent_id: str, form: dict[str, Any]) -> tuple[int, str]:
        card = re.sub(r"\D", "", str(form.get("card", "")))
        paid = card != TEST_CARD_DECLINED
        (self.succeed if paid else self.fail)(intent_id)
        back = str(form.get("return_url", ""))
        if not back.startswith(("http://", "https://")):
            return 200, "paid" if paid else "declined"
        sep = "&" if urlsplit(back).query else "?"
        status = "succeeded" if paid else "failed"
        return 303, back + sep + urlencode({"payment_intent": intent_id, "redirect_status": status})


class _Handler(BaseHTTPRequestHandler):
    server_version = "LocalStripe/1.0"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
        pass

    @property
    def stand_in(self) -> LocalStripe:
        return self.server.stand_in  # type: ignore[attr-defined]

    def _read(self) -> tuple[str, list[tuple[str, str]]]:
        split = urlsplit(self.path)
        pairs = parse_qsl(split.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            body = self.rfile.read(length).decode("utf-8")
            pairs += parse_qsl(body, keep_blank_values=True)
        return split.path, pairs

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: dict[str, Any], extra: dict[str, str]) -> None:
        body = json.dumps(payload, indent=2).encode("utf-8")
        self._send(status, body, {"Content-Type": "application/json", **extra})

    def do_GET(self) -> None:
        self._api("GET")

    def do_POST(self) -> None:
        self._api("POST")

    def do_DELETE(self) -> None:
        self._api("DELETE")

    def _api(self, method: str) -> None:
        stand_in = self.stand_in
        try:
            path, pairs = self._read()
            params = parse_form(pairs)
        except StripeWireError as exc:
            self._json(exc.status, {"error": exc.body}, {})
            return
        if path.startswith("/test/pay/"):
            self._test_page(method, path.rsplit("/", 1)[-1], params)
            return
        request_id = _new_id("req_")
        key = self.headers.get("Idempotency-Key")
        extra = {
            "Request-Id": request_id,
            "Stripe-Version": self.headers.get("Stripe-Version") or API_VERSION,
        }
        with stand_in._lock:
            stand_in.requests.append(RequestSeen(method, path, copy.deepcopy(params), key))
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            error = StripeWireError(
                401,
                "You did not provide an API key. Provide it in the Authorization header, "
                "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            )
            self._json(401, {"error": error.body}, extra)
            return
        given = auth[len("Bearer ") :]
        if not hmac.compare_digest(given, stand_in.secret_key):
            error = StripeWireError(
                401, f"Invalid API Key provided: {given[:8]}{'*' * 8}{given[-4:]}"
            )
            self._json(401, {"error": error.body}, extra)
            return
        if method == "POST" and key:
            extra["Idempotency-Key"] = key
            with stand_in._lock:
                seen = stand_in._idempotent.get(key)
                if seen is not None:
                    first_method, first_path, first_params, status, body = seen
                    if (first_method, first_path, first_params) != (method, path, params):
                        error = StripeWireError(
                            400,
                            "Keys for idempotent requests can only be used with the same "
                            "parameters they were first used with. Try using a key other than "
                            f"'{key}' if you meant to execute a different request.",
                            type="idempotency_error",
                        )
                        self._json(400, {"error": error.body}, extra)
                        return
                    self._send(
                        status,
                        body,
                        {
                            "Content-Type": "application/json",
                            "Idempotent-Replayed": "true",
                            **extra,
                        },
                    )
                    return
                status, payload, events = self._answer(method, path, params, request_id, key)
                body = json.dumps(payload, indent=2).encode("utf-8")
                stand_in._idempotent[key] = (method, path, copy.deepcopy(params), status, body)
        else:
            status, payload, events = self._answer(method, path, params, request_id, key)
            body = json.dumps(payload, indent=2).encode("utf-8")
        self._send(status, body, {"Content-Type": "application/json", **extra})
        stand_in._later(events)

    def _answer(self, method, path, params, request_id, key):
        headers = {"request-id": request_id, "idempotency-key": key}
        try:
            return self.stand_in.handle(method, path, dict(params), headers)
        except StripeWireError as exc:
            return exc.status, {"error": exc.body}, []

    def _test_page(self, method: str, intent_id: str, params: dict[str, Any]) -> None:
        stand_in = self.stand_in
        try:
            if method == "GET":
                page = stand_in._test_pay_page(intent_id, params)
                self._send(200, page.encode("utf-8"), {"Content-Type": "text/html; charset=utf-8"})
                return
            status, where = stand_in._test_pay(intent_id, params)
        except StripeWireError as exc:
            self._send(exc.status, str(exc).encode(), {"Content-Type": "text/plain"})
            return
        if status == 303:
            self._send(303, b"", {"Location": where})
        else:
            self._send(status, where.encode(), {"Content-Type": "text/plain"})


def start_for_demo(app_url: str) -> LocalStripe:
    """Start a stand-in for ``feria demo`` serving the app at ``app_url``: its webhooks go
    to the app's endpoint. Point the plugin at it with :meth:`LocalStripe.env`."""
    local = LocalStripe().start()
    local.endpoint(app_url.rstrip("/") + "/-/plugins/stripe/webhook")
    return local
