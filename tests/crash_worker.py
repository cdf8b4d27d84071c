"""A till in a separate process, for the crash and concurrency tests.

It records sales ``start`` … ``start + count - 1`` in one cash session, each with the
idempotency key ``{prefix}-{i:05d}`` and a content that depends only on ``i``, so running
it again (after it was killed, or from another process at the same time) resends exactly the
same sales. After each sale it prints ``i sale_id seq replayed`` and flushes: a printed line
is a sale the till saw confirmed.

    python crash_worker.py URL SESSION_ID [--prefix crash] [--start 0] [--count 1000]
                           [--wait] [--die-after N]

It prints ``ready`` once started; with ``--wait`` it then waits for a line on stdin before
recording, so the test can start several workers at the same moment. With ``--die-after N``
it kills itself (SIGKILL) right after the N-th sale is committed and before printing it: the
till crashed after the sale was recorded but before it saw the confirmation.

Only the cash plugin is loaded, whatever else is installed: the till needs nothing more.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

CASH_TENDERED = 100_000  # more than any sale below: every sale gives change
HONEY_BARCODE = "7800000000016"
SCARF_BARCODE = "7800000000023"


def lines_for(i: int):
    """The lines of sale ``i``: always the same for the same ``i``."""
    from feria.cashbox.sales import LineRequest

    if i % 3 == 0:
        grams = 500 + i % 1000
        return [
            LineRequest(barcode=HONEY_BARCODE, quantity=f"{grams // 1000}.{grams % 1000:03d}"),
            LineRequest(producer_code="P07", amount=1000 + i),
        ]
    if i % 3 == 1:
        return [
            LineRequest(barcode=SCARF_BARCODE),
            LineRequest(sku="TOM-G", quantity=str(1 + i % 500)),
        ]
    return [LineRequest(producer_code="P01", amount=100 + (i * 7) % 10_000)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("session", type=int)
    parser.add_argument("--prefix", default="crash")
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--wait", action="store_true")
    parser.add_argument("--die-after", type=int, default=None)
    args = parser.parse_args(argv)

    import feria_cash

    from feria.cashbox.sales import TenderRequest, record_sale
    from feria.db import make_engine
    from feria.plugins import get_plugin_manager

    engine = make_engine(args.url)
    pm = get_plugin_manager(load_entry_points=False, extra=[feria_cash])
    tenders = [TenderRequest("cash", CASH_TENDERED)]
    print("ready", flush=True)
    if args.wait:
        sys.stdin.readline()
    for n, i in enumerate(range(args.start, args.start + args.count), start=1):
        sale = record_sale(
            engine,
            pm,
            key=f"{args.prefix}-{i:05d}",
            session_id=args.session,
            lines=lines_for(i),
            tenders=tenders,
        )
        if n == args.die_after:
            os.kill(os.getpid(), signal.SIGKILL)
        print(i, sale.id, sale.seq, int(sale.replayed), flush=True)
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
