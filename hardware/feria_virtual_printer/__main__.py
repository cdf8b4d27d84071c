"""``python -m feria_virtual_printer``: run the virtual printer until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import sys

from feria_virtual_printer.server import VirtualPrinter


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m feria_virtual_printer",
        description="A virtual ESC/POS network thermal printer: prints to text and PNG.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=9100, help="TCP port (default 9100)")
    parser.add_argument("--paper", default="80mm", help="paper profile: 80mm or 58mm")
    parser.add_argument("--keep", type=int, default=50, help="receipts kept in memory")
    parser.add_argument("--save", metavar="DIR", help="also write each receipt's .txt and .png")
    parser.add_argument("--quiet", action="store_true", help="do not echo receipts")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    printer = VirtualPrinter(
        args.host, args.port, paper=args.paper, keep=args.keep, save_dir=args.save
    )
    if not args.quiet:
        printer.on_receipt = lambda receipt: print(receipt.text, "-" * 20, sep="\n", flush=True)
    try:
        printer.start()
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(
        f"virtual printer ({args.paper}) listening on {args.host}:{printer.port}",
        file=sys.stderr,
        flush=True,
    )
    printer.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
