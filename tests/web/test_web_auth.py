"""Logging in and out: sessions, CSRF on every form, login throttling, roles."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from feria.errors import Forbidden
from feria.web.auth import require_role, safe_next
from feria.web.problems import NotAuthenticated


def _csrf(client) -> str:
    page = client.get("/login")
    assert page.status_code == 200
    token = page.cookies.get("csrftoken") or client.cookies.get("csrftoken")
    assert token and f'value="{token}"' in page.text
    return token


def _login(client, username, password, **extra):
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrftoken": _csrf(client), **extra},
        follow_redirects=False,
    )


def test_login_with_the_right_password_starts_a_session(client, fair):
    answer = _login(client, "caja", fair.passwords["cashier"], next="/somewhere")

    assert answer.status_code == 303
    assert answer.headers["location"] == "/somewhere"
    cookie = answer.headers["set-cookie"]
    assert "feria_session=" in cookie and "samesite=lax" in cookie.lower()
    assert "httponly" in cookie.lower()
    home = client.get("/?lang=en")
    assert "caja" in home.text and "Log out" in home.text


def test_login_never_redirects_to_another_site(client, fair):
    answer = _login(client, "caja", fair.passwords["cashier"], next="//evil.example/")
    assert answer.headers["location"] == "/"
    assert safe_next("https://evil.example/") == "/"
    assert safe_next("/\\evil.example") == "/"
    assert safe_next("/pos?till=1") == "/pos?till=1"


def test_login_with_a_wrong_password_says_so(client, fair):
    answer = _login(client, "caja", "wrong password")
    page = client.get("/?lang=en")

    assert answer.status_code == 400
    assert "feria_session" not in answer.headers.get("set-cookie", "")
    assert "Log in" in page.text and "Log out" not in page.text


def test_login_failure_message_is_translated(client, fair):
    client.get("/?lang=es")
    answer = _login(client, "caja", "wrong password")
    assert "Usuario o contraseña incorrectos." in answer.text
    assert 'role="alert"' in answer.text


def test_five_failed_logins_lock_that_username_and_address_for_a_while(client, fair):
    for _ in range(5):
        assert _login(client, "caja", "guess").status_code == 400

    locked = _login(client, "caja", fair.passwords["cashier"])

    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    assert "Demasiados intentos fallidos" in locked.text
    # Someone else at the same address is not locked out by it.
    assert _login(client, "org", fair.passwords["organizer"]).status_code == 303


def test_a_form_post_without_the_csrf_token_is_refused(client, fair):
    _csrf(client)  # the browser has the cookie, but the form does not carry the token
    answer = client.post(
        "/login",
        data={"username": "caja", "password": fair.passwords["cashier"]},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert "feria_session" not in answer.headers.get("set-cookie", "")


def test_a_forged_login_from_a_browser_without_cookies_is_refused(app, fair):
    from starlette.testclient import TestClient

    with TestClient(app) as fresh:
        answer = fresh.post(
            "/login?lang=en",
            data={"username": "caja", "password": fair.passwords["cashier"]},
            follow_redirects=False,
        )
    assert answer.status_code == 403
    assert "The form has expired" in answer.text


def test_logout_ends_the_session(client, fair):
    _login(client, "org", fair.passwords["organizer"])
    token = client.cookies.get("csrftoken")

    answer = client.post("/logout", data={"csrftoken": token}, follow_redirects=False)

    assert answer.status_code == 303
    assert "Log out" not in client.get("/?lang=en").text


def test_a_session_cookie_does_not_authenticate_the_api(client, fair):
    _login(client, "org", fair.passwords["organizer"])
    answer = client.get("/api/v1/journal/entries")
    assert answer.status_code == 401


def test_require_role(app, fair, engine):
    from feria.accounts import User
    from feria.db import read_session

    def request(path="/backoffice", user=None):
        req = Request(
            {"type": "http", "path": path, "headers": [], "app": app, "query_string": b""}
        )
        req.scope["feria.user"] = user
        return req

    with read_session(engine) as db:
        cashier = db.get(User, fair.users["cashier"])

    assert require_role(request(user=cashier), "cashier", "organizer") is cashier
    assert require_role(request(user=cashier)) is cashier
    with pytest.raises(Forbidden):
        require_role(request(user=cashier), "organizer")
    with pytest.raises(NotAuthenticated):
        require_role(request(), "organizer")
