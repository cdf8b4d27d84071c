"""A virtual network thermal printer: it listens on a TCP port (9100, like a real one),
reads the ESC/POS bytes sent to it, and keeps the last receipts it "printed", rendered as
text and PNG with their QR codes decoded.

It can be told to misbehave, as printers do at a fair:

* ``offline`` — it stops listening: connections are refused, as with a printer unplugged;
* ``out_of_paper`` — it answers status queries with "paper end" and prints nothing;
* ``slow`` — it accepts connections but reads nothing for ``slow_delay`` seconds, like a
  jammed printer, so a sender waiting for an answer times out.

``mode = "online"`` brings it back.
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from feria_virtual_printer.escpos import Interpreter
from feria_virtual_printer.render import Receipt, render_page

log = logging.getLogger("feria_virtual_printer")

MODES = ("online", "offline", "out_of_paper", "slow")
PROFILES_DIR = Path(__file__).resolve().parent.parent / "profiles"


def paper_dots(paper: str | int) -> int:
    """Printable dots of a paper profile (``"80mm"``, ``"58mm"``) or a number of dots."""
    if isinstance(paper, int) or str(paper).isdigit():
        return int(paper)
    path = PROFILES_DIR / f"{paper}.json"
    if path.is_file():
        return int(json.loads(path.read_text(encoding="utf-8"))["dots"])
    return {"80mm": 576, "58mm": 384}.get(str(paper), 576)


class VirtualPrinter:
    """A thermal printer on ``host:port`` (port 0 picks a free port: see :attr:`port`).

    Like a real one it prints one connection at a time, in the order they came: a
    connection made while another prints waits, unread, until the head is free.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 9100,
        *,
        paper: str | int = "80mm",
        keep: int = 50,
        save_dir: str | Path | None = None,
        slow_delay: float = 30.0,
        on_receipt: Callable[[Receipt], None] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.dots = paper_dots(paper)
        self.keep = keep
        self.save_dir = Path(save_dir) if save_dir else None
        self.slow_delay = slow_delay
        self.on_receipt = on_receipt  # called with every receipt, in the printer's thread
        self._mode = "online"
        self._receipts: deque[Receipt] = deque(maxlen=keep)
        self._count = 0
        self._connections = 0
        self._lock = threading.Condition()
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._head: threading.Thread | None = None
        self._waiting: queue.Queue[socket.socket | None] = queue.Queue()
        self._stopping = threading.Event()

    # -- life

    def start(self) -> VirtualPrinter:
        self._stopping.clear()
        self._head = threading.Thread(target=self._print_head, name="virtual-printer", daemon=True)
        self._head.start()
        self._listen()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._close_listener()
        self._waiting.put(None)
        if self._head is not None:
            self._head.join(5)
            self._head = None

    def __enter__(self) -> VirtualPrinter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Run until interrupted (Ctrl-C)."""
        if self._head is None:
            self.start()
        try:
            while not self._stopping.is_set():
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(16)
        listener.settimeout(0.2)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._acceptor = threading.Thread(
            target=self._accept, args=(listener,), name="virtual-printer-accept", daemon=True
        )
        self._acceptor.start()

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        if self._acceptor is not None:
            self._acceptor.join(2)
            self._acceptor = None

    # -- misbehaving

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        was, self._mode = self._mode, mode
        if mode == "offline" and was != "offline":
            self._close_listener()
        elif was == "offline" and mode != "offline" and not self._stopping.is_set():
            self._listen()

    # -- what was printed

    @property
    def receipts(self) -> list[Receipt]:
        """The last ``keep`` receipts, oldest first."""
        with self._lock:
            return list(self._receipts)

    @property
    def printed(self) -> int:
        """How many receipts were printed since start (also those no longer kept)."""
        return self._count

    @property
    def connections(self) -> int:
        """Connections accepted since start."""
        return self._connections

    def last(self) -> Receipt | None:
        with self._lock:
            return self._receipts[-1] if self._receipts else None

    def clear(self) -> None:
        with self._lock:
            self._receipts.clear()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Receipt]:
        """Wait until ``count`` receipts in all have been printed; return the kept ones."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._count < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"the virtual printer printed {self._count} receipts, not {count}"
                    )
                self._lock.wait(left)
            return list(self._receipts)

    # -- connections

    def _accept(self, listener: socket.socket) -> None:
        while not self._stopping.is_set() and self._listener is listener:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._connections += 1
            self._waiting.put(conn)

    def _print_head(self) -> None:
        while True:
            conn = self._waiting.get()
            if conn is None:
                return
            interpreter = Interpreter(self.dots)
            try:
                with conn:
                    self._read(conn, interpreter)
            except OSError:
                log.debug("connection lost", exc_info=True)
            for page in interpreter.finish():
                self._printed(page)

    def _read(self, conn: socket.socket, interpreter: Interpreter) -> None:
        if self._mode == "slow":
            self._stall()
        conn.settimeout(0.5)
        while not self._stopping.is_set():
            interpreter.paper_out = self._mode == "out_of_paper"
            try:
                data = conn.recv(65536)
            except TimeoutError:
                continue
            if not data:
                return
            answer = interpreter.feed(data)
            if answer:
                conn.sendall(answer)

    def _stall(self) -> None:
        deadline = time.monotonic() + self.slow_delay
        while self._mode == "slow" and time.monotonic() < deadline:
            if self._stopping.wait(0.05):
                return

    def _printed(self, page) -> None:
        number = self._count + 1
        receipt = render_page(page, self.dots, number)
        if self.save_dir is not None:
            self.save_dir.mkdir(parents=True, exist_ok=True)
            stem = self.save_dir / f"receipt-{number:05d}"
            stem.with_suffix(".txt").write_text(receipt.text, encoding="utf-8")
            stem.with_suffix(".png").write_bytes(receipt.png)
        with self._lock:
            self._receipts.append(receipt)
            self._count = number
            self._lock.notify_all()
        if self.on_receipt is not None:
            try:
                self.on_receipt(receipt)
            except Exception:
                log.exception("on_receipt failed")
        log.info("printed receipt %s (%s lines)", number, len(receipt.lines))
