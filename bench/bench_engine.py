"""The caja común engine's sale path against raw ``sqlite3`` inserting the same rows.

A sale here is what a till sends most often: 3 lines (a weighed item, a piece, a free line
by producer code) of 2 producers, one a cooperative, paid with 2 tenders. The engine resolves
the lines, authorizes the tenders through the plugin hooks, splits, hashes and appends the
journal entry and writes the derived rows, in one transaction per sale. The baseline inserts
exactly the rows the engine wrote (journal entry, head, sale, lines, tenders, splits, member
splits) with plain ``sqlite3``, one transaction per sale, with the same durability
(WAL, ``synchronous=FULL``).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

N_SALES = 400
RUNS = 3


def _setup(path: Path):
    from feria import migrate
    from feria.accounts import add_user
    from feria.cashbox.sessions import add_till, open_session
    from feria.catalogue.service import (
        add_producer,
        add_product,
        create_fair,
        create_network,
        join_fair,
    )
    from feria.db import make_engine, write_session
    from feria.plugins import get_plugin_manager

    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with write_session(engine) as db:
        net = create_network(db, "bench", "Bench network")
        fair = create_fair(
            db,
            net,
            slug="bench",
            name="Bench fair",
            starts_on=dt.date(2026, 12, 1),
            ends_on=dt.date(2026, 12, 2),
            currency_code="CLP",
            solidarity_bp=500,
        )
        p1 = add_producer(db, net, code="P01", name="Honey")
        p7 = add_producer(
            db,
            net,
            code="P07",
            name="Coop",
            kind="cooperative",
            members=[("Ana", 6000), ("Luis", 4000)],
        )
        join_fair(db, fair, p1)
        join_fair(db, fair, p7)
        honey = add_product(
            db, p1, sku="H", name="Honey", price=8000, currency_code="CLP", unit="kg"
        ).id
        scarf = add_product(db, p7, sku="S", name="Scarf", price=12990, currency_code="CLP").id
        cashier = add_user(db, "cashier", "bench-password", "cashier").id
        till = add_till(db, fair, "T1").id
    session = open_session(engine, till_id=till, user_id=cashier, float_amount=0)
    return engine, get_plugin_manager(), session.id, honey, scarf


def _engine_run(engine, pm, session_id, honey, scarf, offset: int) -> float:
    from feria.cashbox.sales import LineRequest, TenderRequest, record_sale

    lines = [
        LineRequest(product_id=honey, quantity="1.235"),
        LineRequest(product_id=scarf),
        LineRequest(producer_code="P07", amount=2500),
    ]
    tenders = [TenderRequest("cash", 20000), TenderRequest("cash", 10000)]
    started = time.perf_counter()
    for i in range(N_SALES):
        record_sale(
            engine,
            pm,
            key=f"bench-{offset + i:08d}",
            session_id=session_id,
            lines=lines,
            tenders=tenders,
        )
    return time.perf_counter() - started


def _rows_of(path: Path, limit: int) -> list[tuple]:
    """The rows the engine wrote for its last ``limit`` sales, to insert again raw."""
    con = sqlite3.connect(path)
    out = []
    for seq, kind, fair_id, at, body, prev, digest in con.execute(
        "SELECT seq, kind, fair_id, at, body, prev_hash, hash FROM journal_entries "
        "WHERE kind = 'sale' ORDER BY seq DESC LIMIT ?",
        (limit,),
    ):
        out.append((seq, kind, fair_id, at, body, prev, digest, json.loads(body)))
    con.close()
    return out


def _baseline_run(path: Path, rows: list[tuple], offset: int) -> float:
    con = sqlite3.connect(path, isolation_level=None, timeout=30)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("PRAGMA foreign_keys=ON")
    seq0 = con.execute("SELECT seq FROM journal_head").fetchone()[0]
    sale0 = con.execute("SELECT coalesce(max(id), 0) FROM sales").fetchone()[0]
    started = time.perf_counter()
    for n, (_seq, kind, fair_id, at, body_text, prev, digest, b) in enumerate(rows, 1):
        seq, sid = seq0 + n, sale0 + n
        con.execute("BEGIN IMMEDIATE")
        con.execute(
            "INSERT INTO journal_entries (seq, kind, fair_id, at, body, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (seq, kind, fair_id, at, body_text, prev, f"{offset:04d}{n:08d}{digest[12:]}"),
        )
        con.execute("UPDATE journal_head SET seq = ?, hash = ? WHERE id = 1", (seq, digest))
        con.execute(
            "INSERT INTO sales (id, kind, fair_id, session_id, user_id, refers_to, "
            "idempotency_key, fingerprint, rule_version_id, currency, total, at, seq) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                sid,
                kind,
                b["fair"],
                b["session"],
                b["user"],
                None,
                f"raw-{offset}-{n}",
                b["fingerprint"],
                b["rule"],
                b["currency"],
                b["total"],
                at,
                seq,
            ),
        )
        con.executemany(
            "INSERT INTO sale_lines (sale_id, line_no, producer_id, product_id, description, "
            "quantity, unit, unit_price, total, refers_line) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    sid,
                    ln["no"],
                    ln["producer"],
                    ln["product"],
                    ln["description"],
                    ln["quantity"],
                    ln["unit"],
                    ln["unit_price"],
                    ln["total"],
                    None,
                )
                for ln in b["lines"]
            ],
        )
        con.executemany(
            "INSERT INTO tenders (sale_id, tender_no, method, currency, amount, change, applied,"
            " rate, value, fee, in_drawer, reference, data) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    sid,
                    t["no"],
                    t["method"],
                    t["currency"],
                    t["amount"],
                    t["change"],
                    t["applied"],
                    t["rate"],
                    t["value"],
                    t["fee"],
                    t["in_drawer"],
                    t["reference"],
                    json.dumps(t["data"]),
                )
                for t in b["tenders"]
            ],
        )
        con.executemany(
            "INSERT INTO splits (sale_id, tender_no, producer_id, currency, gross, withheld, "
            "fee, net) VALUES (?,?,?,?,?,?,?,?)",
            [(sid, *s) for s in b["splits"]],
        )
        con.executemany(
            "INSERT INTO member_splits (sale_id, producer_id, member_id, currency, amount) "
            "VALUES (?,?,?,?,?)",
            [(sid, *m) for m in b["members"]],
        )
        con.execute("COMMIT")
    elapsed = time.perf_counter() - started
    con.close()
    return elapsed


def run() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        engine_db, raw_db = Path(tmp) / "engine.db", Path(tmp) / "raw.db"
        engine, pm, session_id, honey, scarf = _setup(engine_db)
        _engine_run(engine, pm, session_id, honey, scarf, offset=10_000_000)  # warm up
        rows = _rows_of(engine_db, N_SALES)
        raw_engine, *_ = _setup(raw_db)
        raw_engine.dispose()
        _baseline_run(raw_db, rows, offset=9999)  # warm up
        feria_t, base_t = [], []
        for r in range(RUNS):
            feria_t.append(_engine_run(engine, pm, session_id, honey, scarf, offset=r * N_SALES))
            base_t.append(_baseline_run(raw_db, rows, offset=r))
        engine.dispose()
    f, b = statistics.median(feria_t), statistics.median(base_t)
    return [
        {
            "name": "sale, 3 lines + 2 tenders + splits + journal (SQLite, synchronous=FULL)",
            "value": N_SALES / f,
            "unit": "sales/s",
            "baseline": N_SALES / b,
            "ratio": b / f,
            "note": f"median of {RUNS}×{N_SALES}; baseline: raw sqlite3 inserting the same rows, "
            "one transaction per sale; ratio = feria speed / baseline speed (goal ≥ 0.5)",
        },
        {
            "name": "sale latency (engine call, SQLite)",
            "value": f / N_SALES * 1000,
            "unit": "ms",
            "baseline": b / N_SALES * 1000,
            "ratio": f / b,
            "note": "mean per sale in the median run; ratio = feria time / baseline time",
        },
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
