"""Helpers behind the test kit's web fixtures (``app``, ``client_as``, ``api_as``) and its
local stand-ins (``local_stripe``, ``virtual_printer``); see :mod:`feria.testing.plugin`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from starlette.testclient import TestClient

    from feria.web.settings import Settings

TEST_SECRET_KEY = "feria-test-only-secret-key-never-use-in-production"
BASE_URL = "http://testserver"


def test_settings(**overrides) -> Settings:
    """The web app's settings in tests: a fixed secret key and no print spooler thread."""
    from feria.web.settings import Settings

    return Settings(**{"secret_key": TEST_SECRET_KEY, "print_spooler": False, **overrides})


test_settings.__test__ = False  # type: ignore[attr-defined]  # not a test, despite its name


def log_in(client: TestClient, username: str, password: str) -> TestClient:
    """Log ``client`` in through the real ``/login`` form, as a browser does: open the form
    (which sets the CSRF cookie), then post it with the cookie's token."""
    form = client.get("/login")
    assert form.status_code == 200, form.text
    token = form.cookies.get("csrftoken") or client.cookies.get("csrftoken")
    assert token, "the login form set no CSRF cookie"
    answer = client.post(
        "/login",
        data={"username": username, "password": password, "csrftoken": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303, f"logging in as {username!r} failed: {answer.text}"
    return client


def username_of(engine: Engine, user_id: int) -> str:
    from feria.accounts import User
    from feria.db import read_session

    with read_session(engine) as db:
        return db.get(User, user_id).username


def make_token(engine: Engine, user_id: int, name: str = "test") -> str:
    """A new bearer token (``feria.accounts.create_token``) for the user ``user_id``."""
    from feria.accounts import User, create_token
    from feria.db import write_session

    with write_session(engine) as db:
        return create_token(db, db.get(User, user_id), name=name)


def virtual_printer_class():
    """``VirtualPrinter`` from the checkout's ``hardware/`` folder, or ``None`` when feria
    is installed without it (the printer is a developer's tool, not part of the package)."""
    from feria.demo_server import _virtual_printer_module

    module = _virtual_printer_module()
    return None if module is None else module.VirtualPrinter
