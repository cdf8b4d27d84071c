"""Rendering what the interpreter read: the receipt as text (what a person reads on it) and
as a PNG (what it looks like), with every QR code on it decoded back to its content.

QR codes are decoded from the *picture*, with zxing-cpp, exactly as a shopper's phone reads
the paper: a QR code that python-escpos drew as an image and one the printer drew itself
(``GS ( k``) are both checked the same way.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont, ImageOps

from feria_virtual_printer.escpos import FONT_A, FONT_B, Barcode, Line, Page, Picture, Style

MARGIN = 16  # dots of white around the roll's printable width in the PNG


@dataclass(slots=True)
class Receipt:
    """One rendered receipt (or report): everything between two cuts."""

    number: int
    text: str
    png: bytes
    qr_codes: list[str]
    drawer_kicks: int
    cut: bool
    code_pages: list[int]
    raw: bytes
    dots: int
    received_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    def image(self) -> Image.Image:
        return Image.open(io.BytesIO(self.png))


def render_page(page: Page, dots: int, number: int = 0) -> Receipt:
    image = page_image(page, dots)
    qr_codes: list[str] = []
    notes: dict[int, str] = {}
    for i, item in enumerate(page.items):
        if isinstance(item, Picture):
            found = decode_qr(item.image)
            if not found and item.qr is not None:
                found = [item.qr]
            qr_codes.extend(found)
            notes[i] = (
                f"[QR {' '.join(found)}]"
                if found
                else f"[image {item.image.width}x{item.image.height}]"
            )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return Receipt(
        number=number,
        text=page_text(page, dots, notes),
        png=buffer.getvalue(),
        qr_codes=qr_codes,
        drawer_kicks=len(page.drawer_kicks),
        cut=page.cut,
        code_pages=list(page.code_pages),
        raw=bytes(page.raw),
        dots=dots,
    )


# -- text -------------------------------------------------------------------------------------


def page_text(page: Page, dots: int, notes: dict[int, str] | None = None) -> str:
    """The page as lines of text, aligned in Font A columns as they sit on the paper."""
    columns = dots // FONT_A[0]
    out: list[str] = []
    for i, item in enumerate(page.items):
        if isinstance(item, Line):
            free = max(0, (dots - item.dots) // FONT_A[0])
            pad = free // 2 if item.align == 1 else free if item.align == 2 else 0
            out.append((" " * pad + item.text).rstrip())
        elif isinstance(item, Picture):
            note = (notes or {}).get(i, "[image]")
            out.append(_aligned(note, item.align, columns))
        elif isinstance(item, Barcode):
            out.append(_aligned(f"[barcode {item.data}]", item.align, columns))
    while out and not out[-1].strip():
        out.pop()
    while out and not out[0].strip():
        out.pop(0)
    return "\n".join(out) + "\n"


def _aligned(text: str, align: int, columns: int) -> str:
    free = max(0, columns - len(text))
    return " " * (free // 2 if align == 1 else free if align == 2 else 0) + text


# -- picture ----------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    for name in ("DejaVuSansMono.ttf", "LiberationMono-Regular.ttf", "FreeMono.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):
        return ImageFont.load_default()


@lru_cache(maxsize=4096)
def _glyph(ch: str, font: int, bold: bool) -> Image.Image:
    """One character in its cell (white background, black ink), before any scaling."""
    w, h = FONT_B if font == 1 else FONT_A
    cell = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(cell)
    face = _font(h - 6)
    # One baseline for every character, so "g", "," and "É" sit as on paper.
    try:
        ascent, descent = face.getmetrics()
    except AttributeError:
        ascent, descent = h - 6, 0
    left, _, right, _ = draw.textbbox((0, 0), ch, font=face)
    x = (w - (right - left)) / 2 - left
    y = (h - (ascent + descent)) / 2
    draw.text((x, y), ch, fill=0, font=face)
    if bold:
        draw.text((x + 1, y), ch, fill=0, font=face)
    return cell


def _draw_line(canvas: Image.Image, line: Line, top: int, dots: int) -> None:
    free = max(0, dots - line.dots)
    x = MARGIN + (free // 2 if line.align == 1 else free if line.align == 2 else 0)
    height = line.height
    for text, style in line.runs:
        cw, ch = style.cell
        for char in text:
            glyph = _glyph(char, style.font, style.bold)
            if style.width != 1 or style.height != 1:
                glyph = glyph.resize((cw, ch), Image.NEAREST)
            if style.invert:
                glyph = ImageOps.invert(glyph)
            y = top + height - ch
            canvas.paste(glyph, (x, y))
            if style.underline:
                ImageDraw.Draw(canvas).line(
                    [(x, y + ch - 2), (x + cw - 1, y + ch - 2)], fill=0, width=style.underline
                )
            x += cw


def page_image(page: Page, dots: int) -> Image.Image:
    heights = []
    for item in page.items:
        if isinstance(item, Line):
            heights.append(item.height)
        elif isinstance(item, Picture):
            heights.append(item.image.height)
        else:
            heights.append(FONT_A[1] * 3)
    canvas = Image.new("L", (dots + 2 * MARGIN, sum(heights) + 2 * MARGIN), 255)
    top = MARGIN
    for item, height in zip(page.items, heights, strict=True):
        if isinstance(item, Line):
            _draw_line(canvas, item, top, dots)
        elif isinstance(item, Picture):
            picture = item.image.convert("L")
            free = max(0, dots - picture.width)
            x = MARGIN + (free // 2 if item.align == 1 else free if item.align == 2 else 0)
            canvas.paste(picture, (x, top))
        else:
            label = Line(runs=[(f"|||| {item.data} ||||", Style())], align=item.align)
            _draw_line(canvas, label, top + FONT_A[1], dots)
        top += height
    return canvas


def decode_qr(image: Image.Image) -> list[str]:
    """The contents of the QR codes in ``image`` (empty if zxing-cpp is not installed)."""
    try:
        import zxingcpp
    except ImportError:
        return []
    framed = ImageOps.expand(image.convert("L"), border=32, fill=255)
    return [r.text for r in zxingcpp.read_barcodes(framed) if r.text]
