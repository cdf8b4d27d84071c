"""Laying out feria's print jobs on an ESC/POS printer: receipts, X- and Z-reports,
settlement slips and the test page.

Everything is drawn on a python-escpos printer object; :func:`render` draws on a
``Dummy`` printer and returns the bytes, so a job is fully laid out before a connection
to the printer is opened (a fault in the layout never leaves half a receipt on paper).

Lines are wrapped here, at the paper profile's column count, never by the printer: a
printer wraps mid-word and right-aligned amounts would land on the next line.
"""

from __future__ import annotations

import copy
import datetime as dt
import textwrap
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import format_decimal
from escpos.capabilities import Profile, get_profile
from escpos.escpos import Escpos
from escpos.printer import Dummy

from feria.money import Money, MoneyError
from feria.printing import PrintJob
from feria_escpos_printer.paper import PaperProfile
from feria_escpos_printer.words import words_for

HASH_SHOWN = 16  # hex digits of a journal hash on paper: enough to compare by eye

# Characters that are in none of the usual code pages, written as their closest ASCII.
_PLAIN = str.maketrans(
    {
        "\u00a0": " ",  # no-break space (Babel puts it between R$ and the amount)
        "\u202f": " ",  # narrow no-break space
        "\u2009": " ",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2026": "...",
        "\u00b7": "-",
        "\u20ac": "EUR",
        "\u2022": "*",
    }
)


def plain(text: object) -> str:
    return str(text).translate(_PLAIN)


def escpos_profile(paper: PaperProfile) -> Profile:
    """A python-escpos profile for ``paper``: the printer model's code pages and features,
    with the roll's real width (so images are checked against it)."""
    base = get_profile(paper.escpos_model)
    data = copy.deepcopy(base.profile_data)
    data["media"] = {"dpi": 203, "width": {"mm": paper.paper_mm, "pixels": paper.dots}}
    profile = Profile(columns=paper.columns, features=dict(data.get("features", {})))
    profile.profile_data = data
    return profile


class Sheet:
    """One job's paper: wrapped, aligned text in one code page, QR codes, images, cut."""

    def __init__(self, printer: Escpos, paper: PaperProfile, locale: str) -> None:
        self.p = printer
        self.paper = paper
        self.locale = locale
        self.width = paper.columns
        self.words = words_for(locale)
        self._current = ("left", False, False)  # what ESC @ leaves
        printer.hw("INIT")
        # After ESC @ the printer is back on its first code page: choose ours once, for all.
        printer.charcode(paper.codepage)

    # -- text

    def _style(self, *, align: str = "left", bold: bool = False, big: bool = False) -> None:
        # Only what changes is sent: the receipt stays short and its bytes readable.
        if (align, bold, big) == self._current:
            return
        self.p.set(align=align, bold=bold, double_height=big, normal_textsize=not big)
        self._current = (align, bold, big)

    def _reset(self) -> None:
        self._style()

    def text(
        self,
        text: object,
        *,
        align: str = "left",
        bold: bool = False,
        big: bool = False,
        indent: int = 0,
    ):
        """Print ``text`` wrapped at the paper's width (each ``\\n`` starts a new line),
        every line ``indent`` spaces in."""
        self._style(align=align, bold=bold, big=big)
        pad = " " * indent
        for paragraph in plain(text).splitlines() or [""]:
            lines = textwrap.wrap(
                paragraph,
                self.width,
                initial_indent=pad,
                subsequent_indent=pad,
                break_long_words=True,
            )
            for line in lines or [""]:
                self.p.text(line + "\n")
        self._reset()

    def address(self, url: str, *, indent: int = 0) -> None:
        """A web address for a shopper to type in. ``https://`` is left off (a browser
        tries it first), and the rest is printed ``indent`` spaces in if it fits on one
        line that way; else flush left and cut at the paper's width only, never at a
        hyphen or a slash, so it takes as few lines as it can."""
        url = plain(url.removeprefix("https://"))
        if len(url) + indent <= self.width:
            self.p.text(" " * indent + url + "\n")
            return
        for start in range(0, len(url), self.width):
            self.p.text(url[start : start + self.width] + "\n")

    def pair(self, left: object, right: object, *, bold: bool = False, big: bool = False):
        """``left`` and ``right`` on one line, ``right`` flush with the right edge; a
        ``left`` too long for the line wraps above it."""
        left, right = plain(left), plain(right)[: self.width]
        lines = textwrap.wrap(left, self.width, break_long_words=True) or [""]
        self._style(bold=bold, big=big)
        for line in lines[:-1]:
            self.p.text(line + "\n")
        last = lines[-1]
        if len(last) + 1 + len(right) > self.width:
            # No room beside it: the amount goes under it, still flush right.
            self.p.text(last + "\n")
            last = ""
        self.p.text(last + " " * (self.width - len(last) - len(right)) + right + "\n")
        self._reset()

    def rule(self, char: str = "-") -> None:
        self.p.text(char * self.width + "\n")

    def banner(self, text: str) -> None:
        """White on black, twice as large: a COPIA nobody can miss."""
        self.p.set(align="center", bold=True, double_width=True, double_height=True, invert=True)
        self.p.text(plain(f" {text} ")[: self.width // 2] + "\n")
        self.p.set(align="left", bold=False, normal_textsize=True, invert=False)
        self._current = ("left", False, False)

    def feed(self, lines: int = 1) -> None:
        self.p.text("\n" * lines)

    # -- pictures

    def qr(self, content: str) -> None:
        self._style(align="center")  # ESC a centres pictures too
        self.p.qr(content, size=self.paper.qr_size, native=self.paper.qr_native)
        self._reset()

    def logo(self, path: str) -> None:
        from PIL import Image

        with Image.open(path) as img:
            img = img.convert("L")
            if img.width > self.paper.logo_max_dots:
                ratio = self.paper.logo_max_dots / img.width
                img = img.resize((self.paper.logo_max_dots, max(1, int(img.height * ratio))))
            self._style(align="center")
            self.p.image(img)
        self._reset()

    def drawer(self) -> None:
        self.p.cashdraw(self.paper.drawer_pin)

    def cut(self) -> None:
        if self.paper.cut == "none":
            self.feed(4)
        else:
            self.p.cut(mode="PART" if self.paper.cut == "partial" else "FULL")

    # -- values

    def money(self, amount: int, currency: str) -> str:
        try:
            return plain(Money(int(amount), currency).format(self.locale))
        except (MoneyError, ValueError, TypeError):
            return f"{amount} {currency}"

    def amounts(self, amounts: dict[str, int] | None) -> list[str]:
        return [self.money(a, c) for c, a in sorted((amounts or {}).items())]

    def quantity(self, value: str) -> str:
        try:
            return format_decimal(Decimal(value), "#,##0.###", locale=self.locale)
        except (InvalidOperation, ValueError):
            return str(value)

    def when(self, iso: str | None) -> str:
        if not iso:
            return ""
        return dt.datetime.fromisoformat(iso).strftime("%d/%m/%Y %H:%M")

    def day(self, iso: str) -> str:
        return dt.date.fromisoformat(iso).strftime("%d/%m/%Y")

    def method(self, tender: dict[str, Any]) -> str:
        return self.words.get(tender.get("method", ""), tender.get("name") or tender["method"])

    def percent(self, bp: int) -> str:
        return format_decimal(Decimal(bp) / 100, "#,##0.##", locale=self.locale) + "%"


# -- the jobs ---------------------------------------------------------------------------------


def _header(sheet: Sheet, fair: dict[str, Any], settings: dict[str, Any]) -> None:
    if settings.get("logo"):
        sheet.logo(settings["logo"])
    sheet.text(fair.get("name", "").upper(), align="center", bold=True)
    if fair.get("place"):
        sheet.text(fair["place"], align="center")
    sheet.rule()


def _till(sheet: Sheet, till: dict[str, Any]) -> str:
    code, name = till.get("code") or "", till.get("name") or ""
    if not code:
        return ""
    if not name or name == code:
        return f"{sheet.words['till']} {code}"
    return f"{name} ({code})"


def receipt_layout(sheet: Sheet, job: PrintJob, settings: dict[str, Any]) -> None:
    data, w = job.payload, sheet.words
    sale = data["sale"]
    currency = data["currency"]
    if job.open_drawer and not job.copy and settings.get("drawer", True):
        sheet.drawer()  # first: the cashier gives change while the receipt prints
    if job.copy:
        sheet.banner(w["copy"])
    _header(sheet, data["fair"], settings)
    if sale.get("kind") in ("refund", "void"):
        sheet.text(w[sale["kind"]], align="center", bold=True, big=True)
    sheet.pair(f"{w['receipt']} {sale['id']}", sheet.when(sale.get("at")), bold=True)
    if sale.get("refers_to"):
        sheet.text(f"{w['refers_to']} {sale['refers_to']}")
    if sale.get("reason"):
        sheet.text(f"{w['reason']}: {sale['reason']}")
    till = _till(sheet, data.get("till", {}))
    if till:
        sheet.text(till)
    if data.get("cashier"):
        sheet.text(f"{w['cashier']}: {data['cashier']}")
    sheet.rule()
    for group in data["groups"]:
        producer = group["producer"]
        sheet.text(f"{producer['code']} {producer['name']}".strip(), bold=True)
        for line in group["lines"]:
            _line(sheet, line, currency)
        _labels(sheet, group.get("labels") or ())
    sheet.rule()
    sheet.pair(w["total"], sheet.money(data["total"], currency), bold=True, big=True)
    paid_back = sale.get("kind") in ("refund", "void")
    for tender in data["tenders"]:
        label = sheet.method(tender)
        if paid_back:
            label = f"{label} ({w['paid_back'].lower()})"
        sheet.pair(label, sheet.money(tender["amount"], tender["currency"]))
    if data.get("change"):
        sheet.pair(w["change"], sheet.money(data["change"], currency), bold=True)
    if data.get("solidarity"):
        sheet.rule()
        share = f" ({sheet.percent(data['solidarity_bp'])})" if data.get("solidarity_bp") else ""
        for part in data["solidarity"]:
            sheet.pair(f"{w['solidarity']}{share}", sheet.money(part["amount"], part["currency"]))
    sheet.rule()
    sheet.text(f"{w['record']} {sale['seq']} {sale.get('hash', '')[:HASH_SHOWN]}", align="center")
    url = data.get("verify_url")
    if url:
        sheet.qr(url)
        sheet.text(w["verify"], align="center")
        sheet.text(url, align="center")
    footer = data["fair"].get("footer")
    if footer:
        sheet.rule()
        sheet.text(footer, align="center")
    if job.copy:
        sheet.feed()
        sheet.banner(w["copy"])
    sheet.cut()


def _line(sheet: Sheet, line: dict[str, Any], currency: str) -> None:
    total = sheet.money(line["total"], currency)
    unit = line.get("unit") or "piece"
    quantity = str(line.get("quantity", "1"))
    description = line.get("description") or ""
    if unit == "piece" and quantity.lstrip("-") == "1":
        sheet.pair(description, total)
        return
    shown = sheet.quantity(quantity) + ("" if unit == "piece" else f" {unit}")
    price = sheet.money(line["unit_price"], currency) + ("" if unit == "piece" else f"/{unit}")
    sheet.text(description)
    sheet.pair(f"  {shown} x {price}", total)


def _labels(sheet: Sheet, labels: Iterable[dict[str, Any]]) -> None:
    """The certification labels under a producer's lines, valid when the receipt prints:
    the label (and the lines it covers, when not all), until when, and the address of its
    page in the public registry. Three or four short lines a label, with no picture: a QR
    code per label would make every receipt of a labelled producer a hand longer."""
    w = sheet.words
    for label in labels:
        name = f"{w['label']}: {label['name']}"
        if label.get("only"):
            name += f" ({', '.join(label['only'])})"
        sheet.text(name, indent=2)
        if label.get("valid_until"):
            sheet.text(f"{w['valid_until']} {sheet.day(label['valid_until'])}", indent=4)
        if label.get("url"):
            sheet.address(label["url"], indent=4)


def session_report_layout(sheet: Sheet, job: PrintJob, settings: dict[str, Any]) -> None:
    data, w = job.payload, sheet.words
    title = w["z_report"] if job.kind == "z_report" else w["x_report"]
    if job.copy:
        sheet.banner(w["copy"])
    sheet.text(title, align="center", bold=True, big=True)
    _header(sheet, data["fair"], settings)
    till = _till(sheet, data.get("till", {}))
    sheet.pair(till, f"{w['session']} {data['session']}")
    if data.get("cashier"):
        sheet.text(f"{w['cashier']}: {data['cashier']}")
    sheet.pair(w["opened"], sheet.when(data.get("opened_at")))
    if data.get("closed_at"):
        sheet.pair(w["closed"], sheet.when(data["closed_at"]))
    sheet.pair(w["printed"], sheet.when(data.get("printed_at")))
    sheet.rule()
    currency = data["currency"]
    counts, totals = data.get("counts", {}), data.get("totals", {})
    for kind, label in (("sale", "sales"), ("refund", "refunds"), ("void", "voids")):
        sheet.pair(
            f"{w[label]} ({counts.get(kind, 0)})", sheet.money(totals.get(kind, 0), currency)
        )
    if data.get("by_method"):
        sheet.rule()
        sheet.text(w["by_method"], bold=True)
        for row in data["by_method"]:
            for amount in sheet.amounts(row["amounts"]):
                sheet.pair(sheet.method(row), amount)
    if data.get("by_producer"):
        sheet.rule()
        sheet.text(w["by_producer"], bold=True)
        for row in data["by_producer"]:
            for amount in sheet.amounts(row["amounts"]):
                sheet.pair(f"{row['code']} {row['name']}".strip(), amount)
    sheet.rule()
    sheet.pair(w["float"], sheet.money(data.get("float", 0), currency))
    movements = data.get("movements", {})
    for kind in ("paid_in", "paid_out"):
        for amount in sheet.amounts(movements.get(kind)):
            sheet.pair(w[kind], amount)
    for amount in sheet.amounts(data.get("expected_cash")):
        sheet.pair(w["expected"], amount, bold=True)
    if data.get("counted_cash") is not None:
        for amount in sheet.amounts(data["counted_cash"]):
            sheet.pair(w["counted"], amount)
        for amount in sheet.amounts(data.get("discrepancy")):
            sheet.pair(w["difference"], amount, bold=True)
    if data.get("seq"):
        sheet.rule()
        sheet.text(f"{w['record']} {data['seq']} {(data.get('hash') or '')[:HASH_SHOWN]}")
    if job.kind == "z_report":
        sheet.feed(2)
        sheet.text(f"{w['signature']}:")
        sheet.feed(2)
        sheet.rule("_")
    sheet.cut()


def settlement_slip_layout(sheet: Sheet, job: PrintJob, settings: dict[str, Any]) -> None:
    data, w = job.payload, sheet.words
    if job.copy:
        sheet.banner(w["copy"])
    sheet.text(w["settlement"], align="center", bold=True, big=True)
    _header(sheet, data["fair"], settings)
    producer = data["producer"]
    sheet.text(f"{producer['code']} {producer['name']}", bold=True)
    sheet.pair(w["printed"], sheet.when(data.get("printed_at")))
    for row in data["rows"]:
        cur = row["currency"]
        sheet.rule()
        sheet.pair(w["gross"], sheet.money(row["gross"], cur))
        sheet.pair(w["refunds"], sheet.money(row["refunds"], cur))
        sheet.pair(w["withheld"], sheet.money(-row["withheld"], cur))
        sheet.pair(w["fees"], sheet.money(-row["fees"], cur))
        sheet.pair(w["net"], sheet.money(row["net"], cur), bold=True)
        sheet.pair(w["paid"], sheet.money(row["paid"], cur))
        sheet.pair(w["balance"], sheet.money(row["balance"], cur), bold=True, big=True)
        for member in row.get("members", []):
            share = sheet.percent(member["share_bp"])
            sheet.pair(f"  {member['name']} ({share})", sheet.money(member["balance"], cur))
    if data.get("payouts"):
        sheet.rule()
        sheet.text(w["payouts"], bold=True)
        for payout in data["payouts"]:
            ack = f" {w['acknowledged']}" if payout.get("acknowledged_at") else ""
            sheet.pair(
                f"{sheet.when(payout['at'][:19])} {payout['method']}{ack}",
                sheet.money(payout["amount"], payout["currency"]),
            )
    sheet.rule()
    as_of = data.get("as_of", {})
    sheet.text(f"{w['as_of']} {as_of.get('seq')} {str(as_of.get('hash', ''))[:HASH_SHOWN]}")
    sheet.text(f"{w['digest']}: {data.get('digest', '')[: HASH_SHOWN * 2]}")
    sheet.feed(2)
    sheet.text(f"{w['producer_signature']}:")
    sheet.feed(2)
    sheet.rule("_")
    sheet.cut()


ACCENTS = "ñ á é í ó ú ü ç ã õ ¿¡ Ñ Á É Í Ó Ú Ç Ã Õ º ª"


def test_page_layout(sheet: Sheet, job: PrintJob, settings: dict[str, Any]) -> None:
    data, w = job.payload, sheet.words
    sheet.text(w["test_page"], align="center", bold=True, big=True)
    _header(sheet, data["fair"], settings)
    sheet.text(_till(sheet, data.get("till", {})))
    sheet.pair(w["printed"], sheet.when(data.get("printed_at")))
    sheet.rule()
    connection = settings.get("connection", "")
    where = settings.get("host") or settings.get("device") or settings.get("path") or ""
    sheet.text(f"{w['connection']}: {connection} {where}".strip())
    sheet.text(f"{w['profile']}: {sheet.paper.name} ({sheet.width} col, {sheet.paper.dots} dots)")
    sheet.text(f"{w['codepage']}: {sheet.paper.codepage}")
    sheet.text(f"{w['accents']}: {ACCENTS}")
    sheet.text(("1234567890" * (sheet.width // 10 + 1))[: sheet.width])
    sheet.rule()
    till = data.get("till", {}).get("code") or ""
    sheet.qr(data.get("verify_url") or f"feria test page {till}".strip())
    sheet.cut()


LAYOUTS = {
    "receipt": receipt_layout,
    "x_report": session_report_layout,
    "z_report": session_report_layout,
    "settlement_slip": settlement_slip_layout,
    "test_page": test_page_layout,
}


def render(job: PrintJob, paper: PaperProfile, settings: dict[str, Any] | None = None) -> bytes:
    """The ESC/POS bytes of ``job`` on ``paper``."""
    settings = settings or {}
    layout = LAYOUTS.get(job.kind)
    if layout is None:
        raise ValueError(f"this printer cannot lay out a {job.kind!r} job")
    printer = Dummy(profile=escpos_profile(paper))
    locale = job.payload.get("fair", {}).get("locale") or "es"
    layout(Sheet(printer, paper, locale), job, settings)
    return printer.output
