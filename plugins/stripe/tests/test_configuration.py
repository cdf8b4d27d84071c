"""Keys come from the environment only; without them the card method is simply not offered,
and the log says why."""

from __future__ import annotations

import logging

import pytest
from feria_stripe.method import StripeCard
from feria_stripe.settings import StripeSettings

from feria.cashbox.sales import payment_methods
from feria.catalogue.models import Fair
from feria.db import read_session

STRIPE_VARS = (
    "FERIA_STRIPE_SECRET_KEY",
    "FERIA_STRIPE_WEBHOOK_SECRET",
    "FERIA_STRIPE_PUBLISHABLE_KEY",
    "FERIA_STRIPE_API_BASE",
)


@pytest.fixture
def no_stripe_env(monkeypatch):
    for name in STRIPE_VARS:
        monkeypatch.delenv(name, raising=False)


def _offered(engine, pm, fair) -> set[str]:
    with read_session(engine) as db:
        return set(payment_methods(pm, db.get(Fair, fair.fair_id)))


def test_card_payments_are_not_offered_without_keys_and_the_log_says_why(
    engine, pm, fair, no_stripe_env, caplog
):
    caplog.set_level(logging.DEBUG, logger="feria.stripe")

    offered = _offered(engine, pm, fair)

    assert "stripe" not in offered and "cash" in offered
    assert "FERIA_STRIPE_SECRET_KEY is not set" in caplog.text


def test_card_payments_are_offered_once_configured(engine, pm, fair, stripe_env):
    assert "stripe" in _offered(engine, pm, fair)


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"FERIA_STRIPE_SECRET_KEY": "sk_test_x"}, "FERIA_STRIPE_WEBHOOK_SECRET is not set"),
        (
            {"FERIA_STRIPE_SECRET_KEY": "pk_test_x", "FERIA_STRIPE_WEBHOOK_SECRET": "whsec_x"},
            "not a secret key",
        ),
        (
            {
                "FERIA_STRIPE_SECRET_KEY": "sk_live_x",
                "FERIA_STRIPE_WEBHOOK_SECRET": "whsec_x",
                "FERIA_STRIPE_API_BASE": "http://127.0.0.1:9",
            },
            "a live key is never sent there",
        ),
    ],
)
def test_incomplete_or_unsafe_configuration_is_named(env, problem):
    assert problem in StripeSettings.from_env(env).problem()


def test_real_stripe_is_the_default_and_needs_no_base_address():
    settings = StripeSettings.from_env(
        {"FERIA_STRIPE_SECRET_KEY": "sk_live_x", "FERIA_STRIPE_WEBHOOK_SECRET": "whsec_x"}
    )
    assert settings.problem() is None and not settings.stand_in


def test_cards_take_iso_currencies_only():
    card = StripeCard(StripeSettings())
    assert card.accepts_currency("CLP") and card.accepts_currency("BRL")
    assert not card.accepts_currency("TRUEKE")  # a community currency never goes to a card
