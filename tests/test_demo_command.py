"""`make demo` runs `feria demo`: it must set up and serve the demo fair, twice in a row."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

FERIA = str(Path(sys.executable).parent / "feria")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_feria_demo_loads_twice_without_duplicating(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    first = subprocess.run(
        [FERIA, "--database", url, "demo", "--no-serve"], capture_output=True, text=True
    )
    again = subprocess.run(
        [FERIA, "--database", url, "demo", "--no-serve"], capture_output=True, text=True
    )
    assert first.returncode == 0, first.stderr
    assert again.returncode == 0, again.stderr
    assert first.stdout.splitlines()[-1] == again.stdout.splitlines()[-1]
    assert "ready: 8 sales" in again.stdout


@pytest.mark.slow
def test_feria_demo_serves_the_fair_with_its_logins(tmp_path):
    port, printer_port = _free_port(), _free_port()
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    proc = subprocess.Popen(
        [
            FERIA,
            "--database",
            url,
            "demo",
            "--port",
            str(port),
            "--printer-port",
            str(printer_port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        page = None
        while time.monotonic() < deadline and page is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    page = r.read().decode()
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"feria demo exited: {proc.stdout.read()}")
                time.sleep(0.3)
        assert page is not None, "the demo did not answer within 60 s"
        assert "Feria Navideña de la Economía Solidaria" in page
        for username in ("organizadora", "cajera", "productor"):
            assert username in page
    finally:
        proc.terminate()
        proc.wait(timeout=20)
