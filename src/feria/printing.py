"""The receipt-printer contract. A printer plugin answers ``feria_receipt_printer`` for
the tills it serves with an object following :class:`ReceiptPrinter`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class PrintJob:
    """Something to print: a receipt, a report or a slip, as structured data.

    The printer plugin lays it out for its paper; the core never produces printer bytes.
    ``copy`` marks a reprint, which a receipt must say it is.
    """

    kind: str  # receipt | x_report | z_report | settlement_slip
    payload: dict[str, Any]
    copy: bool = False
    open_drawer: bool = False
    meta: dict[str, Any] = field(default_factory=dict)


class ReceiptPrinter(Protocol):
    name: str

    def print_job(self, job: PrintJob) -> None:
        """Print ``job`` or raise an exception saying why not (the job is retried)."""
