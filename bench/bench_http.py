"""Sales over HTTP: 8 concurrent tills posting to one uvicorn worker for 20 seconds.

The app runs as it is deployed, ``feria serve --workers 1`` in a subprocess, on a fresh
migrated SQLite database (WAL, ``synchronous=FULL``: the app's default, under which a
confirmed sale survives a power cut) holding the small fair of
:func:`feria.testing.plugin.make_fair` and an open cash session. Eight client threads, each
with its own keep-alive ``httpx.Client`` and the cashier's API token, post
``POST /api/v1/sales`` back to back: 3 lines (1.235 kg of honey, a scarf, a free line of a
cooperative by producer code) and 2 cash tenders, each with a new ``Idempotency-Key``, and
time every request from send to the end of the response. The first seconds are a warm-up
and not counted; an answer other than 201 is left out of the latencies and reported.

Baseline, in the same run: a bare Starlette app with one POST route that parses the JSON
and sends it back, served by uvicorn the same way (one worker, same options, access log on
as ``feria serve`` has it) at the same path and hammered by the same client code with the
same body. The clients share the machine's cores with the server, so the baseline is
bounded by the client as much as by the server; the ratios say what the engine's sale
(authentication, validation, the sale transaction with its journal append and fsync)
costs on top of an HTTP round trip.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

DURATION_S = 20
WARM_UP_S = 2
CLIENTS = 8
PATH = "/api/v1/sales"
SYNCHRONOUS = "FULL"
GOAL_P50_MS = 10
GOAL_P99_MS = 50
ROOT = Path(__file__).resolve().parents[1]


async def _echo(request: Request) -> JSONResponse:
    return JSONResponse(await request.json())


bare_app = Starlette(routes=[Route(PATH, _echo, methods=["POST"])])
"""The baseline: parse the JSON body, send it back."""


# -- servers ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _feria_command(port: int) -> list[str]:
    script = Path(sys.executable).with_name("feria")
    cli = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "from feria.cli import main; main()"]
    )
    return [*cli, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]


def _bare_command(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.bench_http:bare_app",
        "--app-dir",
        str(ROOT),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--proxy-headers",
    ]


class _Server:
    """A server subprocess, stopped (by its own pid) when the block ends."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path, port: int) -> None:
        self.command, self.env, self.log, self.port = command, env, log, port
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> str:
        import httpx

        self.out = self.log.open("wb")
        self.proc = subprocess.Popen(
            self.command, env=self.env, cwd=ROOT, stdout=self.out, stderr=subprocess.STDOUT
        )
        base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited: {self._tail()}")
            try:
                httpx.get(base + "/", timeout=2)  # any answer (even a 404) means it is up
                return base
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"the server did not start within 60 s: {self._tail()}")

    def _tail(self) -> str:
        self.out.flush()
        return self.log.read_text(errors="replace")[-2000:]

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()


# -- clients ----------------------------------------------------------------------------------


def _hammer(url: str, headers: dict[str, str], body: bytes, expected: int) -> dict:
    """``CLIENTS`` threads posting ``body`` back to back for ``WARM_UP_S + DURATION_S``
    seconds; latencies (s) of the requests started after the warm-up."""
    import httpx

    latencies: list[list[float]] = [[] for _ in range(CLIENTS)]
    failures: list[str] = []
    go = threading.Barrier(CLIENTS + 1)
    times: dict[str, float] = {}

    def client(mine: list[float]) -> None:
        with httpx.Client(timeout=60) as http:
            go.wait()
            measure_from, stop = times["measure_from"], times["stop"]
            while True:
                started = time.perf_counter()
                if started >= stop:
                    break
                response = http.post(
                    url, content=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
                )
                elapsed = time.perf_counter() - started
                if response.status_code != expected:
                    failures.append(f"{response.status_code} {response.text[:300]}")
                elif started >= measure_from:
                    mine.append(elapsed)

    threads = [threading.Thread(target=client, args=(m,), daemon=True) for m in latencies]
    for t in threads:
        t.start()
    now = time.perf_counter()
    times["measure_from"] = now + WARM_UP_S
    times["stop"] = now + WARM_UP_S + DURATION_S
    go.wait()
    for t in threads:
        t.join()
    counted = sorted(x for m in latencies for x in m)
    if not counted:
        raise RuntimeError(f"no request succeeded: {failures[:3]}")
    return {
        "n": len(counted),
        "p50": statistics.median(counted),
        "p99": statistics.quantiles(counted, n=100, method="inclusive")[98],
        "max": counted[-1],
        "throughput": len(counted) / DURATION_S,
        "failures": failures,
    }


# -- the run ----------------------------------------------------------------------------------


def _setup(path: Path) -> tuple[str, dict]:
    """A migrated database with the test fair, an open session and a cashier's token."""
    from feria import migrate
    from feria.accounts import User, create_token
    from feria.cashbox.sessions import open_session
    from feria.db import make_engine, write_session
    from feria.testing.plugin import make_fair

    engine = make_engine(f"sqlite:///{path}")
    try:
        migrate.upgrade(engine)
        fair = make_fair(engine)
        cashier = fair.users["cashier"]
        session = open_session(engine, till_id=fair.till_id, user_id=cashier, float_amount=0)
        with write_session(engine) as db:
            token = create_token(db, db.get(User, cashier), name="bench")
    finally:
        engine.dispose()
    sale = {
        "session": session.id,
        "lines": [
            {"product_id": fair.products["honey"], "quantity": "1.235"},
            {"product_id": fair.products["scarf"]},
            {"producer_code": "P07", "amount": 2500},
        ],
        "tenders": [{"method": "cash", "amount": 20000}, {"method": "cash", "amount": 10000}],
    }
    return token, sale


def _sales_recorded(path: Path) -> int:
    import sqlite3

    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT count(*) FROM sales").fetchone()[0]
    finally:
        con.close()


def run() -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="feria-bench-http-") as tmp:
        folder = Path(tmp)
        db_path = folder / "feria.db"
        token, sale = _setup(db_path)
        body = json.dumps(sale).encode()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        env = {
            **os.environ,
            "FERIA_DATABASE_URL": f"sqlite:///{db_path}",
            "FERIA_SECRET_KEY": "bench-" + uuid.uuid4().hex,
            "FERIA_SQLITE_SYNCHRONOUS": SYNCHRONOUS,
        }
        port = _free_port()
        with _Server(_feria_command(port), env, folder / "feria.log", port) as base:
            load = os.getloadavg()[0]
            feria = _hammer(base + PATH, headers, body, 201)
        recorded = _sales_recorded(db_path)
        port = _free_port()
        with _Server(_bare_command(port), env, folder / "bare.log", port) as base:
            bare = _hammer(base + PATH, headers, body, 200)
    ms = 1000
    common = (
        f"{CLIENTS} clients (httpx, keep-alive, one thread each) for {DURATION_S} s after a "
        f"{WARM_UP_S} s warm-up, one uvicorn worker; SQLite WAL, synchronous={SYNCHRONOUS}; "
        f"machine load average {load:.1f} at the start; "
        f"{feria['n']:,} sales counted ({recorded:,} recorded in all), "
        f"{bare['n']:,} baseline requests. Baseline: a bare Starlette route parsing the "
        "JSON and returning it, served and hammered the same way"
    )
    failed = feria["failures"] + bare["failures"]
    if failed:  # counted out of the latencies, and said
        common += (
            f". FAILED: {len(feria['failures'])} feria and {len(bare['failures'])} baseline "
            f"requests, the first: {failed[0][:200]}"
        )
    p50, p99 = feria["p50"] * ms, feria["p99"] * ms
    return [
        {
            "name": "POST /api/v1/sales p50 latency (3 lines, 2 tenders)",
            "value": round(p50, 2),
            "unit": "ms",
            "baseline": round(bare["p50"] * ms, 2),
            "ratio": round(feria["p50"] / bare["p50"], 1),
            "note": f"goal < {GOAL_P50_MS} ms: {'met' if p50 < GOAL_P50_MS else 'NOT met'}; "
            f"{common}; ratio = feria / baseline",
        },
        {
            "name": "POST /api/v1/sales p99 latency",
            "value": round(p99, 2),
            "unit": "ms",
            "baseline": round(bare["p99"] * ms, 2),
            "ratio": round(feria["p99"] / bare["p99"], 1),
            "note": f"goal < {GOAL_P99_MS} ms: {'met' if p99 < GOAL_P99_MS else 'NOT met'}; "
            f"slowest {feria['max'] * ms:,.0f} ms (baseline {bare['max'] * ms:,.0f} ms); "
            "ratio = feria / baseline",
        },
        {
            "name": "POST /api/v1/sales throughput",
            "value": round(feria["throughput"], 1),
            "unit": "sales/s",
            "baseline": round(bare["throughput"], 1),
            "ratio": round(feria["throughput"] / bare["throughput"], 3),
            "note": "completed requests per second over the measured window; "
            "ratio = feria / baseline",
        },
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
