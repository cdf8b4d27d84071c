"""The shop's catalogue page over HTTP against rendering the same template from memory.

The network lists 10,000 products of 200 producers. The served figure is pages per second
of ``GET /shop?page=N`` (24 products a page, pages spread over the whole catalogue) from a
real uvicorn server with one worker on SQLite: the session and CSRF middleware, the page
context, the count and page queries, the label hooks for the page's products, rendering.
The baseline renders the very same template (``shop/catalogue.html``) with the same
context, from a list of 24 products already in memory, in this process: what the page
would cost if the database and the server were free. ``ratio`` = served / in-memory; the
goal is at least 0.3.

A second figure does the same on PostgreSQL with two uvicorn workers, when a PostgreSQL
server can be started here (``feria.testing.pgserver``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

N_PRODUCTS = 10_000
N_PRODUCERS = 200
CATEGORIES = (
    "Miel", "Panadería", "Verduras", "Frutas", "Textiles", "Cerámica", "Conservas",
    "Lácteos", "Huevos", "Hierbas", "Cosmética", "Madera", "Juguetes", "Libros",
    "Semillas", "Flores", "Café", "Té", "Chocolate", "Limpieza",
)  # fmt: skip
SERVED_SECONDS = 8.0
RENDER_SECONDS = 4.0
ROUNDS = 5
CLIENTS = 3
SECRET = "bench-only-secret-key-not-for-real-use"


# -- the catalogue ----------------------------------------------------------------------------


def _seed(engine) -> None:
    """10,000 active products of 200 producers, all at one fair that starts next week."""
    from sqlalchemy import insert

    from feria.catalogue.models import Participation, Producer, Product
    from feria.catalogue.service import create_fair, create_network
    from feria.db import write_session

    today = dt.date.today()
    with write_session(engine) as db:
        net = create_network(db, "bench", "Red de prueba")
        fair = create_fair(
            db,
            net,
            slug="bench-fair",
            name="Feria de prueba",
            starts_on=today + dt.timedelta(days=7),
            ends_on=today + dt.timedelta(days=30),
            currency_code="CLP",
            locale="es_CL",
            place="Santiago",
            solidarity_bp=500,
        )
        conn = db.connection()
        conn.execute(
            insert(Producer),
            [
                {
                    "network_id": net.id,
                    "code": f"P{i:03d}",
                    "name": f"Productora {i:03d}",
                    "kind": "cooperative" if i % 7 == 0 else "individual",
                    "story": "Producimos en la comuna desde 2010.",
                    "place": "Santiago",
                    "contact_email": "",
                    "contact_phone": "",
                    "payout_details": "",
                    "active": True,
                }
                for i in range(N_PRODUCERS)
            ],
        )
        producer_ids = [p.id for p in db.query(Producer.id).order_by(Producer.id)]
        conn.execute(
            insert(Participation),
            [{"fair_id": fair.id, "producer_id": pid, "stall": ""} for pid in producer_ids],
        )
        conn.execute(
            insert(Product),
            [
                {
                    "producer_id": producer_ids[i % N_PRODUCERS],
                    "sku": f"SKU-{i:05d}",
                    "barcode": None,
                    "name": f"Producto {i:05d} {CATEGORIES[i % len(CATEGORIES)].lower()}",
                    "description": "Hecho a mano, en pequeñas cantidades.",
                    "category": CATEGORIES[i % len(CATEGORIES)],
                    "unit": "kg" if i % 5 == 0 else "piece",
                    "price": 500 + (i * 37) % 20000,
                    "currency": "CLP",
                    "stock": None if i % 3 else str(i % 40),
                    "active": True,
                    "image": "",
                    "extra": {},
                }
                for i in range(N_PRODUCTS)
            ],
        )


# -- serving ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _server(url: str, workers: int):
    port = _free_port()
    env = dict(os.environ)
    env.update(
        FERIA_DATABASE_URL=url,
        FERIA_SECRET_KEY=SECRET,
        FERIA_THEME="default",
        FERIA_SQLITE_SYNCHRONOUS="NORMAL",
    )
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "uvicorn", "--factory", "feria.web.app:app_from_env",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--log-level", "warning", "--no-access-log",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"uvicorn stopped: {proc.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start within 60 s")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _pages() -> list[int]:
    """Every full page (24 products), in a scattered order."""
    pages = N_PRODUCTS // 24
    return [1 + (i * 37) % pages for i in range(pages)]


class _Client:
    """A keep-alive HTTP/1.1 client on a bare socket: cheap enough that on a small machine
    the clients do not take the CPU the server is being measured on."""

    def __init__(self, base: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.host = host
        self.sock = socket.create_connection((host, int(port)))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")
        self.cookie = ""

    def get(self, path: str) -> tuple[int, bytes]:
        cookie = f"Cookie: {self.cookie}\r\n" if self.cookie else ""
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n{cookie}\r\n".encode())
        status = int(self.file.readline().split()[1])
        length = 0
        while (line := self.file.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "set-cookie" and not self.cookie:
                self.cookie = value.strip().split(";", 1)[0]  # the CSRF cookie, kept
        return status, self.file.read(length)

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def _served(base: str, clients: int, seconds: float) -> tuple[float, list[float]]:
    """Pages per second of ``clients`` keep-alive clients, and their latencies (s)."""
    pages = _pages()
    latencies: list[float] = []
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[str] = []

    def client(n: int) -> None:
        http = _Client(base)
        http.get("/shop")  # warm up: the connection, the cookie
        i = n
        mine = []
        while not stop.is_set():
            page = pages[i % len(pages)]
            i += clients
            started = time.perf_counter()
            status, body = http.get(f"/shop?page={page}")
            mine.append(time.perf_counter() - started)
            if status != 200 or body.count(b'class="product-card"') != 24:
                errors.append(f"page {page}: {status}")
                break
        http.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"the catalogue page failed: {errors[:3]}")
    return len(latencies) / elapsed, latencies


def _compare(base: str, render, clients: int) -> dict[str, float]:
    """Served and in-memory figures measured in alternating rounds, so a machine that gets
    busier or quieter during the run affects both alike; medians over the rounds."""
    served, baseline, ratios, latencies = [], [], [], []
    for _ in range(ROUNDS):
        rate, lat = _served(base, clients, SERVED_SECONDS / ROUNDS)
        renders = render(RENDER_SECONDS / ROUNDS)
        served.append(rate)
        baseline.append(renders)
        ratios.append(rate / renders)
        latencies.extend(lat)
    return {
        "served": statistics.median(served),
        "baseline": statistics.median(baseline),
        "ratio": statistics.median(ratios),
        "latency_ms": statistics.median(latencies) * 1000,
    }


# -- the in-memory baseline ---------------------------------------------------------------------


def _in_memory(url: str):
    """A function rendering shop/catalogue.html from 24 products held in memory for some
    seconds, answering renders per second."""
    from starlette.requests import Request

    from feria.catalogue import browse
    from feria.db import make_engine, read_session
    from feria.plugins import get_plugin_manager
    from feria.web.settings import Settings
    from feria.web.templating import Templates, build_environment, template_dirs

    engine = make_engine(url)
    pm = get_plugin_manager()
    settings = Settings(secret_key=SECRET, theme="default")
    env = build_environment(template_dirs(settings.themes_dir, "default", []))
    templates = Templates(env, engine, pm)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/shop",
        "raw_path": b"/shop",
        "query_string": b"page=7",
        "headers": [(b"host", b"127.0.0.1")],
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1),
        "root_path": "",
        "session": {},
        "csrftoken": lambda: "x" * 40,
    }
    request = Request(scope)
    # The page's data, fetched once: from here on only the template works.
    context = templates.context(request)
    fair = context["fair"]
    with read_session(engine) as db:
        context.update(
            page=browse.browse(db, pm, fair.network_id, browse.Browse(page=7), fair=fair),
            categories=browse.categories(db, fair.network_id),
            producers=browse.producer_choices(db, fair.network_id),
            fairs=browse.upcoming_fairs(db, fair.network_id),
            added=None,
            cart_count=0,
        )
    engine.dispose()
    template = env.get_template("shop/catalogue.html")
    assert template.render(context).count('class="product-card"') == 24

    def render(seconds: float) -> float:
        done, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            template.render(context)
            done += 1
        return done / elapsed

    return render


# -- the run ----------------------------------------------------------------------------------


def _migrated(url: str) -> None:
    from feria import migrate
    from feria.db import make_engine

    engine = make_engine(url)
    migrate.upgrade(engine)
    _seed(engine)
    engine.dispose()


def _row(name: str, figures: dict[str, float] | None, note: str) -> dict:
    return {
        "name": name,
        "value": figures["served"] if figures else None,
        "unit": "pages/s",
        "baseline": figures["baseline"] if figures else None,
        "ratio": figures["ratio"] if figures else None,
        "note": note,
    }


def run() -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'shop.db'}"
        _migrated(url)
        render = _in_memory(url)
        with _server(url, workers=1) as base:
            figures = _compare(base, render, CLIENTS)
        rows.append(
            _row(
                f"catalogue page of {N_PRODUCTS:,} products, SQLite, 1 worker",
                figures,
                "baseline: the same template rendered from an in-memory list (renders/s); "
                f"median latency {figures['latency_ms']:.1f} ms with {CLIENTS} clients; "
                "goal ratio ≥ 0.3",
            )
        )
        rows.append(_postgres(render))
    return rows


def _postgres(render) -> dict:
    from feria.testing.pgserver import PostgresServer, PostgresUnavailable

    name = f"catalogue page of {N_PRODUCTS:,} products, PostgreSQL, 2 workers"
    try:
        server = PostgresServer().start()
    except PostgresUnavailable as exc:
        return _row(name, None, f"skipped: {exc}")
    try:
        server.create_database("shop_bench")
        url = server.url("shop_bench")
        _migrated(url)
        with _server(url, workers=2) as base:
            figures = _compare(base, render, CLIENTS * 2)
    finally:
        server.stop()
    return _row(
        name,
        figures,
        "baseline: the same in-memory render; median latency "
        f"{figures['latency_ms']:.1f} ms with {CLIENTS * 2} clients; server, database and "
        f"clients share {os.cpu_count()} cores",
    )


if __name__ == "__main__":
    for row in run():
        print(row)
