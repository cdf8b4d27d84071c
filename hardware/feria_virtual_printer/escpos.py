"""An ESC/POS interpreter: the byte stream a thermal printer receives, turned back into
what it would put on paper (lines of styled text, pictures, QR codes, cuts, drawer kicks)
and the answers it would send to status queries.

It is fed bytes as they arrive (:meth:`Interpreter.feed`), like a printer reading its
socket, so a status query is answered at its place in the stream: after everything sent
before it, before anything sent after it. Commands it does not know are skipped by their
declared length where ESC/POS has one, else by two bytes, as a lenient printer would.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field, replace

from PIL import Image

ESC, GS, FS, DLE = 0x1B, 0x1D, 0x1C, 0x10

# ESC t n → Python codec, as Epson numbers its code pages (and nearly every clone follows
# for the first pages). A printer without a page prints "?" — so does this one.
CODE_PAGES = {
    0: "cp437",
    2: "cp850",
    3: "cp860",
    4: "cp863",
    5: "cp865",
    16: "cp1252",
    17: "cp866",
    18: "cp852",
    19: "cp858",
    39: "iso8859_2",
    40: "iso8859_15",
    45: "cp1250",
    46: "cp1251",
    47: "cp1253",
    48: "cp1254",
}

FONT_A = (12, 24)  # dots per character cell, width × height
FONT_B = (9, 17)

# DLE EOT answers (bits 1 and 4 are always set).
STATUS_OK = {1: 0x16, 2: 0x12, 3: 0x12, 4: 0x12}
STATUS_NO_PAPER = {1: 0x1E, 2: 0x32, 3: 0x12, 4: 0x72}


class _Incomplete(Exception):
    """The command's bytes have not all arrived yet."""


@dataclass(frozen=True, slots=True)
class Style:
    bold: bool = False
    underline: int = 0
    font: int = 0
    width: int = 1
    height: int = 1
    invert: bool = False
    upside_down: bool = False

    @property
    def cell(self) -> tuple[int, int]:
        w, h = FONT_B if self.font == 1 else FONT_A
        return w * self.width, h * self.height


@dataclass(slots=True)
class Line:
    """One printed line: runs of text in their styles, aligned as ESC a said."""

    runs: list[tuple[str, Style]] = field(default_factory=list)
    align: int = 0

    @property
    def text(self) -> str:
        return "".join(t for t, _ in self.runs)

    @property
    def dots(self) -> int:
        return sum(len(t) * s.cell[0] for t, s in self.runs)

    @property
    def height(self) -> int:
        return max((s.cell[1] for _, s in self.runs), default=FONT_A[1])


@dataclass(slots=True)
class Picture:
    """A bitmap (mode "1": 0 is ink) placed as ESC a said; ``qr`` holds a native QR code's
    data, read from the command itself."""

    image: Image.Image
    align: int = 0
    source: str = "raster"
    qr: str | None = None


@dataclass(slots=True)
class Barcode:
    kind: int
    data: str
    align: int = 0


@dataclass(slots=True)
class Page:
    """Everything between two cuts."""

    items: list[Line | Picture | Barcode] = field(default_factory=list)
    drawer_kicks: list[int] = field(default_factory=list)
    code_pages: list[int] = field(default_factory=list)
    cut: bool = False
    raw: bytearray = field(default_factory=bytearray)

    @property
    def has_content(self) -> bool:
        return any(not isinstance(i, Line) or i.text.strip() for i in self.items) or bool(
            self.drawer_kicks
        )


class Interpreter:
    """Reads an ESC/POS stream for paper ``dots`` wide."""

    def __init__(self, dots: int = 576) -> None:
        self.dots = dots
        self.buf = bytearray()
        self.pages: list[Page] = []
        self.paper_out = False
        self.discarded = 0
        self._reset()
        self.page = Page()
        self._line = Line(align=self.align)
        self._in_bands = False  # a column image is being received band by band
        self._band_lf = False
        self._qr_data = b""
        self._qr_size = 3
        self._graphics: Picture | None = None

    def _reset(self) -> None:
        """ESC @: styles, alignment and code page back to power-on."""
        self.style = Style()
        self.align = 0
        self.code_page = 0
        self._decoder = codecs.getdecoder(CODE_PAGES[0])

    # -- the stream

    def feed(self, data: bytes) -> bytes:
        """Process ``data``; return the bytes the printer answers (status queries)."""
        self.buf += data
        answers = bytearray()
        pos = 0
        while pos < len(self.buf):
            try:
                end, answer = self._command(pos)
            except _Incomplete:
                break
            if answer:
                answers += answer
            self.page.raw += self.buf[pos:end]
            pos = end
        del self.buf[:pos]
        return bytes(answers)

    def finish(self) -> list[Page]:
        """The stream ended: what is left in the buffer prints, as a printer would."""
        self._end_line(force=False)
        if self.page.has_content:
            self.pages.append(self.page)
        self.page = Page()
        pages, self.pages = self.pages, []
        return pages

    # -- paper

    def _add(self, item: Line | Picture | Barcode) -> None:
        if self.paper_out:
            self.discarded += 1
            return
        self.page.items.append(item)

    def _end_line(self, *, force: bool = True) -> None:
        if self._line.runs or force:
            self._add(self._line)
        self._line = Line(align=self.align)

    def _char(self, ch: str) -> None:
        cell = self.style.cell[0]
        if self._line.dots + cell > self.dots:
            self._end_line()  # a printer wraps at the paper's edge
        if not self._line.runs:
            self._line.align = self.align
        runs = self._line.runs
        if runs and runs[-1][1] == self.style:
            runs[-1] = (runs[-1][0] + ch, self.style)
        else:
            runs.append((ch, self.style))

    def _cut(self) -> None:
        self._end_line(force=False)
        self.page.cut = True
        if self.page.has_content:
            self.pages.append(self.page)
        self.page = Page()

    # -- commands

    def _need(self, pos: int, n: int) -> None:
        if pos + n > len(self.buf):
            raise _Incomplete

    def _u16(self, pos: int) -> int:
        self._need(pos, 2)
        return self.buf[pos] | (self.buf[pos + 1] << 8)

    def _command(self, pos: int) -> tuple[int, bytes]:
        b = self.buf[pos]
        if b == 0x0A:  # LF
            if self._band_lf:
                self._band_lf = False  # the LF that ends a band of a column image
            else:
                self._end_line()
                self._in_bands = False
            return pos + 1, b""
        if not (b == ESC and pos + 1 < len(self.buf) and self.buf[pos + 1] in b"*23"):
            self._in_bands = False  # anything but a band, or its line spacing, ends them
        if b in (0x0D, 0x00, 0x07, 0x18):  # CR, NUL, BEL, CAN
            return pos + 1, b""
        if b == 0x09:  # HT: next multiple of 8 columns
            col = self._line.dots // self.style.cell[0]
            for _ in range(8 - col % 8):
                self._char(" ")
            return pos + 1, b""
        if b == 0x0C:  # FF, in standard mode: end the line
            self._end_line(force=False)
            return pos + 1, b""
        if b == ESC:
            return self._esc(pos)
        if b == GS:
            return self._gs(pos)
        if b == FS:
            return self._fs(pos)
        if b == DLE:
            return self._dle(pos)
        if b < 0x20:
            return pos + 1, b""
        ch = self._decoder(bytes([b]), "replace")[0]
        self._char(ch)
        return pos + 1, b""

    def _esc(self, pos: int) -> tuple[int, bytes]:
        self._need(pos, 2)
        c = self.buf[pos + 1]
        one_arg = {
            ord("!"), ord("E"), ord("G"), ord("-"), ord("a"), ord("M"), ord("{"), ord("V"),
            ord("t"), ord("R"), ord(" "), ord("3"), ord("+"), ord("A"), ord("d"), ord("J"),
            ord("e"), ord("K"), ord("="), ord("%"), ord("r"), ord("T"), ord("U"), ord("u"),
            ord("?"),
        }  # fmt: skip
        if c == ord("@"):
            self._end_line(force=False)
            self._reset()
            self._line.align = 0
            return pos + 2, b""
        if c == ord("p"):  # ESC p m t1 t2: pulse the drawer kick pin
            self._need(pos, 5)
            self.page.drawer_kicks.append(2 if self.buf[pos + 2] in (0, 48) else 5)
            return pos + 5, b""
        if c == ord("*"):  # ESC * m nL nH d: one band of a column image
            self._need(pos, 5)
            m, n = self.buf[pos + 2], self._u16(pos + 3)
            rows = 3 if m in (32, 33) else 1
            size = n * rows
            self._need(pos + 5, size)
            data = bytes(self.buf[pos + 5 : pos + 5 + size])
            band = _column_image(data, n, rows)
            last = self.page.items[-1] if self.page.items else None
            if self._in_bands and isinstance(last, Picture) and last.source == "column":
                last.image = _stack(last.image, band)  # the next band of the same picture
            else:
                self._end_line(force=False)
                self._add(Picture(band, self.align, "column"))
            self._in_bands = self._band_lf = True
            return pos + 5 + size, b""
        if c in (ord("i"), ord("m")):
            self._cut()
            return pos + 2, b""
        if c == ord("D"):  # tab stops, NUL-terminated
            end = self.buf.find(b"\x00", pos + 2)
            if end < 0:
                raise _Incomplete
            return end + 1, b""
        if c in (ord("$"), ord("\\"), ord("B")):
            self._need(pos, 4)
            return pos + 4, b""
        if c == ord("c"):  # ESC c n m: paper sensors, panel buttons
            self._need(pos, 4)
            return pos + 4, b""
        if c in (ord("2"), ord("L"), ord("S"), ord("<"), 0x0C):
            return pos + 2, b""
        if c not in one_arg:
            return pos + 2, b""
        self._need(pos, 3)
        n = self.buf[pos + 2]
        if c == ord("!"):  # ESC ! n: font, bold, double height/width, underline at once
            self.style = replace(
                self.style,
                font=n & 1,
                bold=bool(n & 8),
                height=2 if n & 16 else 1,
                width=2 if n & 32 else 1,
                underline=1 if n & 128 else 0,
            )
        elif c in (ord("E"), ord("G")):
            self.style = replace(self.style, bold=bool(n & 1))
        elif c == ord("-"):
            self.style = replace(self.style, underline=n % 48 if n >= 48 else n)
        elif c == ord("a"):
            self.align = n % 48 if n >= 48 else n
            if not self._line.runs:
                self._line.align = self.align
        elif c == ord("M"):
            self.style = replace(self.style, font=1 if n in (1, 49) else 0)
        elif c == ord("{"):
            self.style = replace(self.style, upside_down=bool(n & 1))
        elif c == ord("t"):
            self.code_page = n
            self.page.code_pages.append(n)
            self._decoder = codecs.getdecoder(CODE_PAGES.get(n, "ascii"))
        elif c == ord("d"):  # print and feed n lines
            self._end_line(force=False)
            for _ in range(n):
                self._add(Line(align=self.align))
        elif c == ord("J"):  # print and feed n dots
            self._end_line(force=False)
        return pos + 3, b""

    def _gs(self, pos: int) -> tuple[int, bytes]:
        self._need(pos, 2)
        c = self.buf[pos + 1]
        if c == ord("V"):  # cut
            self._need(pos, 3)
            m = self.buf[pos + 2]
            end = pos + 4 if m in (65, 66, 97, 98, 103, 104) else pos + 3
            self._need(pos, end - pos)
            self._cut()
            return end, b""
        if c == ord("!"):  # GS ! n: width and height multipliers
            self._need(pos, 3)
            n = self.buf[pos + 2]
            self.style = replace(self.style, width=(n >> 4) + 1, height=(n & 7) + 1)
            return pos + 3, b""
        if c == ord("B"):
            self._need(pos, 3)
            self.style = replace(self.style, invert=bool(self.buf[pos + 2] & 1))
            return pos + 3, b""
        if c == ord("v"):  # GS v 0 m xL xH yL yH d: a raster image
            self._need(pos, 8)
            m = self.buf[pos + 3]
            width_bytes, height = self._u16(pos + 4), self._u16(pos + 6)
            size = width_bytes * height
            self._need(pos + 8, size)
            data = bytes(self.buf[pos + 8 : pos + 8 + size])
            image = _raster_image(data, width_bytes, height)
            if m in (1, 3, 49, 51):
                image = image.resize((image.width * 2, image.height))
            if m in (2, 3, 50, 51):
                image = image.resize((image.width, image.height * 2))
            self._end_line(force=False)
            self._add(Picture(image, self.align, "raster"))
            return pos + 8 + size, b""
        if c == ord("("):
            self._need(pos, 5)
            fn_class = self.buf[pos + 2]
            size = self._u16(pos + 3)
            self._need(pos + 5, size)
            body = bytes(self.buf[pos + 5 : pos + 5 + size])
            if fn_class == ord("k"):
                self._two_d(body)
            elif fn_class == ord("L"):
                self._graphic(body)
            return pos + 5 + size, b""
        if c == ord("k"):  # barcode
            self._need(pos, 3)
            m = self.buf[pos + 2]
            if m <= 6:
                end = self.buf.find(b"\x00", pos + 3)
                if end < 0:
                    raise _Incomplete
                data, after = bytes(self.buf[pos + 3 : end]), end + 1
            else:
                self._need(pos, 4)
                n = self.buf[pos + 3]
                self._need(pos + 4, n)
                data, after = bytes(self.buf[pos + 4 : pos + 4 + n]), pos + 4 + n
            self._end_line(force=False)
            self._add(Barcode(m, data.decode("ascii", "replace"), self.align))
            return after, b""
        if c in (ord("r"), ord("I")):  # transmit status / printer id
            self._need(pos, 3)
            if c == ord("I"):
                return pos + 3, b"\x00"
            return pos + 3, (b"\x0f" if self.paper_out else b"\x00")
        if c in (ord("L"), ord("W"), ord("P"), ord("$"), ord("\\")):
            self._need(pos, 4)
            return pos + 4, b""
        if c == ord("8"):  # GS 8 L p1 p2 p3 p4 ...: large graphics data
            self._need(pos, 7)
            size = int.from_bytes(self.buf[pos + 3 : pos + 7], "little")
            self._need(pos + 7, size)
            return pos + 7 + size, b""
        if c == ord("*"):  # define a downloaded image: x × y × 8 bytes
            self._need(pos, 4)
            size = self.buf[pos + 2] * self.buf[pos + 3] * 8
            self._need(pos + 4, size)
            return pos + 4 + size, b""
        if c in (ord(":"),):
            return pos + 2, b""
        self._need(pos, 3)
        return pos + 3, b""  # GS h/w/H/f/b/a/E/T/…: one argument, nothing on paper

    def _two_d(self, body: bytes) -> None:
        """GS ( k: 2D codes. Only QR (cn 49) is kept: its data, its module size."""
        if len(body) < 2 or body[0] != 49:
            return
        fn = body[1]
        if fn == 67 and len(body) >= 3:  # module size
            self._qr_size = max(1, body[2])
        elif fn == 80:  # store the data (after the m byte)
            self._qr_data = body[3:]
        elif fn == 81:  # print what was stored
            data = self._qr_data.decode("utf-8", "replace")
            self._end_line(force=False)
            self._add(Picture(_qr_image(data, self._qr_size), self.align, "qr", qr=data))

    def _graphic(self, body: bytes) -> None:
        """GS ( L: fn 112 stores a raster graphic, fn 50 prints it."""
        if len(body) < 2:
            return
        fn = body[1]
        if fn in (112, ord("p")) and len(body) >= 10:
            xm, ym = body[3], body[4]
            width, height = body[6] | body[7] << 8, body[8] | body[9] << 8
            image = _raster_image(body[10:], (width + 7) // 8, height)
            if xm == 2 or ym == 2:
                image = image.resize((image.width * (2 if xm == 2 else 1), image.height * ym))
            self._graphics = Picture(image, self.align, "graphics")
        elif fn in (50, ord("2")) and self._graphics is not None:
            self._end_line(force=False)
            self._add(self._graphics)
            self._graphics = None

    def _fs(self, pos: int) -> tuple[int, bytes]:
        self._need(pos, 2)
        c = self.buf[pos + 1]
        if c in (ord("&"), ord(".")):
            return pos + 2, b""
        if c == ord("("):
            self._need(pos, 5)
            size = self._u16(pos + 3)
            self._need(pos + 5, size)
            return pos + 5 + size, b""
        if c in (ord("p"), ord("S")):
            self._need(pos, 4)
            return pos + 4, b""
        self._need(pos, 3)
        return pos + 3, b""

    def _dle(self, pos: int) -> tuple[int, bytes]:
        self._need(pos, 3)
        c, n = self.buf[pos + 1], self.buf[pos + 2]
        if c == 0x04:  # DLE EOT n: real-time status
            table = STATUS_NO_PAPER if self.paper_out else STATUS_OK
            return pos + 3, bytes([table.get(n, 0x12)])
        if c == 0x14:  # DLE DC4 fn …: real-time requests
            if n == 1:  # generate pulse: a drawer kick
                self._need(pos, 5)
                self.page.drawer_kicks.append(2 if self.buf[pos + 3] == 0 else 5)
                return pos + 5, b""
            if n == 8:
                self._need(pos, 10)
                return pos + 10, b""
            self._need(pos, 5)
            return pos + 5, b""
        if c == 0x05:  # DLE ENQ n
            return pos + 3, b""
        return pos + 2, b""


# -- bitmaps ------------------------------------------------------------------------------------


def _raster_image(data: bytes, width_bytes: int, height: int) -> Image.Image:
    """Row-major, 1 bit per dot, most significant bit first, 1 = ink."""
    width = width_bytes * 8
    if width == 0 or height == 0:
        return Image.new("1", (1, 1), 1)
    expected = width_bytes * height
    data = data[:expected].ljust(expected, b"\x00")
    # PIL's "1" raw mode reads 1 as white: invert so ink is black.
    inverted = bytes(255 - x for x in data)
    return Image.frombytes("1", (width, height), inverted)


def _stack(top: Image.Image, bottom: Image.Image) -> Image.Image:
    image = Image.new("1", (max(top.width, bottom.width), top.height + bottom.height), 1)
    image.paste(top, (0, 0))
    image.paste(bottom, (0, top.height))
    return image


def _column_image(data: bytes, width: int, rows: int) -> Image.Image:
    """ESC *: column-major, ``rows`` bytes (8 dots each) per column, MSB at the top."""
    height = rows * 8
    image = Image.new("1", (max(width, 1), height), 1)
    pixels = image.load()
    for x in range(width):
        for r in range(rows):
            byte = data[x * rows + r] if x * rows + r < len(data) else 0
            for bit in range(8):
                if byte & (0x80 >> bit):
                    pixels[x, r * 8 + bit] = 0
    return image


def _qr_image(data: str, module: int) -> Image.Image:
    """How a printer draws a native QR code: modules of ``module`` dots, a quiet zone."""
    import qrcode

    code = qrcode.QRCode(
        box_size=module, border=4, error_correction=qrcode.constants.ERROR_CORRECT_L
    )
    code.add_data(data)
    code.make(fit=True)
    made = code.make_image()
    image = made.get_image() if hasattr(made, "get_image") else made._img
    return image.convert("1")
