"""Fixtures for printing: a virtual network printer on a free port, a till that prints to
it, and a spooler with short retry delays.

The bytes are real: python-escpos writes them, a real TCP socket carries them, and the
virtual printer (``hardware/feria_virtual_printer``) reads them as a printer would.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The virtual printer lives in hardware/, beside src/: a developer's tool, not installed.
HARDWARE = Path(__file__).resolve().parents[2] / "hardware"
if str(HARDWARE) not in sys.path:
    sys.path.insert(0, str(HARDWARE))

from feria_virtual_printer import VirtualPrinter  # noqa: E402
from printing_helpers import printer_settings, set_printer  # noqa: E402


@pytest.fixture
def virtual_printer():
    """An 80 mm virtual printer on 127.0.0.1 and a free port."""
    with VirtualPrinter("127.0.0.1", 0, paper="80mm", slow_delay=5.0) as printer:
        yield printer


@pytest.fixture
def printing_till(engine, fair, virtual_printer):
    """The fair's till, printing to the virtual printer."""
    set_printer(engine, fair.till_id, printer_settings(virtual_printer))
    return fair.till_id


@pytest.fixture
def spooler(engine, pm):
    """A running spooler that retries every few hundredths of a second."""
    from feria.receipts import start_spooler

    running = start_spooler(
        engine,
        pm,
        "https://feria.example.org",
        poll_interval=0.1,
        backoff_base=0.05,
        backoff_max=0.2,
    )
    yield running
    running.stop()
