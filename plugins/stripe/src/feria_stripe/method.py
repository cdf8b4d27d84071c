"""The card payment method: a PaymentIntent per online order, checked and refunded through
Stripe's own SDK.

The lifecycle, as the caja común sees it:

1. :meth:`StripeCard.create_payment` — at checkout, before any sale exists: a PaymentIntent
   for the order's amount, created with an idempotency key derived from the order's key,
   so a checkout submitted twice makes one intent. The shopper pays it with Stripe.js (or,
   in tests and the demo, on the stand-in's page).
2. Stripe confirms the payment with a signed webhook (see :mod:`feria_stripe.webhooks`); only
   then is the order's sale recorded, by the storefront, with a ``stripe`` tender whose
   reference is the intent's id.
3. :meth:`StripeCard.authorize` — inside that sale's transaction: the intent must have
   succeeded, for this order and this amount. Stripe's fee, from the charge's balance
   transaction, becomes the tender's fee, so each producer's split carries its exact share of
   what the card really cost.
4. :meth:`StripeCard.refund` — a refund or void recorded in the back office creates a Refund
   at Stripe first; if Stripe refuses, nothing is recorded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

import stripe

from feria.errors import FeriaError
from feria.i18n import N_
from feria.money import Money, convert
from feria.payments import Authorization, PaymentMethod, SaleInfo, TenderInfo
from feria_stripe.amounts import from_stripe, is_stripe_currency, to_stripe
from feria_stripe.settings import StripeSettings

log = logging.getLogger("feria.stripe")

CODE = "stripe"
ORDER_KEY = "feria_order"
"""The PaymentIntent's metadata field naming the order it pays; a webhook for an intent
without it belongs to some other system sharing the Stripe account and is left alone."""
REFUND_KEY = "feria_refund"
"""The Refund's metadata field naming the refund entry that made it."""

# Asking Stripe inside a sale's transaction holds the journal's lock: give up quickly and
# let the webhook be delivered again rather than keep every till waiting.
QUICK_TIMEOUT = (3.05, 10)
TIMEOUT = (5, 30)


class StripeFailed(FeriaError):
    """Stripe could not be reached or refused a request; ``stripe_code`` is its code."""

    code = "stripe_failed"
    status = 502


@dataclass(frozen=True, slots=True)
class PaymentStart:
    """What the checkout page needs to let the shopper pay an order by card.

    ``reference`` is the PaymentIntent's id (the tender's reference once paid);
    ``client_secret`` and ``publishable_key`` are for Stripe.js on the page. ``pay_url`` is
    set only with the local stand-in of Stripe (tests, the demo): its test payment page,
    where ``return_url`` may be appended. ``template`` is the fragment that renders it.
    """

    method: str
    order_key: str
    reference: str
    client_secret: str
    amount: Money
    publishable_key: str = ""
    pay_url: str | None = None
    template: str = "stripe/pay.html"


@lru_cache(maxsize=8)
def stripe_client(settings: StripeSettings, *, quick: bool = False) -> stripe.StripeClient:
    """A client of the real SDK for ``settings`` (one per configuration, reused)."""
    return stripe.StripeClient(
        settings.secret_key,
        base_addresses={"api": settings.api_base} if settings.api_base else None,
        # Retries are safe: every write carries an idempotency key.
        max_network_retries=0 if quick else 2,
        http_client=stripe.RequestsClient(timeout=QUICK_TIMEOUT if quick else TIMEOUT),
    )


def _message(exc: stripe.StripeError) -> str:
    return exc.user_message or str(exc) or type(exc).__name__


def fee_of(balance_transaction: Any, currency: str) -> Money:
    """Stripe's fee for a charge, in the charge's currency.

    The balance transaction states it in the account's settlement currency; when that is
    not the charge's, it is converted back at the rate Stripe used for the charge itself.
    """
    fee = from_stripe(balance_transaction["fee"], balance_transaction["currency"], rounding=True)
    if fee.currency == currency.upper():
        return fee
    rate = balance_transaction.get("exchange_rate")
    if not rate:
        raise StripeFailed(
            f"Stripe stated the fee in {fee.currency} without the rate of the charge"
        )
    return convert(fee, Decimal(1) / Decimal(str(rate)), currency.upper())


class StripeCard(PaymentMethod):
    code = CODE
    name = N_("Card (Stripe)")
    supports_refund = True

    def __init__(self, settings: StripeSettings | None = None) -> None:
        self.settings = settings if settings is not None else StripeSettings.from_env()

    # -- 1. availability ----------------------------------------------------------------------
    def is_available(self, fair) -> bool:
        problem = self.settings.problem()
        if problem is None and not is_stripe_currency(fair.currency):
            problem = f"{fair.name} sells in {fair.currency}, which Stripe does not take"
        if problem is not None:
            log.debug("card payments through Stripe are not offered: %s", problem)
            return False
        return True

    def accepts_currency(self, code: str) -> bool:
        return is_stripe_currency(code)

    def client(self, *, quick: bool = False) -> stripe.StripeClient:
        problem = self.settings.problem()
        if problem is not None:
            raise StripeFailed(f"card payments are not configured: {problem}")
        return stripe_client(self.settings, quick=quick)

    # -- checkout ----------------------------------------------------------------------------------
    def create_payment(
        self,
        order_key: str,
        amount: Money,
        description: str = "",
        metadata: dict[str, str] | None = None,
    ) -> PaymentStart:
        """Create (or, for the same order, find again) the PaymentIntent paying ``amount``.

        The idempotency key is the order's key: a checkout submitted twice, or retried after
        a lost answer, gets the same intent. An order whose amount changed needs a new key
        (Stripe refuses the same key with different parameters).
        """
        value, code = to_stripe(amount)
        params: dict[str, Any] = {
            "amount": value,
            "currency": code,
            "automatic_payment_methods": {"enabled": True},
            "metadata": {**(metadata or {}), ORDER_KEY: order_key},
        }
        if description:
            params["description"] = description[:1000]
        try:
            intent = self.client().v1.payment_intents.create(
                params, {"idempotency_key": f"feria-order-{order_key}"}
            )
        except stripe.StripeError as exc:
            raise StripeFailed(
                f"Stripe did not start the card payment: {_message(exc)}",
                stripe_code=exc.code,
            ) from exc
        pay_url = None
        if self.settings.stand_in:
            pay_url = f"{self.settings.api_base}/test/pay/{intent.id}"
        return PaymentStart(
            method=self.code,
            order_key=order_key,
            reference=intent.id,
            client_secret=intent.client_secret or "",
            amount=amount,
            publishable_key=self.settings.publishable_key,
            pay_url=pay_url,
        )

    # -- 3. inside the sale's transaction ---------------------------------------------------
    def authorize(self, tender: TenderInfo, sale: SaleInfo) -> Authorization:
        ref = tender.reference
        if not ref.startswith("pi_"):
            return Authorization.refuse(
                "a card tender names the Stripe PaymentIntent that paid it (pi_…)"
            )
        try:
            intent = (
                self.client(quick=True)
                .v1.payment_intents.retrieve(ref, {"expand": ["latest_charge.balance_transaction"]})
                .to_dict()
            )
        except stripe.StripeError as exc:
            return Authorization.refuse(f"Stripe could not confirm {ref}: {_message(exc)}")
        if intent.get("status") != "succeeded":
            return Authorization.refuse(f"{ref} is {intent.get('status')}, not paid")
        if (intent.get("metadata") or {}).get(ORDER_KEY) != sale.key:
            # Each intent pays the one order it was made for: sale keys are unique, so the
            # same card payment can never settle two sales.
            return Authorization.refuse(f"{ref} pays another order")
        paid = from_stripe(intent["amount_received"], intent["currency"])
        if paid != tender.amount:
            return Authorization.refuse(f"{ref} paid {paid}, the tender says {tender.amount}")
        charge = intent.get("latest_charge")
        txn = charge.get("balance_transaction") if isinstance(charge, dict) else None
        if not isinstance(txn, dict):
            return Authorization.refuse(f"Stripe has not stated the fee of {ref} yet")
        try:
            fee = fee_of(txn, intent["currency"])
        except FeriaError as exc:
            return Authorization.refuse(exc.message)
        return Authorization.approve(reference=ref, fee=fee, charge=charge["id"])

    # -- 4. paying back ----------------------------------------------------------------------------
    def refund(self, tender: TenderInfo, sale: SaleInfo) -> Authorization:
        ref = tender.reference
        if ref.startswith("re_"):
            return self._record_refund_made_at_stripe(ref, tender, sale)
        if not ref.startswith("pi_"):
            return Authorization.refuse(
                "name the PaymentIntent to refund: the original card tender's reference (pi_…)"
            )
        try:
            value, _ = to_stripe(abs(tender.amount))
        except FeriaError as exc:
            return Authorization.refuse(exc.message)
        metadata = {REFUND_KEY: sale.key}
        if sale.sale_id is not None:
            metadata["feria_sale"] = str(sale.sale_id)
        try:
            refund = self.client().v1.refunds.create(
                {
                    "payment_intent": ref,
                    "amount": value,
                    "reason": "requested_by_customer",
                    "metadata": metadata,
                },
                # The refund entry's own key: a refund retried after a crash is one refund.
                {"idempotency_key": f"feria-refund-{sale.key}-{ref}-{value}"},
            )
        except stripe.StripeError as exc:
            return Authorization.refuse(f"Stripe did not refund {ref}: {_message(exc)}")
        if refund.status in ("failed", "canceled"):
            return Authorization.refuse(f"Stripe's refund {refund.id} is {refund.status}")
        return Authorization.approve(reference=refund.id, payment_intent=ref)

    def _record_refund_made_at_stripe(
        self, ref: str, tender: TenderInfo, sale: SaleInfo
    ) -> Authorization:
        """A refund someone made in Stripe's dashboard, now recorded in feria: nothing is
        paid twice. The refund is claimed (its metadata names this entry) so it can be
        recorded once only."""
        client = self.client()
        try:
            refund = client.v1.refunds.retrieve(ref).to_dict()
            claimed = (refund.get("metadata") or {}).get(REFUND_KEY)
            if claimed and claimed != sale.key:
                return Authorization.refuse(f"{ref} is already recorded in feria")
            if refund["status"] in ("failed", "canceled"):
                return Authorization.refuse(f"Stripe's refund {ref} is {refund['status']}")
            returned = from_stripe(refund["amount"], refund["currency"])
            if returned != abs(tender.amount):
                return Authorization.refuse(f"{ref} returned {returned}, not {abs(tender.amount)}")
            if not claimed:
                client.v1.refunds.update(ref, {"metadata": {REFUND_KEY: sale.key}})
        except stripe.StripeError as exc:
            return Authorization.refuse(f"Stripe could not confirm {ref}: {_message(exc)}")
        return Authorization.approve(
            reference=ref, payment_intent=refund.get("payment_intent") or ""
        )
