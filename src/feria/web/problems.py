"""Refusals as RFC 9457 problem details (``application/problem+json``).

Every error the API answers with is a problem object built by
:meth:`feria.errors.FeriaError.to_problem`: a stable ``type``, the HTTP ``status``, a
``detail`` a person can act on and, when one input is at fault, the ``field`` naming it
(``lines[0].quantity``).
"""

from __future__ import annotations

from starlette.responses import JSONResponse

from feria.errors import FeriaError
from feria.i18n import DEFAULT, supported

PROBLEM_JSON = "application/problem+json"


class MalformedRequest(FeriaError):
    """The body is not JSON, or a required header is missing: nothing could be read."""

    code = "malformed_request"
    status = 400


class InvalidRequest(FeriaError):
    """The JSON was read, but a field is unknown, missing or of the wrong type."""

    code = "invalid_request"
    status = 422


class NotAuthenticated(FeriaError):
    """No valid credentials came with a request that needs them."""

    code = "not_authenticated"
    status = 401


class TooManyAttempts(FeriaError):
    code = "too_many_attempts"
    status = 429


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_JSON


def problem_response(exc: FeriaError, locale: str | None = None) -> ProblemResponse:
    """``exc`` as a problem; with ``locale`` (the reader's, ``es_CL``) its ``detail`` is
    written in that language and ``Content-Language`` says which."""
    headers = {"WWW-Authenticate": 'Bearer realm="feria"'} if exc.status == 401 else {}
    if locale is not None:
        headers["Content-Language"] = (supported(locale) or DEFAULT).replace("_", "-")
    return ProblemResponse(exc.to_problem(locale), status_code=exc.status, headers=headers or None)


def http_problem(status: int, detail: str) -> ProblemResponse:
    """A problem for a refusal that did not come from feria's code (an unknown URL)."""
    codes = {404: "not_found", 405: "method_not_allowed", 500: "internal_error"}
    code = codes.get(status, "http_error")
    return ProblemResponse(
        {
            "type": f"urn:feria:problem:{code}",
            "title": code.replace("_", " "),
            "status": status,
            "detail": detail,
        },
        status_code=status,
    )
