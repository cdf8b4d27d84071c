"""Fixtures for the social-currency plugin's tests, built on feria's public fixtures
(``engine`` runs every test on SQLite and PostgreSQL, ``fair`` is the small CLP fair)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import feria_social_currency as sc
import pytest
from argon2 import PasswordHasher, profiles
from feria_social_currency import accounts, tokens

PIN = "4321"


@pytest.fixture(autouse=True)
def _signing_secret(monkeypatch):
    """A fresh signing secret for every test (never one committed to the repository)."""
    monkeypatch.setenv(tokens.SECRET_ENV, secrets.token_urlsafe(32))


@pytest.fixture(autouse=True, scope="session")
def _cheap_pins():
    # Real argon2 parameters cost ~50 ms a hash by design; the tests check hundreds of PINs.
    accounts.use_pin_hasher(PasswordHasher.from_parameters(profiles.CHEAPEST))


@dataclass
class Luca:
    """A community-bank currency, LUCA (2 decimals, backed by CLP at 1000 CLP per LUCA, the
    fair's rule stating the same rate), with a consumer holding 100.00 LUCA and a producer
    account for P01."""

    code: str
    consumer: str
    producer: str
    organizer: int


@pytest.fixture
def luca(engine, fair) -> Luca:
    org = fair.users["organizer"]
    sc.create_currency(
        engine,
        code="LUCA",
        name="Luca",
        decimals=2,
        kind="community_bank",
        backing_currency="CLP",
        user_id=org,
    )
    sc.set_rate(engine, code="LUCA", rate="1000", user_id=org, fairs=["feria-test"])
    consumer = sc.open_account(engine, code="LUCA", name="Rosa", user_id=org, pin=PIN)
    producer = sc.open_account(
        engine, code="LUCA", name="Miel del Sur", user_id=org, producer_id=fair.producers["P01"]
    )
    sc.issue(engine, code="LUCA", amount=10_000, to=consumer.number, user_id=org)
    return Luca("LUCA", consumer.number, producer.number, org)


@dataclass
class Hours:
    """A mutual-credit currency, HORA (2 decimals): members may go down to -50.00 and hold
    at most 80.00."""

    code: str
    accounts: list[str]
    organizer: int


@pytest.fixture
def hours(engine, fair) -> Hours:
    org = fair.users["organizer"]
    sc.create_currency(
        engine,
        code="HORA",
        name="Horas",
        decimals=2,
        kind="mutual_credit",
        debit_limit=5_000,
        credit_limit=8_000,
        user_id=org,
    )
    numbers = [
        sc.open_account(engine, code="HORA", name=name, user_id=org, pin=PIN).number
        for name in ("Ana", "Beto", "Carla", "Dora")
    ]
    return Hours("HORA", numbers, org)
