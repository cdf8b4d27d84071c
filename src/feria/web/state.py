"""What every handler of one app shares: the database engine, the plugins, the settings, the
templates and the login throttle. One instance per app, kept on ``app.state.feria``; no
module-level globals, so two apps (two tests) never see each other's state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pluggy
from sqlalchemy import Engine
from starlette.requests import HTTPConnection

from feria.web.settings import Settings

if TYPE_CHECKING:
    from feria.web.auth import LoginThrottle
    from feria.web.templating import Templates


@dataclass(frozen=True, slots=True)
class AppState:
    engine: Engine
    pm: pluggy.PluginManager
    settings: Settings
    templates: Templates
    throttle: LoginThrottle
    theme: str


def app_state(conn: HTTPConnection) -> AppState:
    return conn.app.state.feria
