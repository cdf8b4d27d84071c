"""Run feria's benchmarks and print one table of figures with the ratios to baselines
measured in the same run; the table is also written to ``bench/RESULTS.md``.

    python -m bench              # every bench/bench_*.py
    python -m bench engine csv   # only bench_engine.py and bench_csv.py

Each module has ``run() -> list[dict]`` with keys ``name``, ``value``, ``unit``,
``baseline``, ``ratio`` and ``note``. Medians, because these machines are noisy.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.0f}"
    return "" if v is None else str(v)


def machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores {cpu}, "
        f"Python {platform.python_version()}"
    )


def main(argv: list[str]) -> int:
    wanted = set(argv)
    modules = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if wanted:
        modules = [m for m in modules if m.removeprefix("bench_") in wanted]
    rows: list[dict] = []
    for name in modules:
        print(f"running {name} …", file=sys.stderr, flush=True)
        started = time.perf_counter()
        mod = importlib.import_module(f"bench.{name}")
        for row in mod.run():
            row.setdefault("module", name.removeprefix("bench_"))
            rows.append(row)
        print(f"  {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    header = ["benchmark", "value", "unit", "baseline", "ratio", "note"]
    table = [header, ["---"] * len(header)]
    for r in rows:
        table.append(
            [
                f"{r['module']}: {r['name']}",
                _fmt(r.get("value")),
                r.get("unit", ""),
                _fmt(r.get("baseline")),
                _fmt(r.get("ratio")),
                r.get("note", ""),
            ]
        )
    text = "\n".join("| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in table)
    print(text)
    if not wanted:
        stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
        (HERE / "RESULTS.md").write_text(
            f"# Benchmark results\n\nMeasured {stamp} on {machine()} with `make bench`.\n"
            "Values are medians; a ratio compares feria with the baseline measured in the "
            "same run (see each note for which way round).\n\n" + text + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
