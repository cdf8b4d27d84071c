"""Properties of feria's money that must hold for every amount, not only the examples."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feria import money
from feria.money import (
    Currency,
    InvalidAmount,
    Money,
    allocate,
    convert,
    currency,
    line_total,
)

# Two community currencies: one like a barter credit, one whose code ends in a digit.
COMMUNITY = (Currency("TRUEQUE", 2), Currency("TIEMPO1", 0))
CURRENCIES = ("CLP", "BRL", "USD", "KWD") + tuple(c.code for c in COMMUNITY)
LOCALES = ("es", "pt_BR", "en", "es_CL")

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module", autouse=True)
def community_currencies():
    """Register the community currencies for this module only, leaving the registry as found."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(money, "_registered", dict(money._registered))
        money.currency.cache_clear()
        for cur in COMMUNITY:
            money.register_currency(cur)
        yield
    money.currency.cache_clear()


def minor_units(exact: Fraction, code: str) -> Fraction:
    return exact * currency(code).factor


def half_away_from_zero(x: Fraction) -> int:
    """Reference rounding, written independently of money.py: |x| + 1/2, floored, signed."""
    magnitude = math.floor(abs(x) + Fraction(1, 2))
    return magnitude if x >= 0 else -magnitude


# -- allocation ------------------------------------------------------------------------------

totals = st.integers(min_value=0, max_value=10**15)
signed_totals = st.integers(min_value=-(10**15), max_value=10**15)
weight_lists = st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=12)


@SETTINGS
@given(total=signed_totals, weights=weight_lists)
def test_allocation_parts_always_sum_to_the_total(total, weights):
    parts = allocate(total, weights)
    assert len(parts) == len(weights)
    assert sum(parts) == total


@SETTINGS
@given(total=totals, weights=weight_lists)
def test_allocation_never_gives_a_negative_part(total, weights):
    assert all(p >= 0 for p in allocate(total, weights))


@SETTINGS
@given(total=signed_totals, weights=weight_lists)
def test_allocation_is_deterministic(total, weights):
    first = allocate(total, weights)
    allocate(total + 1, weights[::-1])  # whatever came in between
    assert allocate(total, tuple(weights)) == first


@SETTINGS
@given(total=signed_totals, weights=weight_lists)
def test_every_part_is_within_one_unit_of_its_exact_share(total, weights):
    wsum = sum(weights)
    shares = (
        [Fraction(total * w, wsum) for w in weights]
        if wsum
        else [Fraction(total, len(weights))] * len(weights)
    )
    for part, share in zip(allocate(total, weights), shares, strict=True):
        assert abs(part - share) < 1
        # Largest remainder only ever rounds a share to one of its two neighbours.
        assert part in (math.floor(share), math.ceil(share))


@SETTINGS
@given(total=totals, weights=weight_lists)
def test_a_refund_splits_as_the_mirror_of_its_sale(total, weights):
    assert allocate(-total, weights) == [-p for p in allocate(total, weights)]


@SETTINGS
@given(total=totals, weights=weight_lists)
def test_leftover_units_go_to_the_largest_remainders(total, weights):
    wsum = sum(weights) or len(weights)
    ws = weights if sum(weights) else [1] * len(weights)
    parts = allocate(total, weights)
    remainders = [(total * w) % wsum for w in ws]
    bumped = [i for i, (p, w) in enumerate(zip(parts, ws, strict=True)) if p > total * w // wsum]
    kept = [i for i in range(len(ws)) if i not in bumped]
    for i in bumped:
        for j in kept:
            # a unit never skips a larger remainder, nor an equal one that comes earlier
            assert (remainders[i], -i) > (remainders[j], -j)


# -- parse and format ------------------------------------------------------------------------

# Everyday amounts, and amounts longer than decimal's default 28 digits of precision.
amounts = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.builds(
        lambda magnitude, sign: magnitude * sign,
        st.integers(min_value=10**26, max_value=10**40),
        st.sampled_from((1, -1)),
    ),
)


@SETTINGS
@given(amount=amounts, code=st.sampled_from(CURRENCIES), locale=st.sampled_from(LOCALES))
def test_parsing_a_formatted_amount_gives_it_back(amount, code, locale):
    m = Money(amount, code)
    assert Money.parse(m.format(locale), code, locale) == m


@SETTINGS
@given(amount=amounts, code=st.sampled_from(CURRENCIES))
def test_the_decimal_view_is_exactly_amount_over_factor(amount, code):
    m = Money(amount, code)
    assert Fraction(m.decimal) == Fraction(amount, currency(code).factor)
    assert Money.from_decimal(m.decimal, code) == m


typed_text = st.one_of(
    st.text(
        alphabet=st.sampled_from("0123456789.,-+()$R US\u00a0\u202f\u2212CLPBRKWDTRUEQ"),
        max_size=16,
    ),
    st.text(max_size=12),
)


@SETTINGS
@given(text=typed_text, code=st.sampled_from(CURRENCIES), locale=st.sampled_from(LOCALES))
def test_any_text_is_either_read_as_an_amount_or_refused_with_a_reason(text, code, locale):
    try:
        m = Money.parse(text, code, locale)
    except InvalidAmount as refusal:
        assert str(refusal)
        return
    # whatever was accepted is a real amount of that currency, and reads back the same
    assert Money.parse(m.format(locale), code, locale) == m


# -- conversion ------------------------------------------------------------------------------

# Rates of the form 2**i * 5**j: both the rate and 1/rate are exact decimals, so the round
# trip below measures convert's own rounding and nothing else.
exact_inverse_rates = st.builds(
    lambda i, j: (Decimal(2) ** i * Decimal(5) ** j, Decimal(2) ** -i * Decimal(5) ** -j),
    st.integers(min_value=-12, max_value=12),
    st.integers(min_value=-12, max_value=12),
)
round_trip_amounts = st.integers(min_value=-(10**15), max_value=10**15)


@SETTINGS
@given(
    amount=round_trip_amounts,
    src=st.sampled_from(CURRENCIES),
    dst=st.sampled_from(CURRENCIES),
    rates=exact_inverse_rates,
)
def test_a_round_trip_comes_back_within_half_a_minor_unit_of_each_side(amount, src, dst, rates):
    """Going there at ``r`` and back at exactly ``1/r`` rounds twice, each time by at most half
    a minor unit of the currency it lands in. Measured in the source currency's minor units,
    one minor unit of ``dst`` is worth ``k = f_src / (f_dst * r)``, so the round trip moves the
    amount by at most ``(1 + k) / 2`` units. That is within one minor unit of whichever of the
    two currencies' minor units is worth more at ``r`` (``max(1, k)``), which is what
    :func:`feria.money.convert` promises. It is *not* within one unit of the currency with
    fewer decimals: at 0.00105 USD per CLP, k is about 9.5 and 5 CLP comes back as 10 CLP.
    """
    rate, inverse = rates
    start = Money(amount, src)
    back = convert(convert(start, rate, dst), inverse, src)
    k = Fraction(currency(src).factor) / (currency(dst).factor * Fraction(rate))
    assert abs(back.amount - amount) <= (1 + k) / 2


rates_as_typed = st.decimals(
    min_value=Decimal("0.000001"), max_value=Decimal(10000), places=6, allow_nan=False
)


@SETTINGS
@given(
    amount=st.integers(min_value=-(10**12), max_value=10**12),
    src=st.sampled_from(CURRENCIES),
    dst=st.sampled_from(CURRENCIES),
    rate=rates_as_typed,
)
def test_a_round_trip_at_a_rounded_inverse_rate_stays_within_one_valuable_unit(
    amount, src, dst, rate
):
    """A rate typed by a person (up to six decimals) usually has no exact inverse, so the way
    back uses ``1 / rate`` cut to decimal's 28 digits, as the cashbox does. That adds an error
    of about ``amount × 1e-28`` units, far below the gap between ``(1 + k) / 2`` and the next
    integer above ``max(1, k)``, so the promise of one minor unit of the more valuable
    currency still holds (here, for amounts up to 10**12 minor units).
    """
    start = Money(amount, src)
    back = convert(convert(start, rate, dst), Decimal(1) / rate, src)
    k = Fraction(currency(src).factor) / (currency(dst).factor * Fraction(rate))
    assert abs(back.amount - amount) <= max(1, k)


@SETTINGS
@given(
    amount=round_trip_amounts,
    src=st.sampled_from(CURRENCIES),
    dst=st.sampled_from(CURRENCIES),
    rate=rates_as_typed,
)
def test_conversion_is_the_exact_product_rounded_half_away_from_zero(amount, src, dst, rate):
    exact = minor_units(Fraction(amount, currency(src).factor) * Fraction(rate), dst)
    assert convert(Money(amount, src), rate, dst) == Money(half_away_from_zero(exact), dst)


# -- line totals -----------------------------------------------------------------------------

quantities = st.decimals(
    min_value=Decimal(-1_000_000), max_value=Decimal(1_000_000), places=6, allow_nan=False
)


@SETTINGS
@given(
    quantity=quantities,
    price=st.integers(min_value=-(10**12), max_value=10**12),
    code=st.sampled_from(CURRENCIES),
)
def test_line_total_is_the_exact_product_rounded_half_away_from_zero(quantity, price, code):
    expected = half_away_from_zero(Fraction(quantity) * price)
    assert line_total(quantity, Money(price, code)) == Money(expected, code)
    assert line_total(str(quantity), Money(price, code)) == Money(expected, code)


@SETTINGS
@given(
    quantity=st.integers(min_value=-(10**6), max_value=10**6),
    price=st.integers(min_value=-(10**12), max_value=10**12),
)
def test_line_total_of_a_whole_quantity_never_rounds(quantity, price):
    assert line_total(quantity, Money(price, "BRL")) == Money(price, "BRL") * quantity
