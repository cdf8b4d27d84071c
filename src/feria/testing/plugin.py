"""feria's pytest plugin: the fixtures feria's own tests use, offered to plugin authors too.

Installed with feria (entry point ``pytest11``), so a plugin package's tests can simply ask
for ``engine``, ``pm``, ``fair`` or ``sell``:

* ``engine`` — a migrated throwaway database. Every test that asks for it runs twice, on
  SQLite and on PostgreSQL (a real server started for the test run, see
  :mod:`feria.testing.pgserver`). If PostgreSQL cannot start the run fails; set
  ``FERIA_TEST_DATABASES=sqlite`` to choose SQLite only, knowingly.
* ``pm`` — a fresh plugin manager with every installed plugin.
* ``fair`` — a small fair (CLP, 5% solidarity fund, a card fee) with producers, a
  cooperative with members, products, users of every role and a till.
* ``cash_session`` / ``sell`` — an open session and a helper to ring up a sale.
* ``app`` / ``client`` — the real web app (test settings: a fixed secret key, no print
  spooler) and an anonymous ``TestClient`` on it.
* ``client_as(role)`` / ``api_as(role)`` — a ``TestClient`` logged in through ``/login`` as
  the ``fair``'s user of that role, or sending that user's bearer token.
* ``local_stripe`` / ``virtual_printer`` — the local Stripe stand-in (the plugin pointed at
  it by environment) and the virtual ESC/POS printer, each on a free port.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import Engine

from feria import migrate
from feria.db import make_engine, write_session

_counter = itertools.count()


def _backends() -> list[str]:
    raw = os.environ.get("FERIA_TEST_DATABASES", "sqlite,postgresql")
    chosen = [b.strip() for b in raw.split(",") if b.strip()]
    unknown = set(chosen) - {"sqlite", "postgresql"}
    if unknown:
        raise pytest.UsageError(f"FERIA_TEST_DATABASES: unknown backend(s) {sorted(unknown)}")
    return chosen


@pytest.fixture(scope="session")
def feria_postgres():
    """A PostgreSQL server for the whole run (or ``FERIA_TEST_POSTGRES_URL``'s server)."""
    from feria.testing.pgserver import PostgresServer

    external = os.environ.get("FERIA_TEST_POSTGRES_URL")
    if external:
        yield _ExternalPostgres(external)
        return
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


class _ExternalPostgres:
    """An already running server given by URL (its user must be allowed to create dbs)."""

    def __init__(self, url: str) -> None:
        self.base = url.rsplit("/", 1)[0]

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"

    def create_database(self, name: str, template: str | None = None) -> None:
        import psycopg

        admin = self.url("postgres").replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(admin, autocommit=True) as conn:
            tpl = f" TEMPLATE {template}" if template else ""
            conn.execute(f'CREATE DATABASE "{name}"{tpl}')

    def drop_database(self, name: str) -> None:
        import psycopg

        admin = self.url("postgres").replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _server_url(server, name: str) -> str:
    url = server.url
    return url(name) if callable(url) else server.url_for(name)


@pytest.fixture(scope="session")
def feria_templates(tmp_path_factory, request) -> dict[str, str]:
    """Migrated template databases, made once per run and copied for every test."""
    out: dict[str, str] = {}
    backends = _backends()
    if "sqlite" in backends:
        folder = tmp_path_factory.mktemp("template")
        for flavour in ("empty", "fair"):
            path = folder / f"{flavour}.db"
            engine = make_engine(f"sqlite:///{path}")
            migrate.upgrade(engine)
            if flavour == "fair":
                _FAIR_IDS["sqlite"] = make_fair(engine)
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            engine.dispose()
            out[f"sqlite:{flavour}"] = str(path)
    if "postgresql" in backends:
        server = request.getfixturevalue("feria_postgres")
        for flavour in ("empty", "fair"):
            name = f"feria_template_{flavour}_{os.getpid()}"
            server.create_database(name)
            engine = make_engine(_server_url(server, name))
            migrate.upgrade(engine)
            if flavour == "fair":
                _FAIR_IDS["postgresql"] = make_fair(engine)
            engine.dispose()
            out[f"postgresql:{flavour}"] = name
    return out


# The fair made in each backend's "fair" template: every copy has the same ids.
_FAIR_IDS: dict[str, FairFixture] = {}


def _new_database(
    kind: str, request, tmp_path: Path, flavour: str = "empty"
) -> tuple[str, Callable[[], None]]:
    templates = request.getfixturevalue("feria_templates")
    if kind == "sqlite":
        path = tmp_path / f"feria-{next(_counter)}.db"
        shutil.copyfile(templates[f"sqlite:{flavour}"], path)
        return f"sqlite:///{path}", lambda: None
    server = request.getfixturevalue("feria_postgres")
    name = f"t_{os.getpid()}_{next(_counter)}"
    server.create_database(name, template=templates[f"postgresql:{flavour}"])
    return _server_url(server, name), lambda: server.drop_database(name)


@pytest.fixture
def database_url(request, tmp_path) -> Iterator[str]:
    """The URL of a fresh migrated database (SQLite or PostgreSQL, see ``engine``)."""
    kind = getattr(request, "param", None) or _backends()[0]
    # A test that asks for the ``fair`` fixture starts from a copy that already has it.
    flavour = "fair" if "fair" in request.fixturenames else "empty"
    url, cleanup = _new_database(kind, request, tmp_path, flavour)
    request.node.stash[_BACKEND] = kind
    try:
        yield url
    finally:
        cleanup()


@pytest.fixture
def another_database(request, tmp_path, database_url):
    """``another_database()`` → the URL of one more fresh migrated database on the same
    backend as the test's (to import an export into, say); dropped after the test."""
    cleanups: list[Callable[[], None]] = []

    def _make() -> str:
        url, cleanup = _new_database(request.node.stash[_BACKEND], request, tmp_path)
        cleanups.append(cleanup)
        return url

    yield _make
    for cleanup in cleanups:
        cleanup()


@pytest.fixture
def engine(database_url) -> Iterator[Engine]:
    """An engine on a fresh migrated database; the test runs once per backend."""
    eng = make_engine(database_url)
    try:
        yield eng
    finally:
        eng.dispose()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Parametrize at the URL level so every fixture built on it (engine, app, client) runs
    # on both databases, with readable test ids: test_x[sqlite], test_x[postgresql].
    if "database_url" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("backends")
        chosen = _backends()
        if marker is not None:
            chosen = [b for b in chosen if b in marker.args]
        metafunc.parametrize("database_url", chosen, indirect=True)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "backends(*names): run a database test only on these backends"
    )
    # Real argon2 parameters cost ~50 ms a hash by design; tests hash hundreds of them.
    from argon2 import PasswordHasher, profiles

    from feria.accounts import use_password_hasher

    use_password_hasher(PasswordHasher.from_parameters(profiles.CHEAPEST))


@pytest.fixture
def pm():
    """A fresh plugin manager with every installed plugin (nothing shared between tests)."""
    from feria.plugins import get_plugin_manager

    return get_plugin_manager()


@dataclass
class FairFixture:
    """Ids of a small fair made for a test."""

    network_id: int
    fair_id: int
    till_id: int
    producers: dict[str, int]
    products: dict[str, int]
    members: dict[str, int]
    users: dict[str, int]
    currency: str = "CLP"
    passwords: dict[str, str] = field(default_factory=dict)


def make_fair(
    engine: Engine, *, solidarity_bp: int = 500, currency_code: str = "CLP"
) -> FairFixture:
    """Create a small fair: P01 (honey by the kilo), P02 (vegetables by the gram), P07 (a
    cooperative of two members, 60/40), products with barcodes, users of every role."""
    from feria.accounts import add_user
    from feria.cashbox.sessions import add_till
    from feria.catalogue.service import (
        add_producer,
        add_product,
        create_fair,
        create_network,
        join_fair,
    )

    password = "correct horse battery"
    with write_session(engine) as db:
        net = create_network(db, "red-test", "Red de prueba")
        fair = create_fair(
            db,
            net,
            slug="feria-test",
            name="Feria de prueba",
            starts_on=dt.date(2026, 12, 1),
            ends_on=dt.date(2026, 12, 24),
            currency_code=currency_code,
            locale="es_CL",
            place="Santiago",
            solidarity_bp=solidarity_bp,
            fees={"card": {"bp": 300, "fixed": 0}},
        )
        p1 = add_producer(db, net, code="P01", name="Miel del Sur")
        p2 = add_producer(db, net, code="P02", name="Huerta Comunitaria", kind="association")
        p7 = add_producer(
            db,
            net,
            code="P07",
            name="Cooperativa Textil",
            kind="cooperative",
            members=[("Ana", 6000), ("Luis", 4000)],
        )
        p9 = add_producer(db, net, code="P09", name="No participa")
        for p, stall in ((p1, "A1"), (p2, "A2"), (p7, "B1")):
            join_fair(db, fair, p, stall)
        cur = currency_code
        honey = add_product(
            db,
            p1,
            sku="MIEL-KG",
            name="Miel",
            price=8000,
            currency_code=cur,
            unit="kg",
            barcode="7800000000016",
        )
        tomato = add_product(
            db, p2, sku="TOM-G", name="Tomates", price=3, currency_code=cur, unit="g"
        )
        scarf = add_product(
            db,
            p7,
            sku="BUF",
            name="Bufanda",
            price=12990,
            currency_code=cur,
            barcode="7800000000023",
        )
        other = add_product(db, p9, sku="X", name="No se vende aquí", price=1000, currency_code=cur)
        users = {
            "organizer": add_user(db, "org", password, "organizer").id,
            "cashier": add_user(db, "caja", password, "cashier").id,
            "producer": add_user(db, "miel", password, "producer", producer_code="P01").id,
            "producer2": add_user(db, "coop", password, "producer", producer_code="P07").id,
            "shopper": add_user(db, "compra", password, "shopper").id,
        }
        till = add_till(db, fair, "T1", "Caja 1")
        return FairFixture(
            network_id=net.id,
            fair_id=fair.id,
            till_id=till.id,
            producers={"P01": p1.id, "P02": p2.id, "P07": p7.id, "P09": p9.id},
            products={"honey": honey.id, "tomato": tomato.id, "scarf": scarf.id, "other": other.id},
            members={m.name: m.id for m in p7.members},
            users=users,
            currency=cur,
            passwords={k: password for k in users},
        )


_BACKEND = pytest.StashKey[str]()


@pytest.fixture
def fair(request, engine) -> FairFixture:
    """The small fair of :func:`make_fair`, already in the test's database."""
    import copy

    return copy.deepcopy(_FAIR_IDS[request.node.stash[_BACKEND]])


@pytest.fixture
def cash_session(engine, fair):
    """An open cash session at the fair's till with a float of 20,000."""
    from feria.cashbox.sessions import open_session

    return open_session(
        engine, till_id=fair.till_id, user_id=fair.users["cashier"], float_amount=20_000
    )


@pytest.fixture
def sell(engine, pm, cash_session):
    """``sell(lines, tenders, key=None)`` rings up a sale in the open session."""
    from feria.cashbox.sales import LineRequest, TenderRequest, record_sale

    def _sell(lines, tenders, key: str | None = None, session_id: int | None = None):
        return record_sale(
            engine,
            pm,
            key=key or uuid.uuid4().hex,
            session_id=session_id or cash_session.id,
            lines=[ln if isinstance(ln, LineRequest) else LineRequest(**ln) for ln in lines],
            tenders=[t if isinstance(t, TenderRequest) else TenderRequest(**t) for t in tenders],
        )

    return _sell


@dataclass
class PrivateSite:
    """A folder of packages installed for one test only (see ``install_plugin``)."""

    path: Path

    def env(self, **extra: str) -> dict[str, str]:
        """The environment for a subprocess (``feria plugins``…) that should see them."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(self.path), env.get("PYTHONPATH", "")) if p
        )
        env.update(extra)
        return env


@pytest.fixture
def install_plugin(tmp_path_factory, monkeypatch):
    """``install_plugin(path, ...)`` installs plugin packages (without dependencies) into a
    private folder that only this test's process (and subprocesses given ``site.env()``)
    can see, and returns the :class:`PrivateSite`.

    Nothing is installed into the shared environment, so a deliberately broken plugin in
    one test cannot break another test running at the same time.
    """
    import importlib
    import subprocess
    import sys

    site = PrivateSite(tmp_path_factory.mktemp("site"))
    before = set(sys.modules)

    def _install(*paths: str | Path) -> PrivateSite:
        uv = Path(sys.executable).parent / "uv"
        if uv.exists():
            cmd = [str(uv), "pip", "install", "--python", sys.executable, "--target"]
        else:
            cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--target"]
        subprocess.run(
            [*cmd, str(site.path), "--no-deps", *map(str, paths)],
            check=True,
            capture_output=True,
            text=True,
        )
        monkeypatch.syspath_prepend(str(site.path))
        importlib.invalidate_caches()
        return site

    yield _install
    for name in set(sys.modules) - before:
        module = sys.modules.get(name)
        if str(getattr(module, "__file__", "") or "").startswith(str(site.path)):
            del sys.modules[name]
    importlib.invalidate_caches()


# -- the web app and its clients ------------------------------------------------------------


@pytest.fixture
def app_settings():
    """The web app's settings in tests: a fixed secret key, the print spooler off."""
    from feria.testing.clients import test_settings

    return test_settings()


@pytest.fixture
def app(engine, pm, app_settings):
    """The real web app (``feria.web.app.create_app``) on the test's database."""
    from feria.web.app import create_app

    return create_app(engine, pm, settings=app_settings)


@pytest.fixture
def client(app):
    """An anonymous ``TestClient`` on ``app`` (its lifespan started)."""
    from starlette.testclient import TestClient

    from feria.testing.clients import BASE_URL

    with TestClient(app, base_url=BASE_URL) as c:
        yield c


def _clients(app):
    """A factory of ``TestClient``s on ``app``, all closed after the test."""
    from contextlib import ExitStack

    from starlette.testclient import TestClient

    from feria.testing.clients import BASE_URL

    stack = ExitStack()

    def _open(**kw) -> TestClient:
        return stack.enter_context(TestClient(app, base_url=BASE_URL, **kw))

    return stack, _open


@pytest.fixture
def client_as(app, engine, fair):
    """``client_as(role)`` → a ``TestClient`` logged in through the real ``/login`` form as
    the ``fair``'s user of ``role`` (``organizer``, ``cashier``, ``producer``…). Each call
    is a browser of its own, with its own cookies."""
    from feria.testing.clients import log_in, username_of

    stack, open_client = _clients(app)

    def _client_as(role: str):
        user_id = fair.users[role]
        return log_in(open_client(), username_of(engine, user_id), fair.passwords[role])

    with stack:
        yield _client_as


@pytest.fixture
def api_as(app, engine, fair):
    """``api_as(role)`` → a ``TestClient`` sending a new bearer token of the ``fair``'s user
    of ``role`` on every request (for ``/api/v1``)."""
    from feria.testing.clients import make_token

    stack, open_client = _clients(app)

    def _api_as(role: str):
        token = make_token(engine, fair.users[role], name=f"test {role}")
        return open_client(headers={"Authorization": f"Bearer {token}"})

    with stack:
        yield _api_as


# -- local stand-ins ------------------------------------------------------------------------


@pytest.fixture
def local_stripe(monkeypatch):
    """The Stripe plugin's local stand-in of Stripe's API (``feria_stripe.testing.LocalStripe``)
    on a free port, with ``FERIA_STRIPE_*`` set so the plugin talks to it. Skipped when the
    stripe plugin is not installed."""
    testing = pytest.importorskip(
        "feria_stripe.testing", reason="local_stripe needs the stripe plugin (feria-stripe)"
    )
    with testing.LocalStripe() as local:
        for name, value in local.env().items():
            monkeypatch.setenv(name, value)
        yield local


@pytest.fixture
def virtual_printer():
    """The virtual 80 mm ESC/POS network printer of the checkout's ``hardware/`` folder on
    127.0.0.1 and a free port (``.port``; ``.wait_for(n)`` returns what it printed)."""
    from feria.testing.clients import virtual_printer_class

    printer_class = virtual_printer_class()
    if printer_class is None:
        pytest.skip("virtual_printer needs a checkout of feria (its hardware/ folder)")
    with printer_class("127.0.0.1", 0, paper="80mm") as printer:
        yield printer
