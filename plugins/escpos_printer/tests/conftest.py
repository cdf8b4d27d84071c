"""The plugin's tests render real python-escpos bytes and read them back with feria's
virtual printer (``hardware/feria_virtual_printer`` in a feria checkout)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HARDWARE = Path(__file__).resolve().parents[3] / "hardware"
if (HARDWARE / "feria_virtual_printer").is_dir() and str(HARDWARE) not in sys.path:
    sys.path.insert(0, str(HARDWARE))


@pytest.fixture
def virtual_printer():
    vp = pytest.importorskip("feria_virtual_printer")
    with vp.VirtualPrinter("127.0.0.1", 0, paper="80mm", slow_delay=5.0) as printer:
        yield printer


@pytest.fixture
def read_back():
    """``read_back(data, paper)`` → the receipts a printer would print from ``data``."""
    vp = pytest.importorskip("feria_virtual_printer")
    return vp.read_stream
