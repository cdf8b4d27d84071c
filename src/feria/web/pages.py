"""The pages every feria site has: the home page, logging in and out, and the health check.

Login failures are counted per username and address (:class:`~feria.web.auth.LoginThrottle`);
past the limit the form answers 429 and says how long to wait, even to the right password.
"""

from __future__ import annotations

import math

from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from feria import __version__
from feria.accounts import authenticate
from feria.db import read_session
from feria.web.auth import client_address, log_in, log_out, safe_next
from feria.web.state import app_state


def home(request: Request) -> Response:
    settings = app_state(request).settings
    return app_state(request).templates.response(
        request, "home.html", {"demo_logins": settings.demo_logins}
    )


def login_form(request: Request) -> Response:
    return app_state(request).templates.response(
        request, "login.html", {"next": safe_next(request.query_params.get("next"))}
    )


async def login(request: Request) -> Response:
    form = await request.form()
    username = str(form.get("username", "")).strip()[:64]
    password = str(form.get("password", ""))[:1024]
    next_url = safe_next(str(form.get("next", "")))
    return await run_in_threadpool(_login, request, username, password, next_url)


def _login(request: Request, username: str, password: str, next_url: str) -> Response:
    state = app_state(request)
    address = client_address(request)

    def again(error: str, status: int, headers: dict[str, str] | None = None, **extra) -> Response:
        context = {"error": error, "username": username, "next": next_url, **extra}
        return state.templates.response(
            request, "login.html", context, status_code=status, headers=headers
        )

    if not state.throttle.allowed(username, address):
        wait = state.throttle.retry_after(username, address)
        return again("throttled", 429, {"Retry-After": str(wait)}, minutes=math.ceil(wait / 60))
    if not username or not password:
        return again("missing", 400)
    with read_session(state.engine) as db:
        user = authenticate(db, username, password)
    if user is None:
        state.throttle.failed(username, address)
        return again("invalid", 400)
    state.throttle.succeeded(username, address)
    log_in(request, user)
    return RedirectResponse(next_url, status_code=303)


def logout_form(request: Request) -> Response:
    return app_state(request).templates.response(request, "logout.html")


def logout(request: Request) -> Response:
    log_out(request)
    return RedirectResponse("/", status_code=303)


def healthz(request: Request) -> Response:
    """For load balancers and monitoring: is the app up and the database reachable."""
    try:
        with read_session(app_state(request).engine) as db:
            db.execute(text("SELECT 1"))
    except Exception as exc:  # report, do not crash: this page exists to say what is wrong
        return JSONResponse(
            {"status": "error", "database": type(exc).__name__, "version": __version__},
            status_code=503,
        )
    return JSONResponse({"status": "ok", "database": "ok", "version": __version__})


routes = [
    Route("/", home, methods=["GET"], name="home"),
    Route("/login", login_form, methods=["GET"], name="login_form"),
    Route("/login", login, methods=["POST"], name="login"),
    Route("/logout", logout_form, methods=["GET"], name="logout_form"),
    Route("/logout", logout, methods=["POST"], name="logout"),
    Route("/healthz", healthz, methods=["GET"], name="healthz"),
]
