"""Exact money: integer minor units beside a currency code, and the few operations a fair needs.

Everything that touches an amount in feria goes through this module, so the rounding rules
live here and nowhere else:

* **Line totals** (quantity × unit price) and **conversions** (an amount × a stated rate) are
  rounded once, to the target currency's minor unit, *half away from zero* (``ROUND_HALF_UP``
  in :mod:`decimal`). It is the rule a producer uses when re-checking a receipt by hand.
* **Splits** (:func:`allocate`) never round: they hand out whole minor units by largest
  remainder, so the parts always add up to the total.

The number of decimals of an ISO 4217 currency comes from CLDR (through babel): CLP has
none, BRL two, KWD three. Community currencies that are not in ISO 4217 are registered by
plugins with :func:`register_currency`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.numbers import (
    format_currency,
    format_decimal,
    get_currency_precision,
    get_currency_symbol,
    list_currencies,
)

# The rule _half_up applies exactly, for code that rounds with decimal itself.
ROUNDING = ROUND_HALF_UP

__all__ = [
    "Currency",
    "CurrencyMismatch",
    "InvalidAmount",
    "Money",
    "MoneyError",
    "UnknownCurrency",
    "allocate",
    "allocate_money",
    "convert",
    "currency",
    "line_total",
    "register_currency",
]


class MoneyError(ValueError):
    """Base of every refusal raised by this module; its message is meant for a person."""


class UnknownCurrency(MoneyError):
    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(
            f"unknown currency {code!r}: expected an ISO 4217 code such as CLP, BRL or USD, "
            "or a community currency registered by a plugin"
        )


class CurrencyMismatch(MoneyError):
    def __init__(self, left: str, right: str) -> None:
        self.left, self.right = left, right
        super().__init__(f"cannot combine {left} with {right}: convert one of them first")


class InvalidAmount(MoneyError):
    """Text typed by a person could not be read as an amount of the given currency."""


@dataclass(frozen=True, slots=True)
class Currency:
    """A currency code and how many decimals its minor unit has."""

    code: str
    decimals: int
    name: str | None = None

    @property
    def factor(self) -> int:
        return 10**self.decimals


_registered: dict[str, Currency] = {}


def register_currency(cur: Currency) -> None:
    """Make a non-ISO currency (a community currency, barter credits) known to feria.

    Registering the same code twice with the same decimals is harmless; with different
    decimals it is refused, because every recorded amount of that code would change meaning.
    """
    if not re.fullmatch(r"[A-Z][A-Z0-9]{2,7}", cur.code):
        raise MoneyError(f"currency code {cur.code!r} must be 3 to 8 capital letters or digits")
    if type(cur.decimals) is not int or not 0 <= cur.decimals <= 6:
        raise MoneyError(f"currency {cur.code} must have between 0 and 6 decimals")
    known = _registered.get(cur.code)
    if known is not None and known.decimals != cur.decimals:
        raise MoneyError(
            f"currency {cur.code} is already registered with {known.decimals} decimals"
        )
    if known is None and cur.code in _iso_codes():
        raise MoneyError(f"{cur.code} is an ISO 4217 currency and cannot be redefined")
    _registered[cur.code] = cur
    currency.cache_clear()


@lru_cache(maxsize=1)
def _iso_codes() -> frozenset[str]:
    return frozenset(list_currencies())


@lru_cache(maxsize=256)
def currency(code: str) -> Currency:
    """The :class:`Currency` for ``code``; raises :class:`UnknownCurrency` if there is none."""
    if not isinstance(code, str):
        raise UnknownCurrency(repr(code))
    if code in _registered:
        return _registered[code]
    if code in _iso_codes():
        return Currency(code, get_currency_precision(code))
    raise UnknownCurrency(code)


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An exact amount: ``amount`` minor units (centavos, pesos, fils) of ``currency``."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.amount) is not int:  # bool and float are refused on purpose
            raise TypeError(f"Money amount must be an int of minor units, not {self.amount!r}")
        currency(self.currency)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def zero(cls, code: str) -> Money:
        return cls(0, code)

    @classmethod
    def from_decimal(cls, value: Decimal | str | int, code: str) -> Money:
        """Exact major-unit value (``Decimal('12.50')``) to Money; refuses extra decimals.

        A float is refused (``TypeError``): 0.1 has no exact binary value, so it is not an amount.
        """
        cur = currency(code)
        return cls(_to_minor(_exact(value, "amount"), cur, str(value)), code)

    @classmethod
    def parse(cls, text: str, code: str, locale: str = "en") -> Money:
        """Read an amount as a person types it in ``locale``: ``1.234,50`` in es or pt_BR,
        ``1,234.50`` in en, with or without the currency symbol or code."""
        return cls.from_decimal(parse_amount(text, code, locale), code)

    # -- views ----------------------------------------------------------------------------
    @property
    def decimal(self) -> Decimal:
        """The value in major units, exact (however many digits the amount has)."""
        sign, digits, _ = Decimal(self.amount).as_tuple()
        return Decimal((sign, digits, -currency(self.currency).decimals))

    def format(self, locale: str = "en") -> str:
        """How a person in ``locale`` reads this amount, e.g. ``$1.234`` for CLP in es_CL."""
        return format_money(self, locale)

    def __str__(self) -> str:
        return f"{self.decimal} {self.currency}"

    # -- arithmetic ---------------------------------------------------------------------------
    def _same(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(self.currency, other.currency)
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.amount + self._same(other).amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount - self._same(other).amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.amount), self.currency)

    def __mul__(self, factor: int) -> Money:
        if type(factor) is not int:
            raise TypeError("multiply Money only by an int; use line_total() for quantities")
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._same(other).amount

    def __le__(self, other: Money) -> bool:
        return self.amount <= self._same(other).amount

    def __gt__(self, other: Money) -> bool:
        return self.amount > self._same(other).amount

    def __ge__(self, other: Money) -> bool:
        return self.amount >= self._same(other).amount

    def __bool__(self) -> bool:
        return self.amount != 0


# No amount a fair records comes near this many digits; the cap keeps hostile input
# (a quantity of "1E+999999999") from turning into a gigantic integer.
_MAX_DIGITS = 200


def _exact(value: object, what: str) -> Decimal:
    """``value`` as a finite :class:`~decimal.Decimal`, refusing floats and booleans."""
    if isinstance(value, (float, bool)):
        raise TypeError(f"{what} must be a Decimal, an int or a str, not {value!r}")
    try:
        dec = Decimal(value)  # exact for int, str and Decimal, whatever the context
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise InvalidAmount(f"{what} {value!r} is not a number") from exc
    if not dec.is_finite():
        raise InvalidAmount(f"{what} {value!r} is not a finite number")
    return dec


def _coefficient(value: Decimal) -> tuple[int, int]:
    """``(c, e)`` with ``value == c * 10**e`` exactly, ``c`` a signed int."""
    sign, digits, exponent = value.as_tuple()
    c = int("".join(map(str, digits)))
    return (-c if sign else c), int(exponent)


def _half_up(numerator: int, exponent: int) -> int:
    """``numerator × 10**exponent`` rounded to an integer, half away from zero, exactly."""
    magnitude = abs(numerator)
    if exponent >= 0:
        if magnitude and len(str(magnitude)) + exponent > _MAX_DIGITS:
            raise InvalidAmount(f"the result has more than {_MAX_DIGITS} digits")
        return numerator * 10**exponent
    if -exponent > len(str(magnitude)):  # below 0.1 in magnitude: rounds to zero
        return 0
    unit = 10**-exponent
    q, r = divmod(magnitude, unit)
    if 2 * r >= unit:
        q += 1
    return q if numerator >= 0 else -q


def _to_minor(value: Decimal, cur: Currency, shown: str) -> int:
    """The exact number of minor units in ``value``; refuses digits below the minor unit."""
    c, exponent = _coefficient(value)
    shift = exponent + cur.decimals
    if shift >= 0 or c == 0:
        return _half_up(c, max(shift, 0))
    if -shift <= len(str(abs(c))):
        q, r = divmod(abs(c), 10**-shift)
        if r == 0:
            return q if c >= 0 else -q
    raise InvalidAmount(f"{shown} has too many decimals: {cur.code} allows {cur.decimals}")


def line_total(quantity: Decimal | int | str, unit_price: Money) -> Money:
    """``quantity`` × ``unit_price``, rounded once to the minor unit, half away from zero.

    Quantities by weight or volume are decimals (1.235 kg of honey); they are multiplied
    exactly and only the product is rounded, so a line never accumulates rounding. A float
    quantity is refused (``TypeError``): pass a Decimal or the text the person typed.
    """
    c, exponent = _coefficient(_exact(quantity, "quantity"))
    return Money(_half_up(c * unit_price.amount, exponent), unit_price.currency)


def convert(money: Money, rate: Decimal | str | int, to: str) -> Money:
    """Convert at an explicit ``rate`` (units of ``to`` per one unit of ``money``'s currency).

    Exact arithmetic, rounded once to ``to``'s minor unit, half away from zero. A round trip
    (at ``rate``, then back at exactly ``1/rate``) therefore comes back within half a minor
    unit of each currency, summed: within one minor unit of whichever currency's minor unit
    is worth more at that rate. That is not always the one with fewer decimals: at 0.00105
    USD per CLP a cent is worth about 9.5 pesos, so 5 CLP goes to 0.01 USD and comes back as
    10 CLP. A rounded inverse rate (1/950 cut to some digits) adds its own, tiny, error.
    """
    r = _exact(rate, "conversion rate")
    if r <= 0:
        raise MoneyError(f"conversion rate must be a positive number, not {rate!r}")
    src, dst = currency(money.currency), currency(to)
    c, exponent = _coefficient(r)
    return Money(_half_up(money.amount * c, exponent + dst.decimals - src.decimals), to)


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` minor units in proportion to ``weights`` so the parts sum exactly.

    Largest remainder: every part first gets the floor of its exact share, then the units
    left over go one each to the parts with the largest remainders; ties go to the earlier
    weight, so the same sale always splits the same way (a producer re-checking a receipt
    must get the same figure). A negative total (a refund) is split as its absolute value
    and negated, so a refund mirrors the sale it returns. Weights must be non-negative; if
    they are all zero the total is split equally.
    """
    if type(total) is not int:
        raise TypeError(f"allocate an int of minor units, not {total!r}")
    n = len(weights)
    if n == 0:
        raise MoneyError("cannot allocate over no weights")
    if total < 0:
        return [-p for p in allocate(-total, weights)]
    wsum = 0
    for w in weights:
        if type(w) is not int:
            raise TypeError(f"allocation weights must be ints, got {w!r}")
        if w < 0:
            raise MoneyError(f"allocation weights must not be negative, got {w}")
        wsum += w
    if wsum == 0:
        weights, wsum = [1] * n, n
    parts = []
    rems = []
    given = 0
    for w in weights:
        q, r = divmod(total * w, wsum)
        parts.append(q)
        rems.append(r)
        given += q
    left = total - given
    if left:
        order = sorted(range(n), key=lambda i: (-rems[i], i))
        for i in order[:left]:
            parts[i] += 1
    return parts


def allocate_money(total: Money, weights: Sequence[int]) -> list[Money]:
    """:func:`allocate` for a :class:`Money`, keeping its currency on every part."""
    return [Money(p, total.currency) for p in allocate(total.amount, weights)]


# -- people's text ---------------------------------------------------------------------------

_MINUS_SIGNS = "-\u2212\u2012\u2013"
_SHAPE = re.compile(
    r"(?P<open>\()?(?P<lead>[+\-\u2212\u2012\u2013])?(?P<number>[^()+\-\u2212\u2012\u2013]*)"
    r"(?P<trail>[\-\u2212\u2012\u2013])?(?P<close>\))?"
)


@lru_cache(maxsize=64)
def _locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError) as exc:
        raise MoneyError(f"unknown locale {locale!r}") from exc


def _marks(cur: Currency, loc: Locale) -> list[str]:
    """What may stand beside the digits for ``cur`` in ``loc``: its code and its symbols."""
    marks = {cur.code}
    if cur.code in _iso_codes() and cur.code not in _registered:
        marks.add(get_currency_symbol(cur.code, loc))
        marks.add(get_currency_symbol(cur.code, "root"))
    return sorted(marks, key=len, reverse=True)  # "US$" goes before "$" would


def _example(cur: Currency, loc: Locale) -> str:
    pattern = "#,##0" + ("." + "0" * cur.decimals if cur.decimals else "")
    return format_decimal(Decimal("1234.5"), format=pattern, locale=loc)


def parse_amount(text: str, code: str, locale: str = "en") -> Decimal:
    """The decimal a person meant by ``text`` in ``locale``.

    The currency's code or its symbol in ``locale`` may stand before or after the digits, as
    may a minus sign (``$-1.234`` is how es_CL writes a negative amount) or accounting
    parentheses; spaces of any kind are ignored, so ``1 234`` is 1234. Anything else, a
    misplaced group separator (``1.5`` in es, where ``.`` only groups thousands) or another
    currency's symbol is refused rather than guessed at, and so are more decimals than the
    currency has.
    """
    loc = _locale(locale)
    cur = currency(code)
    group = loc.number_symbols["latn"]["group"]
    decimal_sym = loc.number_symbols["latn"]["decimal"]
    raw = (text or "").strip()
    if not raw:
        raise InvalidAmount("no amount given")
    if not any(ch.isdecimal() for ch in raw):
        raise InvalidAmount(f"{text!r} has no digits")
    body = raw
    for mark in _marks(cur, loc):  # beside the digits, never between two of them
        mark = re.escape(mark)
        body = re.sub(rf"(?<!\d){mark}|{mark}(?!\d)", "", body, flags=re.IGNORECASE)
    # Spaces (no-break, narrow) group digits in some locales; bidi marks wrap amounts in others.
    body = "".join(ch for ch in body if not ch.isspace() and unicodedata.category(ch) != "Cf")

    def refuse() -> InvalidAmount:
        return InvalidAmount(
            f"{text!r} is not an amount of {cur.code} in {loc}: write it like {_example(cur, loc)}"
        )

    shape = _SHAPE.fullmatch(body)
    if shape is None or bool(shape["open"]) != bool(shape["close"]):
        raise refuse()
    lead, number = shape["lead"] or "", shape["number"]
    negative = [bool(shape["open"]), lead not in ("", "+"), bool(shape["trail"])]
    if sum(negative) + (lead == "+") > 1:
        raise refuse()
    whole, _, fraction = number.partition(decimal_sym)
    if not (whole or fraction) or (fraction and not fraction.isdecimal()):
        raise refuse()
    groups = whole.split(group) if group and not group.isspace() else [whole]
    primary, secondary = loc.decimal_formats[None].grouping
    if len(groups) == 1:
        if whole and not whole.isdecimal():
            raise refuse()
    elif not (
        all(g.isdecimal() for g in groups)
        and len(groups[0]) <= secondary
        and len(groups[-1]) == primary
        and all(len(g) == secondary for g in groups[1:-1])
    ):
        raise refuse()
    sign = "-" if any(negative) else ""
    value = Decimal(f"{sign}{''.join(groups) or '0'}{'.' + fraction if fraction else ''}")
    _to_minor(value, cur, repr(text))
    return value


def format_money(money: Money, locale: str = "en") -> str:
    loc = _locale(locale)
    cur = currency(money.currency)
    value = money.decimal
    with localcontext() as ctx:  # babel rounds in the current context: make room for every digit
        ctx.prec = max(ctx.prec, len(value.as_tuple().digits) + cur.decimals + 2)
        if cur.code in _iso_codes() and cur.code not in _registered:
            return format_currency(value, cur.code, locale=loc, currency_digits=True)
        pattern = "#,##0" + ("." + "0" * cur.decimals if cur.decimals else "")
        return f"{format_decimal(value, format=pattern, locale=loc)}\u00a0{cur.code}"
