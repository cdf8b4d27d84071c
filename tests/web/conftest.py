"""Fixtures for driving the real web app with Starlette's TestClient, on both databases.

Built on the test kit (``feria.testing.plugin``): its ``client``, ``client_as`` and
``api_as`` run on the ``app`` made here (with the cash plugin and the ``fair``).
"""

from __future__ import annotations

import uuid

import pytest

from feria.testing.clients import make_token
from feria.web.app import create_app
from feria.web.settings import Settings


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch):
    """Real argon2, with the cheapest parameters: the fair's five users are hashed for every
    test, and at the production cost that alone takes seconds."""
    from argon2 import PasswordHasher

    from feria import accounts

    monkeypatch.setattr(
        accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def web_pm(pm):
    """The plugin manager with the cash plugin, even before it is installed as a package."""
    if pm.get_plugin("cash") is None:
        import feria_cash

        pm.register(feria_cash, name="cash")
    return pm


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(secret_key="test-only-secret-" + uuid.uuid4().hex)


@pytest.fixture
def app(engine, web_pm, fair, settings):
    return create_app(engine, web_pm, settings=settings)


@pytest.fixture
def token(engine, fair):
    """``token(role)``: a bearer token for the fair's user of that role."""

    def _token(role: str) -> str:
        return make_token(engine, fair.users[role], name=f"test {role}")

    return _token


@pytest.fixture
def api(client, token):
    """``api(role)``: a TestClient-like object sending that role's bearer token."""

    class Api:
        def __init__(self, role: str | None) -> None:
            self.headers = {"Authorization": f"Bearer {token(role)}"} if role else {}

        def get(self, url, **kw):
            return client.get(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

        def post(self, url, json=None, key=None, **kw):
            headers = {**self.headers, **kw.pop("headers", {})}
            if key is not None:
                headers["Idempotency-Key"] = key
            return client.post(url, json=json, headers=headers, **kw)

    return Api
