"""The connection to a till's printer: network (raw TCP, port 9100), USB, serial or a
device file, through python-escpos; and the status checks that tell "out of paper" from
"offline" from "slow".

Settings (the till's ``printer`` dict), by connection:

* ``network``: ``host``, ``port`` (9100), ``timeout`` (seconds, 10).
* ``usb``: ``vendor_id`` and ``product_id`` (``"0x0416"`` or ints), ``in_ep`` (0x82),
  ``out_ep`` (0x01), ``timeout`` (milliseconds, 5000).
* ``serial``: ``device`` (``/dev/ttyUSB0``), ``baudrate`` (9600), ``timeout`` (seconds).
* ``file``: ``path`` of a device file (``/dev/usb/lp0``); it is opened for writing.

And for all: ``profile`` (``"80mm"`` / ``"58mm"``), ``drawer`` (kick the cash drawer for
cash sales, default true), ``logo`` (an image file printed on top), ``check_status``
(ask the printer for its paper status before and after printing; on by default for
network printers, which all answer it, off for the others).
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from escpos.escpos import Escpos
from escpos.exceptions import DeviceNotFoundError

from feria.printing import PrinterError, PrinterOffline, PrinterOutOfPaper, PrinterTimeout, PrintJob
from feria_escpos_printer.layout import escpos_profile, render
from feria_escpos_printer.paper import PaperProfile, load_profile

log = logging.getLogger("feria_escpos_printer")

CONNECTIONS = ("network", "usb", "serial", "file")

# DLE EOT 4: "transmit paper sensor status". Bits 5 and 6 set: the roll has run out.
PAPER_STATUS = b"\x10\x04\x04"
PAPER_OUT = 0x60
PAPER_LOW = 0x0C


class InvalidPrinterSettings(ValueError):
    """A till's printer settings are incomplete or name something unknown."""


def _int(value: Any) -> int:
    return int(value, 0) if isinstance(value, str) else int(value)


class EscposPrinter:
    """A :class:`feria.printing.ReceiptPrinter` for one till's ESC/POS printer."""

    name = "escpos"

    def __init__(self, settings: dict[str, Any], paper: PaperProfile | None = None) -> None:
        self.settings = dict(settings)
        self.connection = self.settings.get("connection", "network")
        if self.connection not in CONNECTIONS:
            raise InvalidPrinterSettings(
                f"printer connection {self.connection!r}: expected one of {', '.join(CONNECTIONS)}"
            )
        self.paper = paper or load_profile(self.settings)
        self.check_status = bool(self.settings.get("check_status", self.connection == "network"))
        self.status_timeout = float(self.settings.get("status_timeout", 3))

    def __repr__(self) -> str:
        return f"<EscposPrinter {self.connection} {self.where} {self.paper.name}>"

    @property
    def where(self) -> str:
        s = self.settings
        if self.connection == "network":
            return f"{s.get('host')}:{s.get('port', 9100)}"
        if self.connection == "usb":
            return f"usb {s.get('vendor_id')}:{s.get('product_id')}"
        return str(s.get("device") or s.get("path") or "")

    def render(self, job: PrintJob) -> bytes:
        return render(job, self.paper, self.settings)

    def print_job(self, job: PrintJob) -> None:
        data = self.render(job)  # laid out in full before the printer is touched
        device = self._open()
        try:
            if self.check_status:
                self._check_paper(device)
            self._send(device, data)
            if self.check_status:
                # Status commands are answered in order with the data before them, so this
                # also tells us the printer took the whole receipt.
                self._check_paper(device)
        finally:
            try:
                device.close()
            except Exception:  # closing a dead connection must not hide why it died
                log.debug("closing %s failed", self.where, exc_info=True)

    # -- connections

    def _device(self) -> Escpos:
        s, profile = self.settings, escpos_profile(self.paper)
        if self.connection == "network":
            from escpos.printer import Network

            if not s.get("host"):
                raise InvalidPrinterSettings("a network printer needs a host")
            return Network(
                host=s["host"],
                port=int(s.get("port", 9100)),
                timeout=float(s.get("timeout", 10)),
                profile=profile,
            )
        if self.connection == "usb":
            from escpos.printer import Usb

            if not s.get("vendor_id") or not s.get("product_id"):
                raise InvalidPrinterSettings("a USB printer needs vendor_id and product_id")
            return Usb(
                _int(s["vendor_id"]),
                _int(s["product_id"]),
                timeout=int(s.get("timeout", 5000)),
                in_ep=_int(s.get("in_ep", 0x82)),
                out_ep=_int(s.get("out_ep", 0x01)),
                profile=profile,
            )
        if self.connection == "serial":
            from escpos.printer import Serial

            if not s.get("device"):
                raise InvalidPrinterSettings("a serial printer needs a device, e.g. /dev/ttyUSB0")
            return Serial(
                devfile=s["device"],
                baudrate=int(s.get("baudrate", 9600)),
                timeout=float(s.get("timeout", 5)),
                profile=profile,
            )
        from escpos.printer import File

        if not s.get("path"):
            raise InvalidPrinterSettings("a file printer needs a path, e.g. /dev/usb/lp0")
        return File(devfile=s["path"], profile=profile)

    def _open(self) -> Escpos:
        device = self._device()
        try:
            device.open()
        except DeviceNotFoundError as exc:
            raise PrinterOffline(f"cannot reach the printer at {self.where}") from exc
        except TimeoutError as exc:
            raise PrinterOffline(f"the printer at {self.where} does not answer") from exc
        except Exception as exc:  # pyusb without libusb, pyserial's own errors, …
            raise PrinterOffline(f"cannot reach the printer at {self.where}: {exc}") from exc
        return device

    def _send(self, device: Escpos, data: bytes) -> None:
        try:
            device._raw(data)
        except PrinterError:
            raise
        except TimeoutError as exc:
            raise PrinterTimeout(f"the printer at {self.where} is not taking data") from exc
        except Exception as exc:
            if _is_timeout(exc):
                raise PrinterTimeout(f"the printer at {self.where} is not taking data") from exc
            raise PrinterOffline(f"the printer at {self.where} went away: {exc}") from exc

    def _check_paper(self, device: Escpos) -> None:
        try:
            sock = getattr(device, "device", None)
            if isinstance(sock, socket.socket):
                sock.settimeout(self.status_timeout)
            device._raw(PAPER_STATUS)
            answer = device._read()
            if isinstance(sock, socket.socket):
                sock.settimeout(float(self.settings.get("timeout", 10)))
        except TimeoutError as exc:
            raise PrinterTimeout(f"the printer at {self.where} does not answer") from exc
        except Exception as exc:
            if _is_timeout(exc):
                raise PrinterTimeout(f"the printer at {self.where} does not answer") from exc
            raise PrinterOffline(f"the printer at {self.where} went away: {exc}") from exc
        if not answer:
            raise PrinterOffline(f"the printer at {self.where} closed the connection")
        status = answer[0]
        if status & PAPER_OUT == PAPER_OUT:
            raise PrinterOutOfPaper(f"the printer at {self.where} is out of paper")
        if status & PAPER_LOW == PAPER_LOW:
            log.warning("the printer at %s is running out of paper", self.where)


def _is_timeout(exc: BaseException) -> bool:
    # pyusb and pyserial have their own timeout errors; their text says so.
    return "timed out" in str(exc).lower() or "timeout" in type(exc).__name__.lower()
