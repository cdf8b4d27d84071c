"""``feria demo``: one command that sets up and serves the demo fair on a laptop.

It migrates the database (SQLite by default), loads the demo fair and every plugin's part of
it (all idempotent, so running it twice neither fails nor duplicates), starts the virtual
receipt printer and the print spooler when the printing pieces are installed, and serves the
app with the demo logins listed on its home page.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import pluggy
from sqlalchemy import Engine

log = logging.getLogger("feria.demo")


def prepare(engine: Engine, pm: pluggy.PluginManager, echo: Callable[[str], None] = print):
    """Migrate and load the demo data; return the :class:`feria.demo.DemoInfo`."""
    from feria import migrate
    from feria.demo import load_demo
    from feria.receipts import attach

    echo("migrating the database …")
    migrate.upgrade(engine, pm)
    attach(engine, pm)  # the demo's sales queue their receipts like any other
    echo("loading the demo fair …")
    info = load_demo(engine, pm)
    pm.hook.feria_load_demo(engine=engine, pm=pm, fair_slug=info.fair_slug)
    return info


def _virtual_printer_module():
    """The virtual printer lives in the checkout's ``hardware/`` folder (a developer's and
    demo's tool, not part of the installed package)."""
    try:
        import feria_virtual_printer
    except ImportError:
        import feria

        hardware = Path(feria.__file__).resolve().parents[2] / "hardware"
        if not (hardware / "feria_virtual_printer").is_dir():
            return None
        sys.path.insert(0, str(hardware))
        import feria_virtual_printer
    return feria_virtual_printer


def start_printing(stack: ExitStack, port: int, echo: Callable[[str], None]) -> None:
    """The virtual receipt printer the demo till T1 prints to, on 127.0.0.1:``port``."""
    vp = _virtual_printer_module()
    if vp is None:
        echo("virtual printer not available (no hardware/ folder): receipts stay queued")
        return
    printer = vp.VirtualPrinter("127.0.0.1", port, paper="80mm", save_dir="var/receipts")
    try:
        printer.start()
    except OSError as exc:
        echo(f"virtual printer not started on port {port} ({exc}); a real one may be there")
        return
    stack.callback(printer.stop)
    os.environ.setdefault("FERIA_VIRTUAL_RECEIPTS_DIR", str(Path("var/receipts").resolve()))
    echo(f"virtual receipt printer on 127.0.0.1:{port}; see /backoffice/printed")


def point_demo_till_at(engine: Engine, fair_slug: str, port: int) -> bool:
    """Make the demo till T1 print to the virtual printer on 127.0.0.1:``port`` (the demo
    data says 9100; ``feria demo --printer-port`` may choose another). Only the demo's own
    local printer is changed, never one configured by hand. Whether it changed."""
    from sqlalchemy import select

    from feria.cashbox.models import Till
    from feria.catalogue.models import Fair
    from feria.db import write_session

    with write_session(engine) as db:
        till = db.scalar(
            select(Till)
            .join(Fair, Fair.id == Till.fair_id)
            .where(Fair.slug == fair_slug, Till.code == "T1")
        )
        printer = dict(till.printer or {}) if till is not None else {}
        local = (
            printer.get("driver") == "escpos"
            and printer.get("connection") == "network"
            and printer.get("host") in ("127.0.0.1", "localhost")
        )
        if not local or printer.get("port") == port:
            return False
        printer["port"] = port
        till.printer = printer
        return True


def start_card_stand_in(stack: ExitStack, base_url: str, echo: Callable[[str], None]) -> None:
    """Card payments in the demo go to a local stand-in of Stripe (no card is charged),
    unless real Stripe keys are configured."""
    try:
        from feria_stripe import testing
    except ImportError:
        return
    if os.environ.get("FERIA_STRIPE_SECRET_KEY"):
        return
    local = testing.start_for_demo(base_url)
    stack.callback(local.stop)
    os.environ.update(local.env())
    echo(f"card payments go to a local stand-in of Stripe at {local.url}: no card is charged")


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
    point_demo_till_at(engine, info.fair_slug, printer_port)
    base_url = f"http://{host}:{port}"
    settings = Settings.from_env(base_url=base_url, demo_logins=info.logins)
    with ExitStack() as stack:
        start_card_stand_in(stack, base_url, echo)
        app = create_app(engine, pm, settings=settings)  # its lifespan runs the print spooler
        start_printing(stack, printer_port, echo)
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
