"""Why a social-currency operation was refused, in words an organizer or cashier can act on.

Refusals at the till are :class:`feria.cashbox.errors.PaymentRefused` (so the till shows them
like any other refused payment); the rest are feria's usual refusal types.
"""

from __future__ import annotations

from feria.cashbox.errors import PaymentRefused
from feria.errors import Conflict, FeriaError, Forbidden, NotFound


class InvalidCurrency(FeriaError):
    code = "invalid_social_currency"


class UnknownCurrency(NotFound):
    code = "unknown_social_currency"


class UnknownAccount(NotFound):
    code = "unknown_social_currency_account"


class InvalidAmount(FeriaError):
    code = "invalid_social_currency_amount"


class NotAllowed(Forbidden):
    code = "social_currency_not_allowed"


class LimitExceeded(FeriaError):
    """A movement would take an account past its debit or credit limit."""

    code = "social_currency_limit"
    status = 422


class BackingShort(Conflict):
    """A redemption would pay out more than the backing fund holds."""

    code = "social_currency_backing_short"


class NotIssuable(Conflict):
    """Mutual credit and barter credits are created by trading, never issued nor redeemed."""

    code = "social_currency_not_issuable"


class NoRate(Conflict):
    code = "social_currency_no_rate"


class SecretMissing(FeriaError):
    """Vouchers or member cards are in use but no signing secret is configured."""

    code = "social_currency_secret_missing"
    status = 500


class TillRefused(PaymentRefused):
    """A social-currency tender refused at the till: wrong PIN, forged or spent voucher,
    tampered card, a limit. The attempt is logged."""

    code = "social_currency_refused"
