"""The receipt-printer contract. A printer plugin answers ``feria_receipt_printer`` for
the tills it serves with an object following :class:`ReceiptPrinter`.

The core never produces printer bytes: it hands the plugin a :class:`PrintJob` of plain
data (built by :mod:`feria.receipts`), and the plugin lays it out for its paper. Printing
happens off the sale's path, in a spooler thread that retries: a printer that cannot print
now raises one of the :class:`PrinterError` kinds below, the job is kept, and the till's
printer status says why (so the POS can warn the cashier).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

JOB_KINDS = ("receipt", "x_report", "z_report", "settlement_slip", "test_page")


@dataclass(frozen=True, slots=True)
class PrintJob:
    """Something to print: a receipt, a report or a slip, as structured data.

    The printer plugin lays it out for its paper; the core never produces printer bytes.
    ``copy`` marks a reprint, which a receipt must say it is. ``open_drawer`` is set when
    cash changed hands (a cash tender, or cash paid back), and never on a reprint.

    ``payload`` is JSON-shaped (amounts are ints of minor units beside their currency
    code); its keys per ``kind`` are documented in :mod:`feria.receipts`. A receipt's
    payload carries ``verify_url``, the sale's public verification page, when the app
    knows its own address.
    """

    kind: str  # receipt | x_report | z_report | settlement_slip | test_page
    payload: dict[str, Any]
    copy: bool = False
    open_drawer: bool = False
    meta: dict[str, Any] = field(default_factory=dict)


class ReceiptPrinter(Protocol):
    name: str

    def print_job(self, job: PrintJob) -> None:
        """Print ``job`` or raise an exception saying why not (the job is retried).

        Raise a :class:`PrinterError` kind when the printer cannot print *now* (the job is
        retried until it can); any other exception is a fault of the job or of the
        settings, retried a few times and then marked failed.
        """


class PrinterError(Exception):
    """The printer cannot print now; the job stays queued and is retried.

    ``state`` is what the till's printer status shows the cashier.
    """

    state = "error"


class PrinterOffline(PrinterError):
    """Nobody answers: unplugged, switched off, wrong address."""

    state = "offline"


class PrinterOutOfPaper(PrinterError):
    """The printer says its paper roll has run out (or its cover is open)."""

    state = "out_of_paper"


class PrinterTimeout(PrinterError):
    """The printer answered too slowly (jammed, busy, or a very slow link)."""

    state = "slow"
