"""The shape every API handler shares.

A handler is a plain function ``handler(call) -> Response`` decorated with
:func:`endpoint`, which reads the body, authenticates the bearer token, checks the role and
runs the handler in a worker thread, so the blocking engine call never stalls the event
loop. A handler parses its input, calls one engine function and renders the result; any
:class:`~feria.errors.FeriaError` it raises becomes a problem response.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pluggy
from sqlalchemy import Engine, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from feria.accounts import User
from feria.cashbox.errors import UnknownProducer
from feria.catalogue.models import Fair, Producer
from feria.db import read_session
from feria.errors import FeriaError, NotFound
from feria.money import MoneyError
from feria.web.auth import require_role
from feria.web.jsonbody import MAX_INTEGER, Fields, parse_json
from feria.web.problems import InvalidRequest, MalformedRequest, problem_response
from feria.web.state import AppState, app_state
from feria.web.templating import newest_fair, reader_locale

IDEMPOTENCY_HEADER = "Idempotency-Key"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(slots=True)
class Call:
    """One API request as a handler sees it."""

    request: Request
    state: AppState
    user: User | None
    raw: bytes

    @property
    def engine(self) -> Engine:
        return self.state.engine

    @property
    def pm(self) -> pluggy.PluginManager:
        return self.state.pm

    def param(self, name: str) -> Any:
        value = self.request.path_params[name]
        # ``{id:int}`` matches any run of digits; one too big for the database names nothing
        # (and could not even be bound to the query).
        if isinstance(value, int) and value > MAX_INTEGER:
            raise NotFound(f"there is no {name} {value}", field=name)
        return value

    def body(self) -> Fields:
        """The JSON object sent; read its fields, then call ``done()``."""
        return Fields(parse_json(self.raw))

    def no_body(self) -> None:
        """Refuse a body on an action that takes none (an empty object is fine)."""
        if self.raw.strip():
            self.body().done()

    def query_int(self, name: str, *, default: int, minimum: int, maximum: int) -> int:
        raw = self.request.query_params.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            value = None
        if value is None or not minimum <= value <= maximum:
            raise InvalidRequest(
                f"{name}: expected an integer from {minimum} to {maximum}", field=name
            )
        return value

    def idempotency_key(self) -> str:
        key = self.request.headers.get(IDEMPOTENCY_HEADER, "").strip()
        if not key:
            raise MalformedRequest(
                f"send an {IDEMPOTENCY_HEADER} header (a new UUID for each new sale, the same "
                "one when resending after a timeout)",
                field=IDEMPOTENCY_HEADER,
            )
        return key


Handler = Callable[[Call], Response]


def endpoint(*roles: str, public: bool = False) -> Callable[[Handler], Callable]:
    """Make ``handler`` an API endpoint open to ``roles`` (or to anyone, when ``public``)."""

    def wrap(handler: Handler) -> Callable:
        def run(request: Request, raw: bytes) -> Response:
            state = app_state(request)
            user = None
            try:
                user = None if public else require_role(request, *roles)
                call = Call(request=request, state=state, user=user, raw=raw)
                try:
                    return handler(call)
                except MoneyError as exc:  # an amount or currency the money rules refuse
                    raise InvalidRequest(str(exc)) from exc
            except FeriaError as exc:
                # The refusal in the language the client asks for (the till sends its
                # page's), English when it asks for none.
                fair = newest_fair(state.engine)
                _, locale = reader_locale(request, user, fair, fair_language=False)
                return problem_response(exc, locale)

        @functools.wraps(handler)
        async def asgi_endpoint(request: Request) -> Response:
            raw = await request.body() if request.method in _BODY_METHODS else b""
            try:
                return await run_in_threadpool(run, request, raw)
            except FeriaError as exc:
                return problem_response(exc)

        asgi_endpoint.roles = () if public else roles  # type: ignore[attr-defined]
        return asgi_endpoint

    return wrap


def json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)


@contextmanager
def fields_named(names: dict[str, str]) -> Iterator[None]:
    """Rename the engine's field names to the API's (``float_amount`` → ``float``), so a
    problem names what the client actually sent."""
    try:
        yield
    except FeriaError as exc:
        if exc.field in names:
            exc.field = names[exc.field]
        raise


def fair_by_slug(engine: Engine, slug: str) -> Fair:
    with read_session(engine) as db:
        fair = db.scalar(select(Fair).where(Fair.slug == slug))
    if fair is None:
        raise NotFound(f"there is no fair {slug!r}", field="slug")
    return fair


def producer_by_code(engine: Engine, fair: Fair, code: str, field: str) -> int:
    with read_session(engine) as db:
        pid = db.scalar(
            select(Producer.id).where(
                Producer.network_id == fair.network_id, Producer.code == code.strip().upper()
            )
        )
    if pid is None:
        raise UnknownProducer(f"no producer has code {code!r}", field=field)
    return pid
