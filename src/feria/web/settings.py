"""The web app's settings, read from the environment by :meth:`Settings.from_env`.

``FERIA_SECRET_KEY`` signs the session and CSRF cookies. Without it a random key is made
for the process and a warning is logged: people are logged out on every restart and
several app processes would not accept each other's cookies, so set it for real use.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import feria

log = logging.getLogger("feria.web")


def default_themes_dir() -> Path:
    """The ``themes/`` folder beside ``src/`` in a checkout of feria."""
    return Path(feria.__file__).resolve().parents[2] / "themes"


@dataclass(frozen=True, slots=True)
class DemoLogin:
    """A login the home page offers when the app runs as a demo, and the page to open."""

    username: str
    password: str
    role: str
    path: str = "/"


def _demo_login(raw: object) -> DemoLogin:
    if isinstance(raw, DemoLogin):
        return raw
    if isinstance(raw, tuple | list):
        return DemoLogin(*raw)
    # Any object with username, password, role and a page (``path`` or ``opens``).
    path = getattr(raw, "path", None) or getattr(raw, "opens", None) or "/"
    return DemoLogin(raw.username, raw.password, raw.role, path)  # type: ignore[attr-defined]


def _demo_logins(raw: Iterable[object]) -> tuple[DemoLogin, ...]:
    return tuple(_demo_login(d) for d in raw)


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    secret_key: str
    base_url: str = ""
    theme: str | None = None
    """Overrides the network's theme (``FERIA_THEME``); ``None`` follows the network."""
    themes_dir: Path = field(default_factory=default_themes_dir)
    https_only: bool = False
    """Send the session cookie only over HTTPS (on by default when the base URL is https)."""
    session_max_age: int = 12 * 3600
    demo_logins: tuple[DemoLogin, ...] = ()
    login_limit: str = "5/5 minutes"
    """Failed logins allowed per username and address (``limits`` notation)."""
    rate_limit_storage: str = "memory://"
    """Where failed logins are counted; ``redis://…`` shares the count between processes."""
    debug: bool = False
    secret_generated: bool = False
    print_spooler: bool = True
    """Run the receipt print spooler in this process (``FERIA_PRINT_SPOOLER=0`` turns it
    off, e.g. for a process that only serves the storefront)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "demo_logins", _demo_logins(self.demo_logins))
        object.__setattr__(self, "themes_dir", Path(self.themes_dir))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> Settings:
        env = os.environ if environ is None else environ
        secret = env.get("FERIA_SECRET_KEY", "").strip()
        generated = not secret
        if generated:
            secret = secrets.token_urlsafe(48)
            log.warning(
                "FERIA_SECRET_KEY is not set: using a random key for this process only; "
                "sessions end at every restart. Set it for real use."
            )
        base_url = env.get("FERIA_BASE_URL", "").strip().rstrip("/")
        https_raw = env.get("FERIA_HTTPS_ONLY")
        values = {
            "secret_key": secret,
            "secret_generated": generated,
            "base_url": base_url,
            "theme": env.get("FERIA_THEME", "").strip() or None,
            "themes_dir": Path(env["FERIA_THEMES_DIR"])
            if env.get("FERIA_THEMES_DIR")
            else default_themes_dir(),
            "https_only": _flag(https_raw)
            if https_raw is not None
            else base_url.startswith("https://"),
            "login_limit": env.get("FERIA_LOGIN_LIMIT", "").strip() or cls.login_limit,
            "rate_limit_storage": env.get("FERIA_RATE_LIMIT_STORAGE", "").strip()
            or cls.rate_limit_storage,
            "debug": _flag(env.get("FERIA_DEBUG")),
            "print_spooler": _flag(env.get("FERIA_PRINT_SPOOLER", "1")),
        }
        values.update(overrides)
        return cls(**values)
