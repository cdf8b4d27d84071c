"""Amounts between feria and Stripe.

Both count integer minor units, but not always the same ones: feria follows ISO 4217 (from
CLDR), Stripe its own table. Most currencies agree (two decimals; CLP and JPY none), a few do
not: Stripe writes the Icelandic króna with two decimals that are always ``00`` although ISO
gives it none. An amount that cannot be written exactly on the other side is refused rather
than rounded, except a fee Stripe states, which is rounded once, half away from zero.
"""

from __future__ import annotations

from babel.numbers import list_currencies

from feria.errors import FeriaError
from feria.money import Money, currency

# Stripe's zero-decimal currencies: ``amount=500`` is 500 yen, not 5. Every other currency
# has two decimals in Stripe's API, ISK included (its ISO decimals are 0, so Stripe's amount
# is 100 times feria's, always ending in 00), except these three-decimal ones, whose last
# digit Stripe wants to be 0.
ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV"}
    | {"XAF", "XOF", "XPF"}
)
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


class UnsupportedAmount(FeriaError):
    code = "stripe_amount"


def stripe_decimals(code: str) -> int:
    code = code.upper()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def is_stripe_currency(code: str) -> bool:
    """Stripe takes ISO currencies only: a fair's community currency never goes to a card."""
    return code in _iso_codes()


def _iso_codes() -> frozenset[str]:
    return frozenset(list_currencies())


def to_stripe(money: Money) -> tuple[int, str]:
    """``(amount, currency)`` as Stripe's API writes ``money``; refuses what it cannot
    write exactly (a fraction of a unit Stripe does not have)."""
    if not is_stripe_currency(money.currency):
        raise UnsupportedAmount(f"Stripe does not take {money.currency}", field="currency")
    shift = stripe_decimals(money.currency) - currency(money.currency).decimals
    if money.currency in THREE_DECIMAL and money.amount % 10:
        raise UnsupportedAmount(
            f"{money} cannot be charged by card: Stripe takes {money.currency} in tens of "
            "its minor unit",
            field="amount",
        )
    if shift >= 0:
        return money.amount * 10**shift, money.currency.lower()
    amount, rest = divmod(money.amount, 10**-shift)
    if rest:
        raise UnsupportedAmount(
            f"{money} cannot be charged by card: Stripe counts {money.currency} in "
            f"{stripe_decimals(money.currency)} decimals",
            field="amount",
        )
    return amount, money.currency.lower()


def from_stripe(amount: int, code: str, *, rounding: bool = False) -> Money:
    """A Stripe amount of ``code`` as :class:`Money`.

    With ``rounding`` (fees, which Stripe computes in its own units) a remainder is rounded
    half away from zero; otherwise an amount feria cannot hold exactly is refused.
    """
    code = code.upper()
    shift = currency(code).decimals - stripe_decimals(code)
    if shift >= 0:
        return Money(int(amount) * 10**shift, code)
    unit = 10**-shift
    q, r = divmod(abs(int(amount)), unit)
    if r and not rounding:
        raise UnsupportedAmount(
            f"Stripe stated {amount} in {code} minor units, which feria cannot hold exactly"
        )
    if 2 * r >= unit:
        q += 1
    return Money(q if amount >= 0 else -q, code)
