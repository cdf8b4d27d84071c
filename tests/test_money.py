"""Examples that pin how feria handles money: decimals, rounding, splits, people's text."""

from __future__ import annotations

from decimal import Decimal

import pytest

from feria import money
from feria.money import (
    Currency,
    CurrencyMismatch,
    InvalidAmount,
    Money,
    MoneyError,
    UnknownCurrency,
    allocate,
    allocate_money,
    convert,
    currency,
    line_total,
    register_currency,
)

NBSP = "\u00a0"


@pytest.fixture
def registry(monkeypatch):
    """A fresh registry of community currencies, so no test leaks one into another."""
    monkeypatch.setattr(money, "_registered", {})
    money.currency.cache_clear()
    yield
    money.currency.cache_clear()


@pytest.fixture
def trueque(registry):
    """A barter credit with two decimals, the kind a plugin registers."""
    register_currency(Currency("TRUEQUE", 2, "crédito de trueque"))
    return "TRUEQUE"


# -- currencies ------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "decimals"), [("CLP", 0), ("BRL", 2), ("KWD", 3), ("USD", 2)])
def test_iso_currency_decimals_come_from_cldr(code, decimals):
    assert currency(code).decimals == decimals
    assert currency(code).factor == 10**decimals


def test_unknown_currency_is_refused_with_a_message_naming_the_code():
    with pytest.raises(UnknownCurrency, match=r"unknown currency 'XYZ'.*ISO 4217") as info:
        currency("XYZ")
    assert info.value.code == "XYZ"


def test_money_in_an_unknown_currency_cannot_be_made():
    with pytest.raises(UnknownCurrency, match="'ZZZ'"):
        Money(100, "ZZZ")


def test_currency_codes_are_case_sensitive():
    with pytest.raises(UnknownCurrency):
        currency("clp")


# -- Money values ----------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [12.5, 12.0, True, Decimal("12.5"), "1250"])
def test_money_amount_must_be_an_int_of_minor_units(amount):
    with pytest.raises(TypeError, match="int of minor units"):
        Money(amount, "BRL")


@pytest.mark.parametrize("value", [12.5, 0.1])
def test_from_decimal_refuses_floats_even_when_they_look_exact(value):
    with pytest.raises(TypeError, match="must be a Decimal"):
        Money.from_decimal(value, "BRL")


@pytest.mark.parametrize(
    ("value", "code", "amount"),
    [
        ("12.50", "BRL", 1250),
        (Decimal("12.5"), "BRL", 1250),
        (12, "BRL", 1200),
        ("1000", "CLP", 1000),
        ("1E+3", "CLP", 1000),
        ("1.00", "CLP", 1),
        ("-0.005", "KWD", -5),
    ],
)
def test_from_decimal_reads_major_units_exactly(value, code, amount):
    assert Money.from_decimal(value, code) == Money(amount, code)


@pytest.mark.parametrize(("value", "code"), [("12.505", "BRL"), ("0.5", "CLP"), ("1E-4", "KWD")])
def test_from_decimal_refuses_digits_below_the_minor_unit(value, code):
    with pytest.raises(InvalidAmount, match=f"too many decimals: {code} allows"):
        Money.from_decimal(value, code)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "sNaN", "doce"])
def test_from_decimal_refuses_what_is_not_a_finite_number(value):
    with pytest.raises(InvalidAmount, match="not a"):
        Money.from_decimal(value, "BRL")


def test_from_decimal_keeps_every_digit_of_a_long_amount():
    value = "12345678901234567890123456789.12"  # 31 digits, beyond decimal's default 28
    assert Money.from_decimal(value, "BRL").amount == 1234567890123456789012345678912


def test_decimal_view_keeps_every_digit_of_a_long_amount():
    assert Money(10**30 + 1, "BRL").decimal == Decimal("10000000000000000000000000000.01")


@pytest.mark.parametrize(
    ("amount", "code", "shown"),
    [(1250, "BRL", "12.50 BRL"), (1234, "CLP", "1234 CLP"), (-5, "KWD", "-0.005 KWD")],
)
def test_str_shows_major_units_and_code(amount, code, shown):
    assert str(Money(amount, code)) == shown


def test_adding_and_subtracting_same_currency_is_exact():
    a, b = Money(1050, "BRL"), Money(25, "BRL")
    assert a + b == Money(1075, "BRL")
    assert a - b == Money(1025, "BRL")
    assert -a == Money(-1050, "BRL")
    assert abs(Money(-3, "CLP")) == Money(3, "CLP")
    assert a * 3 == 3 * a == Money(3150, "BRL")


@pytest.mark.parametrize(
    "combine",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
    ],
)
def test_arithmetic_across_currencies_raises_currency_mismatch(combine):
    with pytest.raises(CurrencyMismatch, match="cannot combine CLP with BRL"):
        combine(Money(100, "CLP"), Money(100, "BRL"))


def test_amounts_in_different_currencies_are_never_equal():
    assert Money(0, "CLP") != Money(0, "BRL")
    assert Money(100, "USD") != Money(100, "BRL")


@pytest.mark.parametrize("factor", [1.5, Decimal("2"), True])
def test_money_multiplies_only_by_an_int(factor):
    with pytest.raises(TypeError, match="line_total"):
        Money(100, "CLP") * factor


def test_money_is_truthy_only_when_not_zero():
    assert not Money.zero("CLP")
    assert Money(-1, "CLP")


# -- allocation ------------------------------------------------------------------------------


def test_allocation_gives_the_leftover_unit_to_the_earlier_of_equal_weights():
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]
    assert allocate(2, [1, 1, 1]) == [1, 1, 0]
    assert allocate(1, [5, 5]) == [1, 0]


def test_allocation_gives_leftovers_to_the_largest_remainders_first():
    # 10 over [1, 2]: exact shares 3.33 and 6.67; the second has the larger remainder.
    assert allocate(10, [1, 2]) == [3, 7]
    # 7 over [2, 3, 5]: 1.4, 2.1, 3.5 -> floors 1, 2, 3; one unit left goes to the 0.5 remainder.
    assert allocate(7, [2, 3, 5]) == [1, 2, 4]


def test_allocation_over_all_zero_weights_splits_equally():
    assert allocate(10, [0, 0, 0]) == [4, 3, 3]


def test_allocation_gives_nothing_to_a_zero_weight():
    assert allocate(10, [0, 1, 3]) == [0, 3, 7]


def test_allocation_of_a_refund_mirrors_the_sale():
    assert allocate(-100, [1, 1, 1]) == [-34, -33, -33]
    assert allocate(-7, [2, 3, 5]) == [-1, -2, -4]


def test_allocation_of_zero_is_all_zeros():
    assert allocate(0, [3, 1]) == [0, 0]


def test_allocation_refuses_a_negative_weight():
    with pytest.raises(MoneyError, match="must not be negative, got -1"):
        allocate(100, [2, -1])


def test_allocation_refuses_no_weights():
    with pytest.raises(MoneyError, match="no weights"):
        allocate(100, [])


@pytest.mark.parametrize(("total", "weights"), [(100.0, [1, 1]), (100, [0.5, 0.5]), (True, [1])])
def test_allocation_refuses_non_int_totals_and_weights(total, weights):
    with pytest.raises(TypeError):
        allocate(total, weights)


def test_allocate_money_keeps_the_currency_on_every_part():
    parts = allocate_money(Money(100, "CLP"), [1, 1, 1])
    assert parts == [Money(34, "CLP"), Money(33, "CLP"), Money(33, "CLP")]


# -- line totals -----------------------------------------------------------------------------


def test_line_total_of_honey_by_weight():
    assert line_total("1.235", Money(8000, "CLP")) == Money(9880, "CLP")
    assert line_total(Decimal("1.235"), Money(8000, "CLP")) == Money(9880, "CLP")


@pytest.mark.parametrize(
    ("quantity", "price", "expected"),
    [
        ("0.5", Money(5, "CLP"), Money(3, "CLP")),  # 2.5 -> 3 (half-even would give 2)
        ("0.3", Money(5, "CLP"), Money(2, "CLP")),  # 1.5 -> 2
        ("0.125", Money(100, "BRL"), Money(13, "BRL")),  # 12.5 centavos -> 13
        ("1.005", Money(100, "BRL"), Money(101, "BRL")),  # 100.5 -> 101
        ("0.0999", Money(5, "CLP"), Money(0, "CLP")),  # 0.4995 -> 0
        ("-0.5", Money(5, "CLP"), Money(-3, "CLP")),  # half away from zero on a refund
        ("0.0005", Money(1, "KWD"), Money(0, "KWD")),
    ],
)
def test_line_total_rounds_half_away_from_zero(quantity, price, expected):
    assert line_total(quantity, price) == expected


def test_line_total_of_a_whole_quantity_is_plain_multiplication():
    assert line_total(3, Money(1990, "BRL")) == Money(5970, "BRL")


def test_line_total_refuses_a_float_quantity():
    # 1.005 as a float is 1.00499999999999989..., which would round to 1.00 instead of 1.01.
    with pytest.raises(TypeError, match="quantity"):
        line_total(1.005, Money(100, "BRL"))


@pytest.mark.parametrize("quantity", ["dos kilos", "NaN", "Infinity"])
def test_line_total_refuses_a_quantity_that_is_not_a_finite_number(quantity):
    with pytest.raises(InvalidAmount, match="quantity"):
        line_total(quantity, Money(100, "BRL"))


def test_line_total_refuses_an_absurdly_large_result_instead_of_computing_it():
    with pytest.raises(InvalidAmount, match="digits"):
        line_total("1E+999999999", Money(100, "BRL"))


# -- conversion ------------------------------------------------------------------------------


def test_convert_dollars_to_pesos():
    assert convert(Money(1000, "USD"), Decimal("950"), "CLP") == Money(9500, "CLP")


@pytest.mark.parametrize(
    ("pesos", "cents"),
    [
        (1, 0),  # 0.105 cents
        (5, 1),  # 0.525 cents
        (10, 1),  # 1.05 cents
        (1000, 105),  # exactly 1.05 USD
    ],
)
def test_convert_pesos_to_dollars_rounds_to_the_cent(pesos, cents):
    assert convert(Money(pesos, "CLP"), "0.00105", "USD") == Money(cents, "USD")


def test_convert_rounds_an_exact_half_away_from_zero():
    assert convert(Money(2, "CLP"), "0.0025", "USD") == Money(1, "USD")  # 0.5 cents
    assert convert(Money(-2, "CLP"), "0.0025", "USD") == Money(-1, "USD")


def test_convert_between_three_and_two_decimals():
    assert convert(Money(1000, "KWD"), "3.25", "USD") == Money(325, "USD")
    assert convert(Money(1, "KWD"), "3.25", "USD") == Money(0, "USD")  # 0.325 cents


def test_round_trip_error_is_measured_in_the_more_valuable_minor_unit():
    # A cent is worth about 9.5 pesos at this rate, so going through dollars can move
    # 5 pesos: within one cent, though five of the coarser-looking peso's minor units.
    there = convert(Money(5, "CLP"), "0.00105", "USD")
    back = convert(there, Decimal(1) / Decimal("0.00105"), "CLP")
    assert there == Money(1, "USD")
    assert back == Money(10, "CLP")


@pytest.mark.parametrize("rate", ["0", "-950", "NaN", "Infinity", "mucho"])
def test_convert_refuses_a_rate_that_is_not_positive_and_finite(rate):
    with pytest.raises(MoneyError, match="rate"):
        convert(Money(100, "USD"), rate, "CLP")


def test_convert_refuses_a_float_rate():
    with pytest.raises(TypeError, match="rate"):
        convert(Money(100, "USD"), 950.0, "CLP")


def test_convert_to_an_unknown_currency_is_refused():
    with pytest.raises(UnknownCurrency):
        convert(Money(100, "USD"), "1", "XYZ")


# -- reading people's text -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code", "locale", "amount"),
    [
        ("1.234,50", "BRL", "es", 123450),
        ("1.234,50", "BRL", "pt_BR", 123450),
        ("1,234.50", "BRL", "en", 123450),
        ("$ 1.234", "CLP", "es_CL", 1234),
        ("$1.234.567", "CLP", "es_CL", 1234567),
        ("1234", "CLP", "es_CL", 1234),
        ("R$ 1.234,50", "BRL", "pt_BR", 123450),
        ("R$\u00a01.234,50", "BRL", "pt_BR", 123450),
        ("1.234,50 BRL", "BRL", "es", 123450),
        ("brl 12,5", "BRL", "es", 1250),
        ("US$ 12,50", "USD", "es_CL", 1250),
        ("KWD1,234.567", "KWD", "en", 1234567),
        (",50", "BRL", "pt_BR", 50),
        ("1,00", "CLP", "es", 1),
        ("1\u202f234,50", "BRL", "fr", 123450),
    ],
)
def test_parse_reads_amounts_as_people_write_them(text, code, locale, amount):
    assert Money.parse(text, code, locale) == Money(amount, code)


@pytest.mark.parametrize(
    ("text", "code", "locale", "amount"),
    [
        ("$-1.234", "CLP", "es_CL", -1234),  # es_CL puts the minus after the symbol
        ("-$1.234", "CLP", "es_CL", -1234),
        ("-R$ 1.234,50", "BRL", "pt_BR", -123450),
        ("-$1,234.50", "USD", "en", -123450),
        ("(1,234.50)", "USD", "en", -123450),
        ("1.234,50-", "BRL", "es", -123450),
        ("\u22121.234,50", "BRL", "es", -123450),
    ],
)
def test_parse_reads_negative_amounts_wherever_the_sign_stands(text, code, locale, amount):
    assert Money.parse(text, code, locale) == Money(amount, code)


def test_parse_refuses_more_decimals_than_the_currency_has():
    with pytest.raises(InvalidAmount, match="CLP allows 0"):
        Money.parse("1.234,5", "CLP", "es_CL")
    with pytest.raises(InvalidAmount, match="BRL allows 2"):
        Money.parse("1,234.505", "BRL", "en")


@pytest.mark.parametrize("text", ["abc", "R$", "-", "()", "  "])
def test_parse_refuses_text_without_digits(text):
    with pytest.raises(InvalidAmount, match="has no digits|no amount given"):
        Money.parse(text, "BRL", "pt_BR")


def test_parse_refuses_empty_text():
    with pytest.raises(InvalidAmount, match="no amount given"):
        Money.parse("", "BRL", "pt_BR")


@pytest.mark.parametrize(
    ("text", "code", "locale"),
    [
        ("1.5", "BRL", "es"),  # "." only groups thousands in es: not read as 15
        ("12.50", "BRL", "pt_BR"),  # not read as 1250
        ("1,5", "BRL", "en"),  # "," only groups thousands in en: not read as 15
        ("1.234,50", "BRL", "en"),  # es-style text in an en fair: not read as 1.2345
        ("12.34.567", "CLP", "es_CL"),
        ("1,2,3", "USD", "en"),
        ("12abc34", "CLP", "es_CL"),
        ("1-2", "CLP", "es_CL"),
        ("--5", "CLP", "es_CL"),
        ("(5", "CLP", "es_CL"),
        ("(-5)", "CLP", "es_CL"),
        ("1,234.50", "BRL", "fr"),
    ],
)
def test_parse_refuses_malformed_numbers_instead_of_guessing(text, code, locale):
    with pytest.raises(InvalidAmount, match="write it like"):
        Money.parse(text, code, locale)


def test_parse_error_shows_how_to_write_an_amount_in_that_locale():
    with pytest.raises(InvalidAmount, match=r"write it like 1\.234,50$"):
        Money.parse("1.5", "BRL", "es")
    with pytest.raises(InvalidAmount, match=r"write it like 1,234$"):
        Money.parse("1,5", "CLP", "en")


@pytest.mark.parametrize(
    ("text", "code", "locale"),
    [
        ("US$ 5", "CLP", "es_CL"),  # dollars typed into a peso field
        ("R$ 5", "USD", "en"),
        ("€5", "CLP", "es_CL"),
        ("5 USD", "BRL", "pt_BR"),
    ],
)
def test_parse_refuses_another_currencys_symbol(text, code, locale):
    with pytest.raises(InvalidAmount):
        Money.parse(text, code, locale)


def test_parse_in_an_unknown_currency_or_locale_is_refused():
    with pytest.raises(UnknownCurrency):
        Money.parse("5", "XYZ", "es")
    with pytest.raises(MoneyError, match="unknown locale"):
        Money.parse("5", "CLP", "xx_NOPE")


# -- formatting ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "code", "locale", "shown"),
    [
        (1234, "CLP", "es_CL", "$1.234"),
        (-1234, "CLP", "es_CL", "$-1.234"),
        (1234567, "CLP", "es_CL", "$1.234.567"),
        (123450, "BRL", "pt_BR", f"R${NBSP}1.234,50"),
        (-123450, "BRL", "pt_BR", f"-R${NBSP}1.234,50"),
        (123450, "USD", "en", "$1,234.50"),
        (-5, "USD", "en", "-$0.05"),
        (1234500, "KWD", "en", "KWD1,234.500"),
        (123450, "BRL", "es", f"1.234,50{NBSP}BRL"),
        (1234, "CLP", "es", f"1.234{NBSP}CLP"),
        (123450, "USD", "es_CL", "US$1.234,50"),
    ],
)
def test_format_shows_amounts_as_the_locale_writes_them(amount, code, locale, shown):
    assert Money(amount, code).format(locale) == shown


def test_format_keeps_every_digit_of_a_long_amount():
    shown = Money(10**30 + 1, "BRL").format("en")
    assert shown == "R$" + format(10**28, ",") + ".01"


# -- community currencies --------------------------------------------------------------------


def test_a_registered_community_currency_formats_with_its_code(trueque):
    assert currency(trueque) == Currency("TRUEQUE", 2, "crédito de trueque")
    assert Money(123450, trueque).format("es") == f"1.234,50{NBSP}TRUEQUE"
    assert Money(-123450, trueque).format("en") == f"-1,234.50{NBSP}TRUEQUE"


def test_a_registered_community_currency_parses(trueque):
    assert Money.parse("1.234,50 TRUEQUE", trueque, "es") == Money(123450, trueque)
    assert Money.parse("12,5", trueque, "pt_BR") == Money(1250, trueque)
    with pytest.raises(InvalidAmount, match="TRUEQUE allows 2"):
        Money.parse("1,255", trueque, "es")


def test_a_community_currency_code_with_digits_is_not_read_as_part_of_the_amount(registry):
    register_currency(Currency("TIEMPO1", 0))
    shown = Money(1234, "TIEMPO1").format("es")
    assert shown == f"1.234{NBSP}TIEMPO1"
    assert Money.parse(shown, "TIEMPO1", "es") == Money(1234, "TIEMPO1")


def test_registering_the_same_currency_again_is_harmless(trueque):
    register_currency(Currency("TRUEQUE", 2))
    assert currency(trueque).decimals == 2


def test_a_community_currency_cannot_be_registered_again_with_other_decimals(trueque):
    with pytest.raises(MoneyError, match="already registered with 2 decimals"):
        register_currency(Currency("TRUEQUE", 0))
    assert Money.parse("1,50", trueque, "es") == Money(150, trueque)


@pytest.mark.parametrize("cur", [Currency("USD", 3), Currency("CLP", 0), Currency("BRL", 2)])
def test_an_iso_currency_cannot_be_redefined(registry, cur):
    with pytest.raises(MoneyError, match="ISO 4217 currency and cannot be redefined"):
        register_currency(cur)
    assert currency("USD").decimals == 2


def test_a_historic_iso_code_cannot_be_taken_by_a_community_currency(registry):
    # BOL, the Bolivian boliviano of 1863-1963, is still an ISO 4217 code in CLDR.
    with pytest.raises(MoneyError, match="ISO 4217"):
        register_currency(Currency("BOL", 2))


@pytest.mark.parametrize(
    ("cur", "message"),
    [
        (Currency("ab", 2), "capital letters"),
        (Currency("TOOLONGCODE", 2), "capital letters"),
        (Currency("1AB", 2), "capital letters"),
        (Currency("NEG", -1), "between 0 and 6"),
        (Currency("MANY", 7), "between 0 and 6"),
        (Currency("HALF", 1.5), "between 0 and 6"),
    ],
)
def test_a_malformed_community_currency_is_refused(registry, cur, message):
    with pytest.raises(MoneyError, match=message):
        register_currency(cur)


def test_an_unregistered_community_currency_is_unknown(registry):
    with pytest.raises(UnknownCurrency, match="registered by a plugin"):
        Money(100, "TRUEQUE")
