"""Fixtures for driving the real web app with Starlette's TestClient, on both databases."""

from __future__ import annotations

import uuid

import pytest
from starlette.testclient import TestClient

from feria.accounts import User, create_token
from feria.db import write_session
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
def client(app):
    with TestClient(app, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def token(engine, fair):
    """``token(role)``: a bearer token for the fair's user of that role."""

    def _token(role: str) -> str:
        with write_session(engine) as db:
            return create_token(db, db.get(User, fair.users[role]), name=f"test {role}")

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
