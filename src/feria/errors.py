"""Refusals a person can act on. Each kind of refusal is its own exception type carrying
what was expected; the web layer turns them into RFC 9457 problem details and the CLI into
one-line messages, never tracebacks."""

from __future__ import annotations

from collections.abc import Mapping

from feria.i18n import DEFAULT, supported, translations
from feria.money import Money


class FeriaError(Exception):
    """Base of feria's refusals.

    ``field`` names the input at fault (``"tenders[1].amount"``), ``status`` is the HTTP
    status the API answers with, ``code`` a stable machine-readable name.

    ``message`` is an English template, marked with :func:`feria.i18n.N_` where it is
    raised, filled in with ``params`` (``N_("{due} still due")``, ``params={"due": ...}``);
    a message without ``params`` is shown as written. :class:`~feria.money.Money` params are
    written the way a person of the locale reads them: ``format_locale`` (usually the fair's)
    for the English text, ``str(exc)``, and the reader's locale for :meth:`localized`.
    """

    status: int = 400
    code: str = "invalid"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        params: Mapping[str, object] | None = None,
        format_locale: str = DEFAULT,
        **details: object,
    ) -> None:
        self.template = message
        self.params = dict(params or {})
        self.format_locale = format_locale
        self.message = self._fill(message, format_locale)
        super().__init__(self.message)
        self.field = field
        self.details = details

    def _fill(self, template: str, locale: str) -> str:
        if not self.params:
            return template
        values = {
            name: value.format(locale) if isinstance(value, Money) else value
            for name, value in self.params.items()
        }
        return template.format(**values)

    def localized(self, locale: str) -> str:
        """The message in ``locale``'s language (``es``, ``es_CL``, ``pt_BR``), its amounts
        written as a person of ``locale`` reads them. English, or a language feria does not
        speak, gets the English text."""
        language = supported(locale)
        if language is None or language == DEFAULT:
            return self.message
        if not self.params:
            return translations(language).gettext(self.template)
        return self._fill(translations(language).gettext(self.template), locale)

    def to_problem(self, locale: str | None = None) -> dict[str, object]:
        """The RFC 9457 problem, its ``detail`` in ``locale`` when one is given."""
        problem: dict[str, object] = {
            "type": f"urn:feria:problem:{self.code}",
            "title": self.code.replace("_", " "),
            "status": self.status,
            "detail": self.message if locale is None else self.localized(locale),
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
