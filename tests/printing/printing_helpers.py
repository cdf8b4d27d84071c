"""Helpers shared by the printing tests (imported by name: pytest puts this folder on the
path)."""

from __future__ import annotations

import re
import time
from pathlib import Path

from sqlalchemy import update

from feria.cashbox.models import Till
from feria.db import write_session

HARDWARE_DIR = Path(__file__).resolve().parents[2] / "hardware"


def printer_settings(printer, **extra) -> dict:
    """A till's settings for a network printer at ``printer`` (a virtual one), with short
    timeouts so a test waits little on a printer that misbehaves on purpose."""
    return {
        "driver": "escpos",
        "connection": "network",
        "host": "127.0.0.1",
        "port": printer.port,
        "profile": "80mm",
        "timeout": 2,
        "status_timeout": 0.5,
        **extra,
    }


def set_printer(engine, till_id: int, settings: dict) -> None:
    with write_session(engine) as db:
        db.execute(update(Till).where(Till.id == till_id).values(printer=settings))


def wait_until(predicate, timeout: float = 15.0):
    """Poll ``predicate`` until it returns something true, and return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def sale_number(receipt) -> int:
    """The sale number printed on a receipt."""
    return int(re.search(r"N° (\d+)", receipt.text).group(1))
