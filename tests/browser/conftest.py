"""Fixtures for the browser tests: the real app served by uvicorn on 127.0.0.1, Debian's
Chromium driven by Playwright, logins, viewports, screenshots and accessibility checks.

The browser tests run on SQLite only: a fair on one laptop is feria's default, and the
engine underneath (sales, sessions, refunds) is tested on both SQLite and PostgreSQL by the
rest of the suite; a second database would double minutes of browser time for no new
behaviour. The server and its database live for the whole run; each test takes a till of
its own (the ``till`` fixture), so sessions and sales of one test never meet another's.

These tests are never skipped: without Chromium or Playwright they fail and say that
``make test`` installs them.
"""

from __future__ import annotations

import itertools
import secrets
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine
from stdnum import ean

from feria import migrate
from feria.db import make_engine, write_session
from feria.testing.browser import (
    LAPTOP,
    PHONE,
    ChromiumMissing,
    LiveServer,
    check_accessibility,
    launch_chromium,
    log_in,
    start_playwright,
)
from feria.testing.plugin import FairFixture, make_fair

_tills = itertools.count(1)


def scale_label(base: str, grams: int) -> str:
    """The label a scale prints for ``grams`` of the item whose base code is ``base``."""
    body = base[:7] + f"{grams:05d}"
    return body + ean.calc_check_digit(body)


class LiveFair:
    """The running server, its database and the fair in it."""

    def __init__(self, server: LiveServer, engine: Engine, fair: FairFixture, extra: dict):
        self.server = server
        self.engine = engine
        self.fair = fair
        self.cheese_base = extra["cheese_base"]
        self.products = {**fair.products, "cheese": extra["cheese"]}

    @property
    def url(self) -> str:
        return self.server.url

    def scale_label(self, grams: int) -> str:
        """The label the cheese's scale prints for ``grams``."""
        return scale_label(self.cheese_base, grams)


def _add_scale_product(engine: Engine, fair: FairFixture) -> dict:
    """Goat's cheese by the kilo, sold with scale labels (base code 2000001 00000 C)."""
    from feria.catalogue.models import Producer
    from feria.catalogue.service import add_product

    base = "200000100000"
    base += ean.calc_check_digit(base)
    with write_session(engine) as db:
        p1 = db.get(Producer, fair.producers["P01"])
        cheese = add_product(
            db,
            p1,
            sku="QUESO",
            name="Queso de cabra",
            price=8000,
            currency_code=fair.currency,
            unit="kg",
            barcode=base,
        )
        return {"cheese": cheese.id, "cheese_base": base}


@pytest.fixture(scope="session")
def live(tmp_path_factory) -> Iterator[LiveFair]:
    """The app on a free port of 127.0.0.1, on a migrated SQLite database holding the test
    fair of :func:`feria.testing.plugin.make_fair` (plus a product sold by scale label)."""
    from feria.plugins import get_plugin_manager
    from feria.web.app import create_app
    from feria.web.settings import Settings

    path = tmp_path_factory.mktemp("live") / "feria.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    fair = make_fair(engine)
    extra = _add_scale_product(engine, fair)
    pm = get_plugin_manager()
    if pm.get_plugin("cash") is None:
        import feria_cash

        pm.register(feria_cash, name="cash")
    app = create_app(engine, pm, settings=Settings(secret_key="browser-" + uuid.uuid4().hex))
    server = LiveServer(app).start()
    try:
        yield LiveFair(server, engine, fair, extra)
    finally:
        server.stop()
        engine.dispose()


@pytest.fixture
def live_server(live) -> Iterator[LiveServer]:
    """The running server; a test may stop and restart it (on the same port). It is
    running again after the test, whatever the test did."""
    yield live.server
    if not live.server.running:
        live.server.start()


@pytest.fixture(scope="session")
def browser():
    try:
        playwright = start_playwright()
    except ChromiumMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        try:
            chromium = launch_chromium(playwright)
        except ChromiumMissing as exc:
            pytest.fail(str(exc), pytrace=False)
        yield chromium
        chromium.close()
    finally:
        playwright.stop()


@pytest.fixture
def new_page(browser, live) -> Iterator[Callable]:
    """``new_page(viewport=LAPTOP)``: a page in a fresh browser profile (no cookies, empty
    IndexedDB), like a till switched on for the first time."""
    contexts = []

    def _new(viewport: dict | None = None, **options):
        viewport = viewport or LAPTOP
        if viewport == PHONE:
            options.setdefault("is_mobile", True)
            options.setdefault("has_touch", True)
        options.setdefault("locale", "es-CL")  # the fair's: Chromium would ask for en-US
        context = browser.new_context(viewport=viewport, base_url=live.url, **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield _new
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    """A laptop-sized page."""
    return new_page(LAPTOP)


@pytest.fixture
def login(live) -> Callable:
    """``login(page, role, next_path="/")``: log in through the form as the fair's user of
    ``role`` (organizer, cashier, producer, producer2, shopper)."""
    usernames = {
        "organizer": "org",
        "cashier": "caja",
        "producer": "miel",
        "producer2": "coop",
        "shopper": "compra",
    }

    def _login(page, role: str, next_path: str = "/") -> None:
        log_in(page, live.url, usernames[role], live.fair.passwords[role], next_path)

    return _login


@pytest.fixture
def till(live) -> int:
    """A till of this test's own at the fair, with no session open."""
    from feria.cashbox.sessions import add_till
    from feria.catalogue.models import Fair

    with write_session(live.engine) as db:
        fair = db.get(Fair, live.fair.fair_id)
        return add_till(db, fair, f"B{next(_tills)}", "Caja de prueba").id


@pytest.fixture
def open_till(live, till) -> tuple[int, int]:
    """``(till_id, session_id)``: this test's till with a session open (float 20.000)."""
    from feria.cashbox.sessions import open_session

    cs = open_session(
        live.engine, till_id=till, user_id=live.fair.users["cashier"], float_amount=20_000
    )
    return till, cs.id


@pytest.fixture(scope="session")
def screenshots_dir(request) -> Path:
    """``artifacts/screenshots/`` in the checkout (ignored by git)."""
    folder = Path(request.config.rootpath) / "artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def screenshot(screenshots_dir) -> Callable:
    """``screenshot(page, name)`` saves the whole page as ``artifacts/screenshots/NAME.png``."""

    def _shot(page, name: str) -> Path:
        path = screenshots_dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _shot


@pytest.fixture
def assert_accessible() -> Callable:
    """``assert_accessible(page)``: axe-core's WCAG 2.2 A/AA rules (labels, contrast, names,
    ARIA, language…), the focus order by real Tab presses, a visible focus indicator and
    44 px touch targets; fails listing every problem found."""

    def _check(page, *, touch_target: int | None = 44) -> None:
        report = check_accessibility(page, touch_target=touch_target)
        assert not report.problems, "accessibility problems:\n" + "\n".join(report.problems)

    return _check


# -- a server of a module's own, with a community currency -------------------------------------


@dataclass
class CurrencyFair:
    """A test fair on its own server and database, with community currency ``code`` at a
    stated rate and one member account (``member``, PIN as asked) holding ``issued``."""

    server: LiveServer
    engine: Engine
    fair: FairFixture
    member: str
    organizer: int

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="session")
def currency_fair(tmp_path_factory):
    """``with currency_fair(code, ...) as fair:`` — a :class:`CurrencyFair` for a module's
    own ``live`` fixture; the currency is forgotten by this process when the block ends, so
    the tests after it see no social currency offered at their fairs."""
    sc = pytest.importorskip("feria_social_currency")
    from feria_social_currency import ledger, tokens

    from feria.plugins import get_plugin_manager
    from feria.web.app import create_app
    from feria.web.settings import Settings

    @contextmanager
    def start(
        code: str,
        *,
        name: str,
        rate: str,
        issued: int,
        pin: str,
        fair_currency: str = "CLP",
    ) -> Iterator[CurrencyFair]:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(tokens.SECRET_ENV, secrets.token_urlsafe(32))
            engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp(code.lower()) / 'f.db'}")
            migrate.upgrade(engine)
            fair = make_fair(engine, currency_code=fair_currency)
            org = fair.users["organizer"]
            sc.create_currency(
                engine,
                code=code,
                name=name,
                decimals=2,
                kind="community_bank",
                backing_currency=fair_currency,
                user_id=org,
            )
            sc.set_rate(engine, code=code, rate=rate, user_id=org, fairs=["feria-test"])
            member = sc.open_account(engine, code=code, name="Rosa", user_id=org, pin=pin).number
            sc.issue(engine, code=code, amount=issued, to=member, user_id=org)
            pm = get_plugin_manager()
            if pm.get_plugin("cash") is None:
                import feria_cash

                pm.register(feria_cash, name="cash")
            settings = Settings(secret_key=f"{code}-{uuid.uuid4().hex}")
            server = LiveServer(create_app(engine, pm, settings=settings)).start()
            try:
                yield CurrencyFair(server, engine, fair, member, org)
            finally:
                server.stop()
                engine.dispose()
                ledger._known.pop(code, None)

    return start
