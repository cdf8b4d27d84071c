"""The web app: :func:`create_app` puts the pages, the API, the plugins' routes and the
static files behind the session, CSRF and error handling, on one migrated database.

``feria serve`` runs it with uvicorn through :func:`app_from_env`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

import pluggy
from asgi_csrf import asgi_csrf
from sqlalchemy import Engine, select
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from feria.catalogue.models import Fair, Network
from feria.db import read_session
from feria.errors import FeriaError
from feria.migrate import ensure_migrated
from feria.web import api, backoffice, live, openapi, pages, pos, printed, producer, public
from feria.web.auth import API_PREFIX, LoginThrottle
from feria.web.errorpages import csrf_failed, exception_handlers
from feria.web.settings import Settings
from feria.web.state import AppState
from feria.web.templating import RememberLanguage, Templates, build_environment, template_dirs

log = logging.getLogger("feria.web")

SESSION_COOKIE = "feria_session"


class ThemeFailure(FeriaError):
    code = "theme_missing"
    status = 500


class _ThemeStatic(StaticFiles):
    """Static files looked up in the active theme first, then in the default theme."""

    def __init__(self, directories: list[Path]) -> None:
        found = [d for d in directories if d.is_dir()]
        super().__init__(directory=found[0] if found else None, check_dir=False)
        self.all_directories = found


class _EveryPageButApi:
    """For asgi-csrf's ``always_protect``: check forms even from a browser with no cookie
    yet (a forged login), everywhere except the bearer-token API."""

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and not path.startswith(API_PREFIX)


class PagesOnly:
    """ASGI middleware: run ``middleware`` for everything but the JSON API.

    The API authenticates with bearer tokens and sets no cookie, so the session and CSRF
    layers have nothing to do there but wrap every response on the sale's path."""

    def __init__(self, app: ASGIApp, *, middleware: Callable[..., ASGIApp], **options) -> None:
        self.app = app
        self.pages = middleware(app, **options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
        else:
            await self.pages(scope, receive, send)


def _network_theme(engine: Engine) -> str | None:
    with read_session(engine) as db:
        return db.scalar(
            select(Network.theme)
            .join(Fair, Fair.network_id == Network.id)
            .order_by(Fair.starts_on.desc(), Fair.id.desc())
            .limit(1)
        ) or db.scalar(select(Network.theme).order_by(Network.id).limit(1))


def _collect(results) -> list:
    return [item for answer in results for item in (answer or ())]


def _skip_csrf(pm: pluggy.PluginManager):
    """The API (bearer tokens, no cookies) and whatever a plugin exempts: requests from other
    servers that authenticate themselves, like a payment provider's signed webhooks."""

    def skip(scope) -> bool:
        return scope["path"].startswith(API_PREFIX) or any(pm.hook.feria_skip_csrf(scope=scope))

    return skip


def _static_routes(settings: Settings, theme: str, plugin_static) -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for name, directory in plugin_static:
        routes.append(Mount(f"/static/plugins/{name}", StaticFiles(directory=str(directory))))
    dirs = [settings.themes_dir / theme / "static", settings.themes_dir / "default" / "static"]
    routes.append(Route("/favicon.ico", _favicon(dirs), methods=["GET", "HEAD"], name="favicon"))
    routes.append(Mount("/static", _ThemeStatic(dirs), name="static"))
    return routes


def _favicon(dirs: list[Path]):
    """``/favicon.ico``, which browsers and feed readers ask for whatever the page links to:
    the theme's ``favicon.svg`` (the default theme's if the theme has none), not a 404."""
    found = next((d / "favicon.svg" for d in dirs if (d / "favicon.svg").is_file()), None)

    async def favicon(request: Request) -> Response:
        if found is None:
            return Response(status_code=404)
        return FileResponse(
            found, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"}
        )

    return favicon


def create_app(
    engine: Engine, pm: pluggy.PluginManager, *, settings: Settings | None = None
) -> Starlette:
    """The feria web app on ``engine`` with the plugins of ``pm``.

    Refuses (:class:`feria.migrate.DatabaseNotMigrated`) a database that is not at the
    newest schema, so nothing is ever written with an old one.
    """
    settings = settings or Settings.from_env()
    ensure_migrated(engine)
    pm.hook.feria_startup(engine=engine, pm=pm)

    default_templates = settings.themes_dir / "default" / "templates"
    if not default_templates.is_dir():
        raise ThemeFailure(
            f"the default theme is not in {settings.themes_dir}: set FERIA_THEMES_DIR to the "
            "folder that holds default/templates"
        )
    theme = settings.theme or _network_theme(engine) or "default"
    if not (settings.themes_dir / theme).is_dir():
        log.warning("theme %r is not in %s; using the default theme", theme, settings.themes_dir)
        theme = "default"
    env = build_environment(
        template_dirs(settings.themes_dir, theme, _collect(pm.hook.feria_template_dirs())),
        auto_reload=settings.debug,
    )
    state = AppState(
        engine=engine,
        pm=pm,
        settings=settings,
        templates=Templates(env, engine, pm),
        throttle=LoginThrottle(settings.login_limit, settings.rate_limit_storage),
        theme=theme,
    )
    doc = openapi.document(settings.base_url)

    async def openapi_json(request: Request) -> JSONResponse:
        return JSONResponse(doc)

    routes: list[BaseRoute] = [
        *pages.routes,
        *pos.routes,
        *backoffice.routes,
        *printed.routes,
        *live.routes,
        *producer.routes,
        *public.routes,
        *api.routes,
        Route("/api/openapi.json", openapi_json, methods=["GET"], name="openapi"),
        *_collect(pm.hook.feria_routes()),
        *_static_routes(settings, theme, _collect(pm.hook.feria_static_dirs())),
    ]
    middleware = [
        Middleware(RememberLanguage, secure=settings.https_only),
        Middleware(
            PagesOnly,
            middleware=SessionMiddleware,
            secret_key=settings.secret_key,
            session_cookie=SESSION_COOKIE,
            max_age=settings.session_max_age,
            same_site="lax",
            https_only=settings.https_only,
        ),
        Middleware(
            PagesOnly,
            middleware=asgi_csrf,
            signing_secret=settings.secret_key,
            always_protect=_EveryPageButApi(),
            skip_if_scope=_skip_csrf(pm),
            cookie_secure=settings.https_only,
            send_csrf_failed=csrf_failed,
        ),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        # Receipts print off the sale's path: a spooler thread per app process prints what
        # the sales queued (several processes share the queue safely).
        spooler = None
        if settings.print_spooler:
            from feria.receipts import start_spooler

            spooler = start_spooler(engine, pm, settings.base_url)
        try:
            yield
        finally:
            if spooler is not None:
                spooler.stop()

    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers=exception_handlers,
        lifespan=lifespan,
    )
    app.state.feria = state
    return app


def app_from_env() -> Starlette:
    """The app for ``FERIA_DATABASE_URL`` with every installed plugin (uvicorn's factory)."""
    from feria.db import make_engine
    from feria.plugins import get_plugin_manager

    try:
        return create_app(make_engine(), get_plugin_manager())
    except FeriaError as exc:
        raise SystemExit(f"error: {exc.message}") from exc
