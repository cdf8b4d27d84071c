"""Who is asking: people log in with a form and are remembered by a signed session cookie;
programs (tills, integrations) send ``Authorization: Bearer <token>``.

The two never mix: ``/api/`` trusts only bearer tokens and everything else only the session
cookie. The API is exempt from CSRF checks because a cookie cannot authenticate there, so a
page on another site cannot make a logged-in browser post a sale.
"""

from __future__ import annotations

import math
import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import HTTPConnection

from feria.accounts import User, user_for_token
from feria.db import read_session
from feria.errors import Forbidden
from feria.web.problems import NotAuthenticated
from feria.web.state import app_state

SESSION_KEY = "user_id"
API_PREFIX = "/api/"


class LoginThrottle:
    """Counts failed logins per username and address; past the limit, logins from that pair
    are refused until the window moves on, so a password cannot be guessed by trying."""

    def __init__(self, limit: str, storage_uri: str = "memory://") -> None:
        self.item = parse(limit)
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))

    @staticmethod
    def _keys(username: str, address: str) -> tuple[str, str]:
        return username.strip().lower(), address

    def allowed(self, username: str, address: str) -> bool:
        return self.limiter.test(self.item, *self._keys(username, address))

    def failed(self, username: str, address: str) -> None:
        self.limiter.hit(self.item, *self._keys(username, address))

    def succeeded(self, username: str, address: str) -> None:
        self.limiter.clear(self.item, *self._keys(username, address))

    def retry_after(self, username: str, address: str) -> int:
        """Seconds until one more attempt is allowed."""
        stats = self.limiter.get_window_stats(self.item, *self._keys(username, address))
        return max(1, math.ceil(stats.reset_time - time.time()))


def client_address(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else "unknown"


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site only, never another host."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def bearer_token(conn: HTTPConnection) -> str | None:
    scheme, _, token = conn.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _lookup(conn: HTTPConnection) -> User | None:
    engine = app_state(conn).engine
    if conn.url.path.startswith(API_PREFIX):
        token = bearer_token(conn)
        if token is None:
            return None
        with engine.connect() as db:
            user = user_for_token(db, token)
        if user is None:
            raise NotAuthenticated(
                "the bearer token is not valid: it was revoked, mistyped or its user is "
                "inactive; create one with `feria token create USERNAME`"
            )
        return user
    user_id = conn.session.get(SESSION_KEY) if "session" in conn.scope else None
    if type(user_id) is not int:
        return None
    with read_session(engine) as db:
        user = db.get(User, user_id)
    return user if user is not None and user.active else None


def current_user(conn: HTTPConnection) -> User | None:
    """The user making this request, or ``None``; looked up once per request (blocking:
    call it from a threadpool or a sync endpoint)."""
    cached = conn.scope.get("feria.user", False)
    if cached is False:
        cached = _lookup(conn)
        conn.scope["feria.user"] = cached
    return cached


def require_role(conn: HTTPConnection, *roles: str) -> User:
    """The current user if they hold one of ``roles`` (any role when none is given).

    Raises :class:`NotAuthenticated` when nobody is logged in (pages answer with the login
    form, the API with 401) and :class:`Forbidden` when the role does not fit.
    """
    user = current_user(conn)
    if user is None:
        if conn.url.path.startswith(API_PREFIX):
            raise NotAuthenticated(
                "send `Authorization: Bearer <token>`; create a token with "
                "`feria token create USERNAME`"
            )
        raise NotAuthenticated("log in to open this page")
    if roles and user.role not in roles:
        raise Forbidden(
            f"this needs the role {' or '.join(roles)}; you are logged in as {user.role}",
            role=user.role,
        )
    return user


def log_in(conn: HTTPConnection, user: User) -> None:
    # A fresh session on login: nothing set before it (by anyone) survives into it.
    conn.session.clear()
    conn.session[SESSION_KEY] = user.id
    conn.scope["feria.user"] = user


def log_out(conn: HTTPConnection) -> None:
    conn.session.clear()
    conn.scope["feria.user"] = None
