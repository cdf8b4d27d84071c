"""``feria printer``: a test page, a reprint, the status, and the virtual printer, from the
command line. Every test that touches a database runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from printing_helpers import sale_number, wait_until

from feria.cli import main


def feria(database_url: str, *args: str):
    return CliRunner().invoke(
        main,
        ["--database", database_url, "printer", *args],
        env={"FERIA_BASE_URL": "https://f.example"},
    )


def test_printer_test_prints_a_test_page_at_the_till(database_url, printing_till, virtual_printer):
    result = feria(database_url, "test", "T1")

    assert result.exit_code == 0, result.output
    assert "printed" in result.output
    (page,) = virtual_printer.wait_for(1)
    assert "PÁGINA DE PRUEBA" in page.text
    assert "ñ á é í ó ú ü ç ã õ" in page.text


def test_printer_reprint_prints_a_copy_of_the_sale(
    database_url, printing_till, virtual_printer, sell
):
    sale = sell([{"sku": "BUF", "quantity": 1}], [{"method": "cash", "amount": 12_990}])

    result = feria(database_url, "reprint", str(sale.id))

    assert result.exit_code == 0, result.output
    (copy,) = virtual_printer.wait_for(1)
    assert "COPIA" in copy.text and sale_number(copy) == sale.id
    assert copy.qr_codes == [f"https://f.example/verify/{sale.id}"]
    assert copy.drawer_kicks == 0


def test_with_the_printer_down_the_job_waits_and_the_status_says_why(
    database_url, printing_till, virtual_printer
):
    virtual_printer.mode = "offline"

    result = feria(database_url, "test", "T1", "--wait", "0.5")

    assert result.exit_code == 0, result.output
    assert "is pending: cannot reach the printer at 127.0.0.1" in result.output
    status = json.loads(feria(database_url, "status", "T1").output)
    assert (status["state"], status["pending"], status["warning"]) == ("offline", 1, True)


def test_an_unknown_till_or_sale_is_a_one_line_error(database_url, fair):
    result = feria(database_url, "test", "T7")
    assert result.exit_code == 1
    assert result.output.strip() == "error: there is no till 'T7'"
    result = feria(database_url, "reprint", "999")
    assert result.exit_code == 1
    assert "there is no sale number 999" in result.output


def test_printer_virtual_runs_the_virtual_printer_and_echoes_receipts():
    feria_bin = Path(sys.executable).parent / "feria"
    proc = subprocess.Popen(
        [str(feria_bin), "printer", "virtual", "--port", "0", "--paper", "58mm"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = proc.stderr.readline()
        assert "virtual printer (58mm) listening on 127.0.0.1:" in banner
        port = int(banner.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"\x1b@\x1bt\x02" + "Feria de Ñuñoa".encode("cp850") + b"\n\x1dV\x01")
        assert wait_until(lambda: proc.stdout.readline(), timeout=10) == "Feria de Ñuñoa\n"
    finally:
        proc.terminate()
        proc.wait(5)
