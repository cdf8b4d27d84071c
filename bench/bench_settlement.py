"""Settling a fair of 1,000,000 sale lines across 500 producers, on SQLite.

The database is :mod:`bench.data`'s fair (500 producers, every tenth a cooperative of two
members) with 250,000 sales of 4 lines each: 1,000,000 ``sale_lines`` from 1 to 4
producers per sale, each sale paid with two cash tenders (the second giving change), so
about a million ``splits``, 500,000 ``tenders`` and ~100,000 ``member_splits``. The rows
are written straight into the derived tables with ``sqlite3`` (no journal entries: a
settlement reads the journal's head only), built once per run in a temporary folder.

Timed: :func:`feria.settlement.settle` for the fair in a fresh read session, which runs its
``GROUP BY`` queries (splits by producer, currency and rule; member splits; the tenders
collected; payouts; participants) and builds and checks the whole settlement of 500
producers. Median of 3 after one warm-up, interleaved with the baseline: the plain
``SELECT producer_id, currency, sum(gross), sum(withheld), sum(fee), sum(net) FROM splits
GROUP BY producer_id, currency`` over the same rows with raw ``sqlite3``. The data is in
the OS page cache for both (it was just written).
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from bench import data

SALES = 250_000
LINES_PER_SALE = 4
PRODUCERS = 500
RUNS = 3
GOAL_S = 2.0

BASELINE_SQL = (
    "SELECT producer_id, currency, sum(gross), sum(withheld), sum(fee), sum(net) "
    "FROM splits GROUP BY producer_id, currency"
)
# Without statistics SQLite may walk ``ix_splits_producer_id`` for the query above (to save
# a sort) and fetch every row through it; the second baseline is the scan and the sort.
SCAN_SQL = BASELINE_SQL.replace("FROM splits", "FROM splits NOT INDEXED")


def _settle(engine, fair_id: int) -> tuple[float, float, object]:
    from feria.db import read_session
    from feria.settlement import settle

    wall, cpu = time.perf_counter(), time.process_time()
    with read_session(engine) as db:
        result = settle(db, fair_id)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def _group_by(path: Path, sql: str) -> tuple[float, float, list]:
    con = sqlite3.connect(path)
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        rows = con.execute(sql).fetchall()
        return time.perf_counter() - wall, time.process_time() - cpu, rows
    finally:
        con.close()


def _plan(path: Path, sql: str) -> str:
    con = sqlite3.connect(path)
    try:
        return "; ".join(row[3] for row in con.execute("EXPLAIN QUERY PLAN " + sql))
    finally:
        con.close()


def run() -> list[dict]:
    from feria.db import make_engine

    with tempfile.TemporaryDirectory(prefix="feria-bench-settle-") as tmp:
        path = Path(tmp) / "settle.db"
        fair = data.fresh_fair(path, producers=PRODUCERS)
        started = time.perf_counter()
        written = data.add_sales(fair, SALES, lines=LINES_PER_SALE, journal=False)
        generated = time.perf_counter() - started
        engine = make_engine(fair.url)
        try:
            _, _, warm = _settle(engine, fair.fair_id)  # warm-up: compiled queries, cache
            _group_by(path, BASELINE_SQL)
            load = os.getloadavg()[0]
            plan = _plan(path, BASELINE_SQL)
            feria_t, feria_cpu, base_t, base_cpu, scan_t = [], [], [], [], []
            for _ in range(RUNS):
                wall, cpu, result = _settle(engine, fair.fair_id)
                feria_t.append(wall)
                feria_cpu.append(cpu)
                wall, cpu, groups = _group_by(path, BASELINE_SQL)
                base_t.append(wall)
                base_cpu.append(cpu)
                scan_t.append(_group_by(path, SCAN_SQL)[0])
        finally:
            engine.dispose()
    if not result.balanced or result.to_json() != warm.to_json():
        raise RuntimeError("the generated fair does not settle to the same balanced figures")
    settled_net = sum(p.net.amount for p in result.producers)
    if settled_net != sum(g[5] for g in groups):
        raise RuntimeError("settle and the plain GROUP BY disagree on the net owed")
    value, baseline = statistics.median(feria_t), statistics.median(base_t)
    scan = statistics.median(scan_t)
    cpu, base_cpu_s = statistics.median(feria_cpu), statistics.median(base_cpu)
    return [
        {
            "name": (
                f"settle: {written.lines:,} lines, {written.splits:,} splits, "
                f"{PRODUCERS} producers (SQLite)"
            ),
            "value": round(value, 3),
            "unit": "s",
            "baseline": round(baseline, 3),
            "ratio": round(value / baseline, 2) if baseline else None,
            "note": (
                f"median of {RUNS} after a warm-up (CPU {cpu:.2f} s; baseline CPU "
                f"{base_cpu_s:.2f} s; load average {load:.1f}); "
                f"{written.sales:,} sales × {LINES_PER_SALE} lines, "
                "2 cash tenders each, every 10th producer a cooperative of 2 members; "
                "generated with sqlite3 in "
                f"{generated:.0f} s. Goal < {GOAL_S:g} s: "
                f"{'met' if value < GOAL_S else 'NOT met'}. Baseline: raw sqlite3 "
                "SELECT producer_id, currency, sum(gross), sum(withheld), sum(fee), sum(net) "
                f"FROM splits GROUP BY producer_id, currency (SQLite's plan: {plan}); "
                "ratio = feria time / baseline time"
            ),
        },
        {
            "name": "settle vs the same GROUP BY as a full scan (FROM splits NOT INDEXED)",
            "value": round(value, 3),
            "unit": "s",
            "baseline": round(scan, 3),
            "ratio": round(value / scan, 2) if scan else None,
            "note": (
                f"same runs (median of {RUNS}); the plain GROUP BY above forced to a full scan "
                "and a sort; "
                "settle also joins the sales, groups the member splits and sums the tenders "
                "collected; ratio = feria time / baseline time"
            ),
        },
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
