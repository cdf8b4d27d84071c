"""ESC/POS thermal receipt printers for feria's caja común, built on python-escpos.

A till prints through this plugin when its printer settings say ``"driver": "escpos"``::

    {"driver": "escpos", "connection": "network", "host": "192.168.1.50", "port": 9100,
     "profile": "80mm"}

(see :mod:`feria_escpos_printer.printer` for every connection's settings). The plugin lays
out receipts, X- and Z-reports, settlement slips and a test page
(:mod:`feria_escpos_printer.layout`) on 58 mm or 80 mm paper, kicks the cash drawer when
cash changed hands, and tells feria's spooler whether the printer is offline, out of paper
or slow, so the POS can warn the cashier.
"""

from __future__ import annotations

from feria import hookimpl
from feria_escpos_printer.printer import EscposPrinter, InvalidPrinterSettings

__all__ = ["EscposPrinter", "InvalidPrinterSettings", "feria_receipt_printer"]

FERIA_HOOKSPEC_VERSION = 1


@hookimpl
def feria_receipt_printer(till, settings):
    if (settings or {}).get("driver") != "escpos":
        return None
    return EscposPrinter(settings)
