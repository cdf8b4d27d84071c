"""Pages from jinja2 templates, in the reader's language.

Templates are looked up in the active theme, then in the plugins' template folders, then in
the default theme, so a theme overrides only the templates it ships and a plugin can add its
own. The environment is built once per app; a render only fills in the context.

Every template gets: ``request``, ``user``, ``fair`` (the newest fair), ``locale``,
``lang_tag`` (for ``<html lang>``), ``menu`` (the plugins' menu items for this user),
``csrf_input()`` (the hidden field every form needs), ``static(path)``, ``role_name(role)``,
``languages`` (for the language switcher) and the filters ``money(currency)``,
``datetime``, ``date`` and ``date_range(end)`` that format in the reader's locale and the
fair's timezone; and ``render_panel(panel)``, which draws a plugin's panel
(:mod:`feria.panels`) inside the page.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pluggy
from babel import Locale
from babel.dates import format_date, format_datetime, format_interval, get_timezone
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, pass_context, select_autoescape
from markupsafe import Markup, escape
from sqlalchemy import Engine, select
from starlette.datastructures import MutableHeaders, QueryParams
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from feria import i18n
from feria.accounts import User
from feria.catalogue.models import Fair
from feria.db import read_session
from feria.i18n import N_
from feria.money import Money, format_money
from feria.panels import Panel
from feria.web.auth import API_PREFIX, SESSION_KEY, current_user
from feria.web.menu import MenuItem

log = logging.getLogger("feria.web.templating")

LANG_COOKIE = "feria_lang"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600

ROLE_NAMES = {
    "organizer": N_("Organizer"),
    "cashier": N_("Cashier"),
    "producer": N_("Producer"),
    "shopper": N_("Shopper"),
}


def reader_locale(
    request: Request, user: User | None, fair: Fair | None, *, fair_language: bool = True
) -> tuple[str, str]:
    """The language ``request`` is answered in (``?lang=``, the ``feria_lang`` cookie, the
    user's account, ``Accept-Language``, then the fair's unless ``fair_language`` is false:
    the API answers a client that asks for no language in English), and the locale its
    numbers and dates are written in: the fair's country when it speaks the same language
    (es_CL writes $12.990), else the reader's language alone."""
    locale = i18n.negotiate(
        chosen=i18n.supported(request.query_params.get("lang"))
        or i18n.supported(request.cookies.get(LANG_COOKIE)),
        user=user.locale if user is not None else None,
        accept=request.headers.get("accept-language"),
        fair=fair.locale if fair is not None and fair_language else None,
    )
    format_locale = locale
    if fair is not None and i18n.supported(fair.locale) == locale:
        format_locale = fair.locale
    return locale, format_locale


def template_dirs(themes_dir: Path, theme: str, plugin_dirs: Iterable[str | Path]) -> list[Path]:
    """The folders templates are looked up in, first match wins."""
    dirs = []
    if theme != "default":
        dirs.append(themes_dir / theme / "templates")
    dirs.extend(Path(d) for d in plugin_dirs)
    dirs.append(themes_dir / "default" / "templates")
    return dirs


def newest_fair(engine: Engine) -> Fair | None:
    """The fair the site is about: the one that starts last (the running or next one)."""
    with read_session(engine) as db:
        return db.scalar(select(Fair).order_by(Fair.starts_on.desc(), Fair.id.desc()).limit(1))


# -- translations and filters, read from the render context -----------------------------------


@pass_context
def _gettext(context, message: str) -> str:
    return context["translations"].gettext(message)


@pass_context
def _ngettext(context, singular: str, plural: str, n: int) -> str:
    return context["translations"].ngettext(singular, plural, n)


@pass_context
def _pgettext(context, ctxt: str, message: str) -> str:
    return context["translations"].pgettext(ctxt, message)


@pass_context
def _npgettext(context, ctxt: str, singular: str, plural: str, n: int) -> str:
    return context["translations"].npgettext(ctxt, singular, plural, n)


def _aware(value: dt.datetime) -> dt.datetime:
    # feria stores UTC without a zone; show it in the fair's zone.
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@pass_context
def money_filter(context, amount: int, currency_code: str) -> str:
    """``{{ 12990 | money("CLP") }}`` → ``$12.990`` for a Chilean fair in Spanish."""
    return format_money(Money(amount, currency_code), context["format_locale"])


@pass_context
def datetime_filter(context, value: dt.datetime | None, format: str = "medium") -> str:
    if value is None:
        return ""
    return format_datetime(
        _aware(value), format, tzinfo=context["timezone"], locale=context["format_locale"]
    )


@pass_context
def date_filter(context, value: dt.date | None, format: str = "long") -> str:
    if value is None:
        return ""
    return format_date(value, format, locale=context["format_locale"])


@pass_context
def date_range_filter(context, start: dt.date, end: dt.date, skeleton: str = "yMMMd") -> str:
    """``{{ fair.starts_on | date_range(fair.ends_on) }}`` → ``1–24 dic 2026``."""
    if start == end:
        return format_date(start, "long", locale=context["format_locale"])
    return format_interval(start, end, skeleton, locale=context["format_locale"])


@pass_context
def render_panel(context, panel: Panel) -> Markup:
    """``{{ render_panel(panel) }}``: a plugin's :class:`feria.panels.Panel`, drawn by its
    template with the page's context and the panel's own on top, or nothing at all.

    A panel is extra to the page it sits in: a template that is missing or fails (a typo in
    a plugin, a theme's override written for an older plugin) is logged and the panel left
    out, so the producer or organizer still gets the page they came for."""
    try:
        template = context.environment.get_template(panel.template)
        return Markup(template.render({**context.get_all(), **panel.context, "panel": panel}))
    except Exception:
        log.exception("could not render the panel %r (%s)", panel.title, panel.template)
        return Markup("")


def build_environment(dirs: Iterable[Path], *, auto_reload: bool = False) -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(d)) for d in dirs]),
        autoescape=select_autoescape(["html", "xml"]),
        extensions=["jinja2.ext.i18n"],
        auto_reload=auto_reload,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.policies["ext.i18n.trimmed"] = True  # as babel.cfg extracts them
    env.install_gettext_callables(  # type: ignore[attr-defined]
        _gettext, _ngettext, newstyle=True, pgettext=_pgettext, npgettext=_npgettext
    )
    env.filters.update(
        money=money_filter,
        datetime=datetime_filter,
        date=date_filter,
        date_range=date_range_filter,
    )
    env.globals["render_panel"] = render_panel
    return env


# -- rendering ------------------------------------------------------------------------------


def _languages() -> list[tuple[str, str]]:
    names = [(loc, Locale.parse(loc).get_display_name(loc)) for loc in i18n.SUPPORTED]
    return [(loc, name[:1].upper() + name[1:]) for loc, name in names]


LANGUAGES = _languages()


class Templates:
    """Renders a page for one request. Rendering reads the user and the fair from the
    database: call it from a sync endpoint or through ``run_in_threadpool``."""

    def __init__(
        self,
        env: Environment,
        engine: Engine,
        pm: pluggy.PluginManager,
    ) -> None:
        self.env = env
        self.engine = engine
        self.pm = pm

    def menu(self, user: User | None) -> list[MenuItem]:
        items = []
        for answer in self.pm.hook.feria_menu_items(user=user):
            for item in answer or ():
                if not item.roles or (user is not None and user.role in item.roles):
                    items.append(item)
        return items

    def context(self, request: Request) -> dict[str, Any]:
        """What every template receives, for ``request``."""
        user = current_user(request) if SESSION_KEY in request.session else None
        fair = newest_fair(self.engine)
        locale, format_locale = reader_locale(request, user, fair)
        tz = get_timezone(fair.timezone if fair is not None else "UTC")
        translations = i18n.translations(locale)
        csrf = request.scope.get("csrftoken")

        def csrf_token() -> str:
            return csrf() if csrf is not None else ""

        def csrf_input() -> Markup:
            return Markup('<input type="hidden" name="csrftoken" value="{}">').format(csrf_token())

        return {
            "request": request,
            "user": user,
            "fair": fair,
            "locale": locale,
            "lang_tag": locale.replace("_", "-"),
            "format_locale": format_locale,
            "timezone": tz,
            "translations": translations,
            "menu": self.menu(user),
            "languages": LANGUAGES,
            "csrf_token": csrf_token,
            "csrf_input": csrf_input,
            "static": lambda path: "/static/" + str(escape(path)).lstrip("/"),
            "role_name": lambda role: translations.gettext(ROLE_NAMES.get(role, role)),
        }

    def response(
        self,
        request: Request,
        name: str,
        context: Mapping[str, Any] | None = None,
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        ctx = self.context(request)
        if context:
            ctx.update(context)
        html = self.env.get_template(name).render(ctx)
        # A language chosen with ?lang= is remembered by RememberLanguage, on every answer.
        return HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))


class RememberLanguage:
    """ASGI middleware: a language chosen with ``?lang=`` on any page is remembered in the
    ``feria_lang`` cookie, whatever the answer is. A page, but also a redirect: the login
    a private page sends to, and the ``next`` page it sends back to, stay in the language
    chosen (``/producer?lang=es`` redirects twice before it shows a page). The JSON API,
    which speaks no language and sets no cookie, is left alone."""

    def __init__(self, app: ASGIApp, *, secure: bool = False) -> None:
        self.app = app
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chosen = None
        if scope["type"] == "http" and not scope["path"].startswith(API_PREFIX):
            chosen = i18n.supported(QueryParams(scope.get("query_string", b"")).get("lang"))
        if chosen is None:
            await self.app(scope, receive, send)
            return
        carrier = Response()
        carrier.set_cookie(
            LANG_COOKIE,
            chosen,
            max_age=LANG_COOKIE_MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=self.secure,
        )
        cookie = carrier.headers["set-cookie"]

        async def send_remembering(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_remembering)
