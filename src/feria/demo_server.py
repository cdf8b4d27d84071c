"""``feria demo``: one command that sets up and serves the demo fair on a laptop.

It migrates the database (SQLite by default), loads the demo fair and every plugin's part of
it (all idempotent, so running it twice neither fails nor duplicates), starts the virtual
receipt printer and the print spooler when the printing pieces are installed, and serves the
app with the demo logins listed on its home page.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from contextlib import ExitStack

import pluggy
from sqlalchemy import Engine

log = logging.getLogger("feria.demo")


def prepare(engine: Engine, pm: pluggy.PluginManager, echo: Callable[[str], None] = print):
    """Migrate and load the demo data; return the :class:`feria.demo.DemoInfo`."""
    from feria import migrate
    from feria.demo import load_demo

    echo("migrating the database …")
    migrate.upgrade(engine, pm)
    echo("loading the demo fair …")
    info = load_demo(engine, pm)
    pm.hook.feria_load_demo(engine=engine, pm=pm, fair_slug=info.fair_slug)
    return info


def _optional(module: str):
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is None or not (module == exc.name or module.startswith(exc.name + ".")):
            raise  # the module exists but something it needs is missing
        return None


def start_printing(stack: ExitStack, engine: Engine, pm, base_url: str, port: int, echo) -> None:
    """The virtual printer on 127.0.0.1:``port`` and the spooler, when they are installed."""
    vp = _optional("feria_virtual_printer") or _optional("hardware.virtual_printer")
    if vp is not None and hasattr(vp, "start_server"):
        try:
            server = vp.start_server(host="127.0.0.1", port=port)
        except OSError as exc:
            echo(f"virtual printer not started ({exc}); a real printer may be listening")
        else:
            stack.callback(server.stop)
            echo(f"virtual receipt printer listening on 127.0.0.1:{port}")
    receipts = _optional("feria.receipts")
    if receipts is not None and hasattr(receipts, "start_spooler"):
        spooler = receipts.start_spooler(engine, pm, base_url)
        stack.callback(spooler.stop)


def run(
    engine: Engine,
    pm: pluggy.PluginManager,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    printer_port: int = 9100,
    echo: Callable[[str], None] = print,
    ready: threading.Event | None = None,
) -> None:
    import uvicorn

    from feria.demo import logins_text
    from feria.web.app import create_app
    from feria.web.settings import Settings

    info = prepare(engine, pm, echo)
    base_url = f"http://{host}:{port}"
    settings = Settings.from_env(base_url=base_url, demo_logins=info.logins)
    app = create_app(engine, pm, settings=settings)
    with ExitStack() as stack:
        start_printing(stack, engine, pm, base_url, printer_port, echo)
        echo(f"\n{info.fair_name} — {info.place}")
        echo(f"open {base_url}/ and log in as one of:")
        for line in logins_text(info):
            echo(f"  {line}")
        echo("(demo passwords: never use them at a real fair)\n")
        config = uvicorn.Config(app, host=host, port=port, log_level="info")
        server = uvicorn.Server(config)
        if ready is not None:
            ready.set()
        server.run()
