"""The virtual printer reads ESC/POS as a printer would: text in the code page chosen,
wrapped at the paper's edge; pictures in each of python-escpos's three encodings, with
their QR codes decoded; status queries answered in order; and it misbehaves on request."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest
from escpos.printer import Dummy
from feria_virtual_printer import VirtualPrinter, read_stream
from printing_helpers import wait_until

URL = "https://feria.example.org/verify/7"


def escpos() -> Dummy:
    from escpos.capabilities import Profile

    profile = Profile(columns=48)
    profile.profile_data = {
        **Profile.profile_data,
        "media": {"dpi": 203, "width": {"mm": 80, "pixels": 576}},
    }
    profile.features = dict(Profile.profile_data["features"])
    return Dummy(profile=profile)


@pytest.mark.parametrize("impl", ["bitImageRaster", "graphics", "bitImageColumn"])
def test_a_qr_code_printed_as_a_picture_is_decoded_in_every_image_encoding(impl):
    p = escpos()
    p.textln("antes")
    p.qr(URL, size=4, image_arguments={"impl": impl})
    p.textln("después")
    p.cut()

    (receipt,) = read_stream(p.output)

    assert receipt.qr_codes == [URL]
    assert receipt.lines[0] == "antes"
    assert "despu" in receipt.text


def test_a_native_qr_code_is_read_from_the_command_and_drawn_so_that_it_scans():
    p = escpos()
    p.qr(URL, size=5, native=True)
    p.cut()

    (receipt,) = read_stream(p.output)

    assert receipt.qr_codes == [URL]
    assert receipt.image().height > 100


def test_text_reads_in_the_code_page_the_printer_was_told_to_use():
    data = b"\x1b@\x1bt\x02" + "ñandú ação".encode("cp850") + b"\n"
    data += b"\x1bt\x00" + "ñandú".encode("cp437") + b"\n" + b"\xc6\n"
    (receipt,) = read_stream(data)
    assert receipt.lines == ["ñandú ação", "ñandú", "╞"]
    assert receipt.code_pages == [2, 0]


def test_text_wider_than_the_paper_wraps_at_its_edge():
    (narrow,) = read_stream(b"x" * 40 + b"\n", "58mm")
    (wide,) = read_stream(b"x" * 40 + b"\n", "80mm")
    assert narrow.lines == ["x" * 32, "x" * 8]
    assert wide.lines == ["x" * 40]
    (double,) = read_stream(b"\x1d!\x10" + b"y" * 20 + b"\n", "58mm")
    assert double.lines == ["y" * 16, "y" * 4], "double width: half as many characters"


def test_each_cut_ends_a_receipt_and_drawer_kicks_are_counted():
    data = b"uno\n\x1bp\x00\x19\xfa\x1dV\x01dos\n\x1dVA\x03tres\n"
    first, second, third = read_stream(data)
    assert (first.text, first.drawer_kicks, first.cut) == ("uno\n", 1, True)
    assert (second.text, second.drawer_kicks, second.cut) == ("dos\n", 0, True)
    assert (third.text, third.cut) == ("tres\n", False)


def status(port: int, query: bytes = b"\x10\x04\x04") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(query)
        return s.recv(16)


def test_status_queries_say_whether_there_is_paper(virtual_printer):
    assert status(virtual_printer.port) == b"\x12"
    virtual_printer.mode = "out_of_paper"
    assert status(virtual_printer.port) == b"\x72"
    assert status(virtual_printer.port, b"\x10\x04\x01")[0] & 0x08, "offline bit set"


def test_offline_refuses_connections_and_online_listens_again_on_the_same_port(
    virtual_printer,
):
    port = virtual_printer.port
    virtual_printer.mode = "offline"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1)
    virtual_printer.mode = "online"
    assert virtual_printer.port == port
    assert status(port) == b"\x12"


def test_a_slow_printer_keeps_quiet(virtual_printer):
    virtual_printer.mode = "slow"
    with socket.create_connection(("127.0.0.1", virtual_printer.port), timeout=0.3) as s:
        s.sendall(b"\x10\x04\x04")
        with pytest.raises(TimeoutError):
            s.recv(16)


def test_it_keeps_the_last_receipts_and_saves_them_as_text_and_png(tmp_path):
    with VirtualPrinter(port=0, keep=2, save_dir=tmp_path) as printer:
        for n in range(3):
            with socket.create_connection(("127.0.0.1", printer.port)) as s:
                s.sendall(f"recibo {n}\n".encode() + b"\x1dV\x01")
        printer.wait_for(3)
        assert [r.text for r in printer.receipts] == ["recibo 1\n", "recibo 2\n"]
    assert (tmp_path / "receipt-00003.txt").read_text(encoding="utf-8") == "recibo 2\n"
    assert (tmp_path / "receipt-00003.png").read_bytes().startswith(b"\x89PNG")


def test_it_runs_as_python_m_and_echoes_what_it_prints():
    from printing_helpers import HARDWARE_DIR

    proc = subprocess.Popen(
        [sys.executable, "-m", "feria_virtual_printer", "--port", "0"],
        cwd=HARDWARE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = proc.stderr.readline()
        assert "listening on 127.0.0.1:" in banner
        port = int(banner.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"\x1b@\x1bt\x02" + "Hola, señora".encode("cp850") + b"\n\x1dV\x01")
        line = wait_until(lambda: proc.stdout.readline(), timeout=10)
        assert line == "Hola, señora\n"
    finally:
        proc.terminate()
        proc.wait(5)
    time.sleep(0)
