"""Talking to the printer: a network printer gets the receipt over a real socket; one that
is unplugged, out of paper or jammed is told apart, so the till can say which; USB,
serial and device-file printers go through python-escpos too."""

from __future__ import annotations

import pytest
from escpos_samples import URL, sample_receipt
from feria_escpos_printer import EscposPrinter, InvalidPrinterSettings

from feria.printing import PrinterOffline, PrinterOutOfPaper, PrinterTimeout, PrintJob


def network(printer, **extra) -> EscposPrinter:
    settings = {
        "driver": "escpos",
        "connection": "network",
        "host": "127.0.0.1",
        "port": printer.port,
        "profile": "80mm",
        "timeout": 2,
        "status_timeout": 0.5,
        **extra,
    }
    return EscposPrinter(settings)


JOB = PrintJob("receipt", sample_receipt(), open_drawer=True)


def test_a_network_printer_prints_the_receipt_and_kicks_the_drawer(virtual_printer):
    network(virtual_printer).print_job(JOB)

    (receipt,) = virtual_printer.wait_for(1)
    assert "Comprobante N° 42" in receipt.text
    assert receipt.qr_codes == [URL]
    assert receipt.drawer_kicks == 1
    assert virtual_printer.connections == 1


def test_an_unplugged_printer_is_reported_offline(virtual_printer):
    virtual_printer.mode = "offline"
    with pytest.raises(PrinterOffline, match="127.0.0.1"):
        network(virtual_printer).print_job(JOB)


def test_an_empty_roll_is_reported_and_nothing_is_sent(virtual_printer):
    virtual_printer.mode = "out_of_paper"
    with pytest.raises(PrinterOutOfPaper):
        network(virtual_printer).print_job(JOB)
    virtual_printer.mode = "online"
    network(virtual_printer).print_job(PrintJob("receipt", sample_receipt()))
    (receipt,) = virtual_printer.wait_for(1)
    assert receipt.drawer_kicks == 0, "the refused job's bytes were never sent"


def test_a_printer_that_does_not_answer_is_reported_slow(virtual_printer):
    virtual_printer.mode = "slow"
    with pytest.raises(PrinterTimeout):
        network(virtual_printer).print_job(JOB)
    virtual_printer.mode = "online"
    assert virtual_printer.printed == 0


def test_without_status_checks_a_printer_that_never_answers_still_gets_the_bytes(
    virtual_printer,
):
    network(virtual_printer, check_status=False).print_job(JOB)
    assert virtual_printer.wait_for(1)[0].drawer_kicks == 1


def test_a_device_file_printer_gets_exactly_the_rendered_bytes(tmp_path):
    device = tmp_path / "lp0"
    device.touch()
    printer = EscposPrinter({"connection": "file", "path": str(device), "profile": "58mm"})

    printer.print_job(JOB)

    assert device.read_bytes() == printer.render(JOB)


def test_a_missing_serial_port_or_usb_printer_is_reported_offline(tmp_path):
    serial = EscposPrinter({"connection": "serial", "device": str(tmp_path / "ttyUSB9")})
    with pytest.raises(PrinterOffline, match="ttyUSB9"):
        serial.print_job(JOB)
    usb = EscposPrinter({"connection": "usb", "vendor_id": "0x0416", "product_id": "0x5011"})
    with pytest.raises(PrinterOffline, match="0x0416"):
        usb.print_job(JOB)


def test_incomplete_settings_are_refused_saying_what_is_missing():
    with pytest.raises(InvalidPrinterSettings, match="host"):
        EscposPrinter({"connection": "network"}).print_job(JOB)
    with pytest.raises(InvalidPrinterSettings, match="bluetooth"):
        EscposPrinter({"connection": "bluetooth"})
