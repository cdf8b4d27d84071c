"""What a refusal or a failure looks like: a problem object under ``/api/``, a page in the
reader's language everywhere else. Never a traceback: the server log has it."""

from __future__ import annotations

import logging
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from feria.errors import FeriaError
from feria.web.auth import API_PREFIX
from feria.web.problems import NotAuthenticated, http_problem, problem_response
from feria.web.state import app_state

log = logging.getLogger("feria.web")

_FALLBACK = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>{status}</title>"
    "<h1>{status}</h1><p>Something went wrong. Please try again.</p></html>"
)


def is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def render_error(request: Request, status: int, reason: str = "") -> Response:
    try:
        return app_state(request).templates.response(
            request, "error.html", {"status": status, "reason": reason}, status_code=status
        )
    except Exception:  # the error page itself failed (the database is down): say little
        log.exception("could not render the %s page", status)
        return HTMLResponse(_FALLBACK.format(status=status), status_code=status)


async def feria_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FeriaError)
    if is_api(request):
        return problem_response(exc)
    if isinstance(exc, NotAuthenticated):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    return await run_in_threadpool(render_error, request, exc.status, exc.code)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if is_api(request):
        return http_problem(exc.status_code, exc.detail)
    return await run_in_threadpool(render_error, request, exc.status_code)


async def server_error(request: Request, exc: Exception) -> Response:
    # Starlette re-raises the exception after this answer, so the server logs it.
    if is_api(request):
        return http_problem(500, "something went wrong on the server; it has been logged")
    return await run_in_threadpool(render_error, request, 500)


async def csrf_failed(scope, send, message_id) -> None:
    """asgi-csrf's refusal, as a page that says what to do (reload the form)."""
    request = Request(scope)
    response = await run_in_threadpool(render_error, request, 403, "csrf")

    async def no_body():  # pragma: no cover - a plain response never reads the request
        return {"type": "http.disconnect"}

    await response(scope, no_body, send)


exception_handlers = {
    FeriaError: feria_error,
    HTTPException: http_error,
    Exception: server_error,
}
