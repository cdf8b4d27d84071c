"""How much :func:`feria.money.allocate` costs over the bare integer arithmetic it is built on.

Every sale is split among its producers with ``allocate``, so the cashbox calls it once per
tender and again per cooperative. This benchmark splits 1,000,000 totals over 10 weights
with ``allocate`` and, in the same run, with a plain loop doing the same integer arithmetic
inlined, and reports the medians of 3 runs of each and their ratio.

Importing this module does nothing; ``run()`` measures. ``python bench/bench_money.py``
prints the rows.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from collections.abc import Callable, Sequence

from feria.money import allocate

TOTALS = 1_000_000
WEIGHTS = (3, 1, 4, 1, 5, 9, 2, 6, 5, 3)  # ten producers' line totals, say
RUNS = 3


def _totals(n: int) -> list[int]:
    rng = random.Random(20240601)  # the same totals every run, on every machine
    return [rng.randrange(1, 10_000_000) for _ in range(n)]


def _with_allocate(totals: Sequence[int], weights: Sequence[int]) -> None:
    for total in totals:
        allocate(total, weights)


def _baseline(totals: Sequence[int], weights: Sequence[int]) -> None:
    # What allocate does before it hands out the leftover units: sum the weights, then
    # floor each exact share. No checks, no remainders, no distribution of leftovers.
    for total in totals:
        wsum = 0
        for w in weights:
            wsum += w
        [total * w // wsum for w in weights]


def _seconds(fn: Callable[[Sequence[int], Sequence[int]], None], totals, weights) -> float:
    enabled = gc.isenabled()
    gc.disable()  # as timeit does: a collection landing in one run only would skew it
    try:
        start = time.perf_counter()
        fn(totals, weights)
        return time.perf_counter() - start
    finally:
        if enabled:
            gc.enable()


def run(totals: int = TOTALS, runs: int = RUNS) -> list[dict]:
    """Median seconds of ``runs`` runs of each way to split ``totals`` totals over 10 weights."""
    amounts = _totals(totals)
    weights = list(WEIGHTS)
    feria_times: list[float] = []
    baseline_times: list[float] = []
    for _ in range(runs):  # interleaved, so a slow patch of the machine hits both alike
        feria_times.append(_seconds(_with_allocate, amounts, weights))
        baseline_times.append(_seconds(_baseline, amounts, weights))
    value = statistics.median(feria_times)
    baseline = statistics.median(baseline_times)
    return [
        {
            "name": f"money.allocate: {totals:,} totals over {len(weights)} weights",
            "value": round(value, 4),
            "unit": "s",
            "baseline": round(baseline, 4),
            "ratio": round(value / baseline, 2) if baseline else None,
            "note": (
                f"median of {runs} runs each, interleaved; {value / totals * 1e6:.2f} µs per "
                "allocation. Baseline: a plain loop doing the same integer arithmetic inlined "
                "(sum the weights, floor each share) but floor shares only: no type or sign "
                "checks and no distribution of the remainder, so it does not sum to the total"
            ),
        }
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
