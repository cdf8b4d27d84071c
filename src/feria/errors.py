"""Refusals a person can act on. Each kind of refusal is its own exception type carrying
what was expected; the web layer turns them into RFC 9457 problem details and the CLI into
one-line messages, never tracebacks."""

from __future__ import annotations


class FeriaError(Exception):
    """Base of feria's refusals.

    ``field`` names the input at fault (``"tenders[1].amount"``), ``status`` is the HTTP
    status the API answers with, ``code`` a stable machine-readable name.
    """

    status: int = 400
    code: str = "invalid"

    def __init__(self, message: str, *, field: str | None = None, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def to_problem(self) -> dict[str, object]:
        problem: dict[str, object] = {
            "type": f"urn:feria:problem:{self.code}",
            "title": self.code.replace("_", " "),
            "status": self.status,
            "detail": self.message,
        }
        if self.field:
            problem["field"] = self.field
        problem.update({k: v for k, v in self.details.items() if v is not None})
        return problem


class NotFound(FeriaError):
    status = 404
    code = "not_found"


class Forbidden(FeriaError):
    status = 403
    code = "forbidden"


class Conflict(FeriaError):
    status = 409
    code = "conflict"
