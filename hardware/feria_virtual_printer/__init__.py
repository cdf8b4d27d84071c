"""A virtual ESC/POS network printer for feria: tests, the demo and developers without a
printer see exactly what a real one would print.

    from feria_virtual_printer import VirtualPrinter

    with VirtualPrinter(port=0, paper="58mm") as printer:
        ...  # send ESC/POS bytes to 127.0.0.1:printer.port
        receipt = printer.wait_for(1)[-1]
        receipt.text, receipt.png, receipt.qr_codes, receipt.drawer_kicks

Run it on its own with ``python -m feria_virtual_printer`` (from the ``hardware`` folder, or
with it on ``PYTHONPATH``) or ``feria printer virtual``.
"""

from feria_virtual_printer.escpos import Interpreter, Page
from feria_virtual_printer.render import Receipt, decode_qr, render_page
from feria_virtual_printer.server import MODES, VirtualPrinter, paper_dots

__all__ = [
    "MODES",
    "Interpreter",
    "Page",
    "Receipt",
    "VirtualPrinter",
    "decode_qr",
    "paper_dots",
    "read_stream",
    "render_page",
]


def read_stream(data: bytes, paper: str | int = "80mm") -> list[Receipt]:
    """Render an ESC/POS byte stream without a socket: one :class:`Receipt` per cut."""
    dots = paper_dots(paper)
    interpreter = Interpreter(dots)
    interpreter.feed(data)
    return [render_page(page, dots, i + 1) for i, page in enumerate(interpreter.finish())]
