"""CSV import and export of producers and products, for the spreadsheets organizers have.

Reading is tolerant wherever a spreadsheet varies without changing meaning: ``,`` ``;`` or
tab between cells (detected), UTF-8 with or without a BOM, UTF-16 (Excel's "Unicode text"),
Latin-1 / cp1252, header names in Spanish, Portuguese or English with or without accents,
prices as people type them in their locale (``1.234,50``). It is strict wherever meaning is
at stake: a price, a barcode, a member's share or a producer code that cannot be read
exactly is refused, never guessed.

**All or nothing.** An import checks every row, collects every problem (with the line
number as in the file, the column as headed in the file and what was expected) and writes
nothing unless there are none; then it writes everything in one transaction. The checks
that need no database (every cell, duplicates within the file) run before the transaction,
so the write lock that tills queue behind is held only for the lookups and the inserts.

**Upsert policy.** A row whose producer code (or producer and sku, for products) already
exists in the network updates that producer or product; any other row creates one. An
update changes only the columns the file has: a column left out of the file leaves that
field as it is, while an empty cell in a present column sets the field to its default
(empty text, no barcode, unknown stock, active). Import never deletes a producer or a
product. A cooperative's members are matched by name, so a member who stays keeps the
record of their past shares; a member left out of the list is removed, unless sales were
already split to them (the record must keep pointing at them).

**Export writes what import reads**: the same columns, headed in the language of the
locale, prices in that locale without grouping, UTF-8 with a BOM (so spreadsheet programs
read accents right). Exporting, importing into an empty network and exporting again gives
the same bytes.

**Formulas.** Every text cell is written through :func:`feria.csvsafe.text_cell`: a name
or description that starts with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return)
gets a ``'`` in front, so the spreadsheet an organizer opens the file in shows it as text
instead of running it. Import reads every cell through :func:`feria.csvsafe.read_text_cell`,
which takes that ``'`` off again, so the round trip above still holds (and a file saved by a
spreadsheet, which may have dropped the ``'``, reads the same). Prices and stock are numbers
and are written as they are.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, TypeVar

from babel import Locale, UnknownLocaleError
from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from feria.catalogue.models import (
    PRODUCER_KINDS,
    SHARES_WHOLE,
    UNITS,
    Fair,
    Member,
    Network,
    Participation,
    Producer,
    Product,
    name_sort_key,
)
from feria.catalogue.service import (
    InvalidCatalogue,
    _text,
    check_barcode,
    check_producer_code,
    check_stock,
    validate_members,
)
from feria.csvsafe import read_text_cell, text_cell
from feria.db import read_session, write_session
from feria.errors import FeriaError, NotFound
from feria.money import Money, MoneyError, currency

__all__ = [
    "PRODUCER_COLUMNS",
    "PRODUCT_COLUMNS",
    "Column",
    "CsvImportError",
    "ImportReport",
    "Progress",
    "RowError",
    "export_producers",
    "export_products",
    "import_producers",
    "import_products",
    "read_sheet",
]

DELIMITERS = (",", ";", "\t")
PROGRESS_STEP = 1000  # rows between two progress reports, and rows per INSERT batch

Progress = Callable[[str, int, int], None]
"""Told ``(phase, done, total)`` as an import goes: phase ``"checking"`` then ``"writing"``."""


# -- refusals --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """One problem in the file: where it is (as the person sees the file) and what was expected."""

    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        if self.column is None:
            return f"line {self.line}: {self.message}"
        return f"line {self.line}, column {self.column}: {self.message}"


class CsvImportError(FeriaError):
    """The file was refused and nothing was written; ``errors`` lists every problem found."""

    code = "invalid_csv"

    def __init__(self, errors: Iterable[RowError]) -> None:
        self.errors = sorted(errors, key=lambda e: e.line)  # stable: columns stay in file order
        n = len(self.errors)
        head = f"{n} problem{'' if n == 1 else 's'} in the file, nothing was imported"
        super().__init__(
            "\n".join([head + ":", *map(str, self.errors)]),
            errors=[
                {"line": e.line, "column": e.column, "message": e.message} for e in self.errors
            ],
        )


_FIELD_PREFIX = re.compile(r"^[a-z_]+(\[\d+\])?(\.[a-z_]+)?: ")


def _plain(exc: Exception) -> str:
    """The catalogue's message without its ``field:`` prefix: the CSV error names the column."""
    message = getattr(exc, "message", None) or str(exc)
    return _FIELD_PREFIX.sub("", message, count=1)


# -- the columns -----------------------------------------------------------------------------

LANGUAGES = ("en", "es", "pt")


@lru_cache(maxsize=4096)  # the same few units, kinds and yes/no fill whole columns
def _key(name: str) -> str:
    """A header or a word as compared: no accents, no case, no ``(notes)``, ``_`` between words."""
    name = re.sub(r"\(.*?\)", " ", name)
    name = unicodedata.normalize("NFKD", name)
    name = "".join(ch for ch in name if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


@dataclass(frozen=True)
class Column:
    """A column feria reads: its field, its title in en / es / pt (export writes the title of
    the locale's language) and the other header names people give it."""

    field: str
    titles: tuple[str, str, str]
    aliases: tuple[str, ...] = ()
    required: bool = False

    def header_keys(self) -> set[str]:
        return {_key(n) for n in (*self.titles, *self.aliases)}

    def title(self, language: str) -> str:
        return self.titles[LANGUAGES.index(language)]


PRODUCER_COLUMNS = (
    Column(
        "code",
        ("code", "código", "código"),
        ("cod", "producer_code", "codigo_productor", "codigo_produtor"),
        required=True,
    ),
    Column("name", ("name", "nombre", "nome"), ("razon_social", "razao_social"), required=True),
    Column("kind", ("kind", "tipo", "tipo"), ("type", "clase", "forma")),
    Column("story", ("story", "historia", "história"), ("about", "sobre", "bio", "descripcion")),
    Column(
        "place",
        ("place", "lugar", "local"),
        ("localidad", "ciudad", "cidade", "comuna", "barrio", "bairro", "municipio", "city"),
    ),
    Column(
        "email",
        ("email", "correo", "email"),
        ("e_mail", "mail", "correo_electronico", "contact_email"),
    ),
    Column(
        "phone",
        ("phone", "teléfono", "telefone"),
        ("tel", "fone", "celular", "movil", "whatsapp", "contact_phone"),
    ),
    Column(
        "payout_details",
        ("payout details", "datos de pago", "dados de pagamento"),
        ("payout", "pago", "pagamento", "datos_bancarios", "dados_bancarios", "cuenta", "conta"),
    ),
    Column(
        "members",
        ("members", "miembros", "membros"),
        ("socios", "socias", "integrantes", "asociados", "associados", "cooperados"),
    ),
    Column("active", ("active", "activo", "ativo"), ("activa", "ativa", "enabled")),
    Column("stall", ("stall", "puesto", "banca"), ("stand", "barraca", "mesa")),
)

PRODUCT_COLUMNS = (
    Column(
        "producer",
        ("producer", "productor", "produtor"),
        ("productora", "produtora", "producer_code", "codigo_productor", "codigo_produtor"),
        required=True,
    ),
    Column(
        "sku",
        ("sku", "código", "código"),
        ("code", "ref", "referencia", "reference", "codigo_producto", "codigo_produto"),
        required=True,
    ),
    Column(
        "name",
        ("name", "nombre", "nome"),
        ("product", "producto", "produto", "articulo", "artigo"),
        required=True,
    ),
    Column(
        "price",
        ("price", "precio", "preço"),
        ("valor", "precio_unitario", "preco_unitario", "unit_price", "pvp"),
        required=True,
    ),
    Column("currency", ("currency", "moneda", "moeda"), ("divisa",)),
    Column(
        "unit",
        ("unit", "unidad", "unidade"),
        ("medida", "unidad_de_medida", "unidade_de_medida", "um", "uom"),
    ),
    Column(
        "barcode",
        ("barcode", "código de barras", "código de barras"),
        ("ean", "ean13", "ean_13", "gtin", "codigo_barras", "cod_barras"),
    ),
    Column("stock", ("stock", "existencias", "estoque"), ("inventario", "inventory")),
    Column("category", ("category", "categoría", "categoria"), ("rubro", "seccion", "secao")),
    Column(
        "description",
        ("description", "descripción", "descrição"),
        ("detalle", "detalhes", "details"),
    ),
    Column("active", ("active", "activo", "ativo"), ("activa", "ativa", "visible", "enabled")),
)


def _words(table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {_key(word): value for value, words in table.items() for word in words}


# What people write in a cell, compared as _key() compares; the first word per language is
# what export writes (en, es, pt).
KIND_WORDS = {
    "individual": ("individual", "individual", "individual", "persona", "pessoa", "person"),
    "association": ("association", "asociación", "associação", "asoc", "assoc"),
    "cooperative": ("cooperative", "cooperativa", "cooperativa", "coop"),
}
UNIT_WORDS = {
    "piece": (
        "piece", "unidad", "unidade", "pieces", "pieza", "piezas", "peça", "peças", "unidades",
        "u", "un", "und", "unid", "pc", "pcs", "pza", "item",
    ),
    "kg": ("kg", "kg", "kg", "kgs", "kilo", "kilos", "kilogramo", "kilogramos", "kilograma",
           "kilogramas", "kilogram", "kilograms", "quilo", "quilos", "quilograma", "quilogramas"),
    "g": ("g", "g", "g", "gr", "grs", "gramo", "gramos", "grama", "gramas", "gram", "grams"),
    "l": ("l", "l", "l", "lt", "lts", "litro", "litros", "liter", "liters", "litre", "litres"),
}  # fmt: skip
BOOLEAN_WORDS = {
    True: ("yes", "sí", "sim", "y", "si", "s", "true", "verdadero", "verdadeiro", "1", "x",
           "active", "activo", "activa", "ativo", "ativa"),
    False: ("no", "no", "não", "n", "nao", "false", "falso", "0", "inactive", "inactivo",
            "inactiva", "inativo", "inativa"),
}  # fmt: skip
_KINDS, _UNITS, _BOOLEANS = _words(KIND_WORDS), _words(UNIT_WORDS), _words(BOOLEAN_WORDS)
assert set(_KINDS.values()) == set(PRODUCER_KINDS) and set(_UNITS.values()) == set(UNITS)


def _word(words: dict[Any, tuple[str, ...]], value: Any, language: str) -> str:
    return words[value][LANGUAGES.index(language)]


# -- reading the file ------------------------------------------------------------------------


@dataclass
class Sheet:
    """A CSV file as read: how it was decoded and split, its header and its rows.

    Each row is ``(line, cells)``: the line of the file where the row starts, as a
    spreadsheet program or a text editor numbers it.
    """

    encoding: str
    delimiter: str
    header_line: int
    header: list[str]
    rows: list[tuple[int, list[str]]]


def decode(data: bytes) -> tuple[str, str]:
    """The text of ``data`` and the encoding it was read in.

    UTF-8 first (with or without a BOM): text that decodes as UTF-8 is almost never meant as
    anything else. Then cp1252, what spreadsheet programs on Windows save as "CSV"; it
    leaves five bytes undefined, so Latin-1 (which maps every byte) is the last resort.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _first_line(text: str) -> str:
    for line in io.StringIO(text, newline=None):
        if line.strip():
            return line
    return ""


def detect_delimiter(text: str, columns: Iterable[Column] = ()) -> str:
    """``,``, ``;`` or tab, whichever the file uses.

    :class:`csv.Sniffer` judges from how regularly each candidate repeats, which a decimal
    comma can fool. The header cannot be fooled: whichever candidate splits it into the
    most column names feria knows wins, and the sniffer's guess is kept when it ties.
    """
    sample = text[:16_384]
    if len(text) > len(sample) and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    try:
        sniffed: str | None = csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        sniffed = None
    header = _first_line(text)
    known = set().union(*(c.header_keys() for c in columns)) if columns else set()

    def score(d: str) -> tuple[int, int]:
        try:
            cells = next(csv.reader([header], delimiter=d), [])
        except csv.Error:
            cells = []
        return sum(_key(c) in known for c in cells), header.count(d)

    best = max(DELIMITERS, key=score)
    if sniffed in DELIMITERS and score(sniffed)[0] == score(best)[0]:
        return sniffed
    return best


def read_sheet(data: bytes, columns: Iterable[Column] = ()) -> Sheet:
    """Decode ``data`` and split it into rows; malformed CSV is a :class:`CsvImportError`."""
    text, encoding = decode(data)
    delimiter = detect_delimiter(text, columns)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[tuple[int, list[str]]] = []
    line = 1
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                rows.append((line, cells))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise CsvImportError(
            [
                RowError(
                    line,
                    None,
                    f"this is not valid CSV ({exc}): a cell that holds quotes, line breaks "
                    f"or the separator {_shown(delimiter)} must be in double quotes, with "
                    "its own quotes doubled",
                )
            ]
        ) from exc
    if not rows:
        raise CsvImportError([RowError(1, None, "the file is empty: expected a header row")])
    (header_line, header), body = rows[0], rows[1:]
    return Sheet(encoding, delimiter, header_line, [h.strip() for h in header], body)


def _shown(delimiter: str) -> str:
    return "tab" if delimiter == "\t" else repr(delimiter)


@dataclass
class Layout:
    """Which cell of a row holds which field, and the header the person gave each one."""

    index: dict[str, int]
    names: dict[str, str]
    width: int
    warnings: list[str]

    def __contains__(self, fieldname: str) -> bool:
        return fieldname in self.index


def map_header(sheet: Sheet, columns: Iterable[Column], errors: list[RowError]) -> Layout:
    """Match the header to ``columns``; problems (missing, doubled, misspelt) go to ``errors``.

    A column feria does not know is left unread with a warning (organizers keep notes in
    their sheets), unless its name is close to one feria knows: then it is probably a typo,
    and ignoring it would drop that column's data silently.
    """
    columns = tuple(columns)
    by_key = {k: c for c in columns for k in c.header_keys()}
    index: dict[str, int] = {}
    names: dict[str, str] = {}
    warnings: list[str] = []
    line = sheet.header_line
    for i, name in enumerate(sheet.header):
        key = _key(name)
        if not key:
            continue
        col = by_key.get(key)
        if col is None:
            close = difflib.get_close_matches(key, by_key, n=1, cutoff=0.8)
            if close:
                suggestion = by_key[close[0]].title("en")
                errors.append(
                    RowError(
                        line,
                        name,
                        f"not a column feria reads: did you mean {close[0]} "
                        f"({suggestion})? Rename it, or remove it",
                    )
                )
            else:
                warnings.append(f"column {name!r} is not read (feria reads: {_known(columns)})")
        elif col.field in index:
            errors.append(
                RowError(
                    line,
                    name,
                    f"{names[col.field]!r} already gives the {col.field}: "
                    "keep only one of the two columns",
                )
            )
        else:
            index[col.field] = i
            names[col.field] = name
    for col in columns:
        if col.required and col.field not in index:
            errors.append(
                RowError(
                    line,
                    None,
                    f"missing column {col.field}: expected a column headed "
                    f"{' / '.join(dict.fromkeys(col.titles))}",
                )
            )
    return Layout(index, names, len(sheet.header), warnings)


def _known(columns: Iterable[Column]) -> str:
    return ", ".join(c.field for c in columns)


_BAD = object()  # a cell that failed its check (the error is already recorded)
T = TypeVar("T")


class _Row:
    """One row's cells by field, recording each failed check as a :class:`RowError`."""

    __slots__ = ("line", "cells", "layout", "errors", "ok")

    def __init__(self, line: int, cells: list[str], layout: Layout, errors: list[RowError]):
        self.line, self.cells, self.layout, self.errors = line, cells, layout, errors
        self.ok = True
        extra = [c for c in cells[layout.width :] if c.strip()]
        if extra:
            self.fail(
                None,
                f"{len(cells)} cells but the header has {layout.width} columns: a cell that "
                "holds the separator must be in double quotes",
            )

    def get(self, fieldname: str) -> str:
        i = self.layout.index.get(fieldname)
        if i is None or i >= len(self.cells):
            return ""
        return read_text_cell(self.cells[i].strip())

    def fail(self, fieldname: str | None, message: str) -> None:
        column = None if fieldname is None else self.layout.names.get(fieldname, fieldname)
        self.errors.append(RowError(self.line, column, message))
        self.ok = False

    def check(self, fieldname: str, fn: Callable[[str], T]) -> T | Any:
        try:
            return fn(self.get(fieldname))
        except (InvalidCatalogue, MoneyError) as exc:
            self.fail(fieldname, _plain(exc))
            return _BAD


# -- one check per field ---------------------------------------------------------------------
# The catalogue service's checks are reused where it has them (text lengths, members, EAN,
# stock); these add reading a cell the way people fill it in.


def _code(text: str) -> str:
    return check_producer_code(text)


def _choice(words: dict[str, tuple[str, ...]], read: dict[str, str]) -> Callable[[str], str]:
    """A reader of one of ``words``' values, written in any of its words."""
    shown = ", ".join(dict.fromkeys(w for ws in words.values() for w in ws[:3]))

    def choose(text: str) -> str:
        try:
            return read[_key(text)]
        except KeyError:
            raise InvalidCatalogue(f"expected one of {shown}, got {text!r}") from None

    return choose


_choose_kind, _choose_unit = _choice(KIND_WORDS, _KINDS), _choice(UNIT_WORDS, _UNITS)


def _kind(text: str) -> str:
    return _choose_kind(text or "individual")


def _unit(text: str) -> str:
    return _choose_unit(text or "piece")


def _active(text: str) -> bool:
    if not text:
        return True
    try:
        return _BOOLEANS[_key(text)]
    except KeyError:
        raise InvalidCatalogue(f"expected yes or no (sí/no, sim/não), got {text!r}") from None


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _email(text: str) -> str:
    text = _text(text, "email", required=False)
    if text and not _EMAIL.fullmatch(text):
        raise InvalidCatalogue(f"expected an email address like ana@example.org, got {text!r}")
    return text


def _members(text: str) -> list[tuple[str, int]]:
    """``Ana:60|Luis:40`` (percent shares, up to two decimals) as basis points."""
    members: list[tuple[str, int]] = []
    seen: set[str] = set()
    for part in filter(None, (p.strip() for p in text.split("|"))):
        name, colon, share = part.rpartition(":")
        name = name.strip()
        if not colon or not name:
            raise InvalidCatalogue(
                f"expected name:percent for each member, like Ana:60|Luis:40, got {part!r}"
            )
        if name in seen:
            raise InvalidCatalogue(f"{name} is listed twice")
        seen.add(name)
        try:
            percent = Decimal(share.strip().rstrip("%").strip().replace(",", "."))
        except InvalidOperation:
            percent = Decimal("NaN")
        bp = percent * 100 if percent.is_finite() else Decimal("NaN")
        if not bp.is_finite() or bp <= 0 or bp != bp.to_integral_value():
            raise InvalidCatalogue(
                f"{name}: expected a share above 0 in percent with at most two decimals, "
                f"like 60 or 33.33, got {share.strip()!r}"
            )
        members.append((name, int(bp)))
    return validate_members(members)


def _currency(text: str) -> str:
    code = text.upper()
    currency(code)  # UnknownCurrency says what was expected
    return code


def _percent(bp: int, decimal_symbol: str) -> str:
    whole, rest = divmod(bp, SHARES_WHOLE // 100)
    return f"{whole}{decimal_symbol}{rest:02d}".rstrip("0") if rest else str(whole)


# -- where to import ---------------------------------------------------------------------------


def _network(db: Session, slug: str | None) -> Network:
    if slug:
        net = db.scalar(select(Network).where(Network.slug == slug))
        if net is None:
            known = ", ".join(db.scalars(select(Network.slug).order_by(Network.slug))) or "none"
            raise NotFound(f"no network {slug!r} (networks here: {known})", field="network")
        return net
    nets = db.scalars(select(Network).order_by(Network.slug).limit(10)).all()
    if len(nets) == 1:
        return nets[0]
    if not nets:
        raise InvalidCatalogue("there is no network yet: create one first", field="network")
    raise InvalidCatalogue(
        f"there are several networks ({', '.join(n.slug for n in nets)}): say which one",
        field="network",
    )


def _target(db: Session, network: str | None, fair: str | None) -> tuple[Network, Fair | None]:
    """The network (and fair) named, or the only network there is."""
    if fair is None:
        return _network(db, network), None
    found = db.scalar(select(Fair).where(Fair.slug == fair))
    if found is None:
        raise NotFound(f"no fair {fair!r}", field="fair")
    net = _network(db, network) if network else db.get(Network, found.network_id)
    if found.network_id != net.id:
        raise InvalidCatalogue(f"fair {fair!r} is not a fair of network {net.slug!r}", field="fair")
    return net, found


def _only(values: set[str]) -> str | None:
    return next(iter(values)) if len(values) == 1 else None


def _fairs_of(db: Session, net: Network, fair: Fair | None) -> list[Fair]:
    if fair is not None:
        return [fair]
    return list(db.scalars(select(Fair).where(Fair.network_id == net.id)))


def _locale(code: str) -> Locale:
    try:
        return Locale.parse(code.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError) as exc:
        raise InvalidCatalogue(
            f"locale: unknown locale {code!r}: expected a code like es, es_AR or pt_BR",
            field="locale",
        ) from exc


def _decimal_symbol(locale: str) -> str:
    return _locale(locale).number_symbols["latn"]["decimal"]


def _language(locale: str) -> str:
    language = _locale(locale).language
    return language if language in LANGUAGES else "en"


# -- import ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportReport:
    """What an import did (or, for a dry run, would do)."""

    what: str
    created: int
    updated: int
    dry_run: bool
    encoding: str
    delimiter: str
    warnings: tuple[str, ...] = ()

    @property
    def rows(self) -> int:
        return self.created + self.updated

    def summary(self) -> str:
        read = f"(read as {self.encoding}, separated by {_shown(self.delimiter)})"
        what = self.what if self.rows != 1 else self.what.removesuffix("s")
        if self.dry_run:
            return (
                f"dry run: {self.rows} {what} checked, {self.created} would be created and "
                f"{self.updated} updated; nothing was written {read}"
            )
        return f"imported {self.rows} {what}: {self.created} created, {self.updated} updated {read}"


def _checking(rows: list[T], progress: Progress | None) -> Iterator[T]:
    total = len(rows)
    for n, row in enumerate(rows):
        if progress and n % PROGRESS_STEP == 0:
            progress("checking", n, total)
        yield row
    if progress:
        progress("checking", total, total)


def _session(engine: Engine, dry_run: bool) -> AbstractContextManager[Session]:
    # A dry run only reads, so it never takes the write lock the tills queue behind.
    return read_session(engine) if dry_run else write_session(engine)


def _chunks(items: list[T], size: int = PROGRESS_STEP) -> Iterator[list[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _update_by_id(table: Any, fields: Iterable[str]) -> Any:
    # Bind names must differ from column names in a SET clause, hence the prefix.
    return (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values({f: bindparam(f"new_{f}") for f in fields})
    )


def _update_rows(rows: list[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
    return [{"row_id": i, **{f"new_{k}": v for k, v in values.items()}} for i, values in rows]


@dataclass
class _ProducerRow:
    line: int
    code: str
    values: dict[str, Any]  # producers columns the file gives
    members: list[tuple[str, int]] | None  # None: the file has no members column
    stall: str | None


_PRODUCER_TEXT = {  # CSV field -> (producers column, longest text accepted)
    "story": ("story", 5000),
    "place": ("place", 300),
    "phone": ("contact_phone", 64),
    "payout_details": ("payout_details", 2000),
}
_PRODUCER_DEFAULTS = {
    "kind": "individual",
    "story": "",
    "place": "",
    "contact_email": "",
    "contact_phone": "",
    "payout_details": "",
    "active": True,
}


def _read_producer(row: _Row, layout: Layout) -> _ProducerRow | None:
    code = row.check("code", _code)
    values: dict[str, Any] = {"name": row.check("name", lambda t: _text(t, "name"))}
    if "kind" in layout:
        values["kind"] = row.check("kind", _kind)
    for name, (column, max_len) in _PRODUCER_TEXT.items():
        if name in layout:
            values[column] = row.check(
                name, lambda t, n=name, m=max_len: _text(t, n, required=False, max_len=m)
            )
    if "email" in layout:
        values["contact_email"] = row.check("email", _email)
    if "active" in layout:
        values["active"] = row.check("active", _active)
    members = row.check("members", _members) if "members" in layout else None
    stall = (
        row.check("stall", lambda t: _text(t, "stall", required=False, max_len=32))
        if "stall" in layout
        else None
    )
    if not row.ok:
        return None
    return _ProducerRow(row.line, code, values, members, stall)


def import_producers(
    engine: Engine,
    data: bytes,
    *,
    network: str | None = None,
    fair: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Create or update the producers listed in the CSV ``data``, all or nothing.

    With ``fair``, every producer in the file also takes part in that fair, at the stall
    its ``stall`` cell names. Raises :class:`CsvImportError` listing every problem.
    """
    sheet = read_sheet(data, PRODUCER_COLUMNS)
    with read_session(engine) as db:
        net, target_fair = _target(db, network, fair)
    errors: list[RowError] = []
    layout = map_header(sheet, PRODUCER_COLUMNS, errors)
    if "stall" in layout and target_fair is None:
        errors.append(
            RowError(
                sheet.header_line,
                layout.names["stall"],
                "a stall is a place at one fair: name the fair to import into",
            )
        )
    if errors:
        raise CsvImportError(errors)

    rows: list[_ProducerRow] = []
    first_line: dict[str, int] = {}
    for line, cells in _checking(sheet.rows, progress):
        row = _Row(line, cells, layout, errors)
        parsed = _read_producer(row, layout)
        if parsed is None:
            continue
        if parsed.code in first_line:
            row.fail("code", f"producer {parsed.code} is already on line {first_line[parsed.code]}")
            continue
        first_line[parsed.code] = line
        rows.append(parsed)

    with _session(engine, dry_run) as db:
        conn = db.connection()
        plan = _plan_producers(conn, net.id, rows, layout, errors)
        if errors:
            raise CsvImportError(errors)
        if not dry_run:
            _write_producers(conn, net.id, target_fair, plan, progress)
    return ImportReport(
        "producers",
        created=len(plan.new),
        updated=len(plan.existing),
        dry_run=dry_run,
        encoding=sheet.encoding,
        delimiter=sheet.delimiter,
        warnings=tuple(layout.warnings),
    )


@dataclass
class _ProducerPlan:
    new: list[_ProducerRow] = field(default_factory=list)
    existing: list[tuple[int, _ProducerRow]] = field(default_factory=list)
    # Members of updated cooperatives: (producer id, name, share) to add, (id, share) to
    # change, member ids to remove.
    add_members: list[tuple[int, str, int]] = field(default_factory=list)
    change_members: list[tuple[int, int]] = field(default_factory=list)
    remove_members: list[int] = field(default_factory=list)


def _plan_producers(
    conn: Connection,
    network_id: int,
    rows: list[_ProducerRow],
    layout: Layout,
    errors: list[RowError],
) -> _ProducerPlan:
    p, m = Producer.__table__, Member.__table__
    existing = {
        code: (pid, kind)
        for pid, code, kind in conn.execute(
            select(p.c.id, p.c.code, p.c.kind).where(p.c.network_id == network_id)
        )
    }
    members: dict[int, dict[str, tuple[int, int]]] = {}
    for mid, pid, name, share in conn.execute(
        select(m.c.id, m.c.producer_id, m.c.name, m.c.share_bp)
        .join(p, p.c.id == m.c.producer_id)
        .where(p.c.network_id == network_id)
        .order_by(m.c.id)
    ):
        members.setdefault(pid, {})[name] = (mid, share)
    plan = _ProducerPlan()
    leaving: list[tuple[_ProducerRow, str, int]] = []

    def fail(row: _ProducerRow, fieldname: str | None, message: str) -> None:
        column = None if fieldname is None else layout.names.get(fieldname, fieldname)
        errors.append(RowError(row.line, column, message))

    for row in rows:
        found = existing.get(row.code)
        pid, old_kind = found if found else (None, "individual")
        kind = row.values.get("kind", old_kind)
        old = members.get(pid, {}) if pid is not None else {}
        names = [n for n, _ in row.members] if row.members is not None else list(old)
        if names and kind != "cooperative":
            fail(
                row,
                "kind" if "kind" in layout else "members",
                f"only a cooperative has members, and {row.code} has "
                f"{len(names)} ({', '.join(names)}): make it a cooperative or empty its members",
            )
            continue
        if pid is None:
            plan.new.append(row)
            continue
        plan.existing.append((pid, row))
        if row.members is None:
            continue
        for name, share in row.members:
            if name not in old:
                plan.add_members.append((pid, name, share))
            elif old[name][1] != share:
                plan.change_members.append((old[name][0], share))
        leaving += [(row, name, mid) for name, (mid, _) in old.items() if name not in names]

    if leaving:
        from feria.cashbox.models import MemberSplit  # the catalogue is below the cashbox

        split = MemberSplit.__table__
        ids = [mid for _, _, mid in leaving]
        with_splits = set()
        for chunk in _chunks(ids):
            with_splits.update(
                conn.scalars(select(split.c.member_id).where(split.c.member_id.in_(chunk)))
            )
        for row, name, mid in leaving:
            if mid in with_splits:
                fail(
                    row,
                    "members",
                    f"{name} has sales split to them and cannot be removed: keep them in the list",
                )
            else:
                plan.remove_members.append(mid)
    return plan


def _producer_values(row: _ProducerRow) -> dict[str, Any]:
    return {**_PRODUCER_DEFAULTS, **row.values}


def _write_producers(
    conn: Connection,
    network_id: int,
    fair: Fair | None,
    plan: _ProducerPlan,
    progress: Progress | None,
) -> None:
    p, m = Producer.__table__, Member.__table__
    total, done = len(plan.new) + len(plan.existing), 0
    for chunk in _chunks(plan.new):
        conn.execute(
            insert(p),
            [{"network_id": network_id, "code": r.code, **_producer_values(r)} for r in chunk],
        )
        done += len(chunk)
        if progress:
            progress("writing", done, total)
    ids = {
        code: pid
        for pid, code in conn.execute(select(p.c.id, p.c.code).where(p.c.network_id == network_id))
    }
    if plan.existing:
        fields = plan.existing[0][1].values.keys()  # the same columns on every row
        conn.execute(
            _update_by_id(p, fields), _update_rows([(i, r.values) for i, r in plan.existing])
        )
    new_members = [
        {"producer_id": ids[r.code], "name": n, "share_bp": s}
        for r in plan.new
        for n, s in r.members or ()
    ] + [{"producer_id": pid, "name": n, "share_bp": s} for pid, n, s in plan.add_members]
    if plan.remove_members:
        for chunk in _chunks(plan.remove_members):
            conn.execute(delete(m).where(m.c.id.in_(chunk)))
    if plan.change_members:
        conn.execute(
            _update_by_id(m, ["share_bp"]),
            _update_rows([(mid, {"share_bp": s}) for mid, s in plan.change_members]),
        )
    if new_members:
        conn.execute(insert(m), new_members)
    if fair is not None:
        _join_fair(
            conn,
            fair.id,
            [(ids[r.code], r.stall) for r in [*plan.new, *(r for _, r in plan.existing)]],
        )
    if progress:
        progress("writing", total, total)


def _join_fair(conn: Connection, fair_id: int, stalls: list[tuple[int, str | None]]) -> None:
    """Every producer takes part in the fair; a stall cell (even empty) sets their stall."""
    part = Participation.__table__
    taking_part = dict(
        conn.execute(select(part.c.producer_id, part.c.id).where(part.c.fair_id == fair_id)).all()
    )
    joins = [
        {"fair_id": fair_id, "producer_id": pid, "stall": stall or ""}
        for pid, stall in stalls
        if pid not in taking_part
    ]
    moves = [
        (taking_part[pid], {"stall": stall})
        for pid, stall in stalls
        if pid in taking_part and stall is not None
    ]
    if joins:
        conn.execute(insert(part), joins)
    if moves:
        conn.execute(_update_by_id(part, ["stall"]), _update_rows(moves))


@dataclass
class _ProductRow:
    line: int
    producer: str
    sku: str
    values: dict[str, Any]  # products columns the file gives


_PRODUCT_TEXT = {"category": 100, "description": 5000}
_PRODUCT_DEFAULTS = {
    "barcode": None,
    "description": "",
    "category": "",
    "unit": "piece",
    "stock": None,
    "active": True,
    "image": "",
}


class _Prices:
    """Reads price cells; the same text in the same currency is read once (files repeat
    their prices a lot, and reading an amount is the costliest check of a row)."""

    def __init__(self, default_currency: str | None, locale: str | None) -> None:
        self.default_currency, self.locale = default_currency, locale
        self.read: dict[tuple[str, str], int | Exception] = {}

    def __call__(self, text: str, code: str) -> int:
        got = self.read.get((text, code))
        if got is None:
            try:
                got = self._parse(text, code)
            except (InvalidCatalogue, MoneyError) as exc:
                got = exc
            self.read[(text, code)] = got
        if isinstance(got, Exception):
            raise got
        return got

    def _parse(self, text: str, code: str) -> int:
        if not text:
            raise InvalidCatalogue("expected a price")
        locale = self.locale
        if locale is None:
            if re.search(r"[.,'\s]", text):
                raise InvalidCatalogue(
                    f"{text!r} could be read more than one way: say which locale the prices "
                    "are written in (for example es, es_AR or pt_BR)"
                )
            locale = "en"
        amount = Money.parse(text, code, locale).amount
        if amount < 0:
            raise InvalidCatalogue(f"expected a price of 0 or more, got {text!r}")
        return amount


def _read_product(row: _Row, layout: Layout, prices: _Prices) -> _ProductRow | None:
    producer = row.check("producer", _code)
    sku = row.check("sku", lambda t: _text(t, "sku", max_len=64))
    values: dict[str, Any] = {"name": row.check("name", lambda t: _text(t, "name"))}
    code = prices.default_currency
    if row.get("currency"):
        code = values["currency"] = row.check("currency", _currency)
    elif code is None:
        row.fail(
            "currency" if "currency" in layout else "price",
            "expected a currency: the network has no single fair currency to assume, "
            "so say which currency prices are in",
        )
        code = _BAD
    else:
        values["currency"] = code
    if code is not _BAD:
        values["price"] = row.check("price", lambda t: prices(t, code))
    if "unit" in layout:
        values["unit"] = row.check("unit", _unit)
    if "barcode" in layout:
        values["barcode"] = row.check("barcode", check_barcode)
    if "stock" in layout:
        values["stock"] = row.check("stock", check_stock)
    for name, max_len in _PRODUCT_TEXT.items():
        if name in layout:
            values[name] = row.check(
                name, lambda t, n=name, m=max_len: _text(t, n, required=False, max_len=m)
            )
    if "active" in layout:
        values["active"] = row.check("active", _active)
    if not row.ok:
        return None
    # Written with the name, by insert and by update alike, so the shop's order follows it.
    values["sort_name"] = name_sort_key(values["name"])
    return _ProductRow(row.line, producer, sku, values)


def _pricing(
    db: Session, net: Network, fair: Fair | None, currency_code: str | None, locale: str | None
) -> tuple[str | None, str | None]:
    """The currency and locale prices are read in: as given, else the fair's (or the
    network's fairs', if they all agree), else none."""
    fairs = _fairs_of(db, net, fair)
    if currency_code:
        try:
            currency_code = _currency(currency_code.strip())
        except MoneyError as exc:
            raise InvalidCatalogue(f"currency: {exc}", field="currency") from exc
    else:
        currency_code = _only({f.currency for f in fairs})
    if locale:
        _locale(locale)
    else:
        locale = _only({f.locale for f in fairs})
    return currency_code, locale


def import_products(
    engine: Engine,
    data: bytes,
    *,
    network: str | None = None,
    fair: str | None = None,
    currency_code: str | None = None,
    locale: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Create or update the products listed in the CSV ``data``, all or nothing.

    Prices are read as typed in ``locale`` and in ``currency_code`` unless a row names its
    own currency; both default to those of ``fair``, else of the network's fairs when they
    all agree. Raises :class:`CsvImportError` listing every problem.
    """
    sheet = read_sheet(data, PRODUCT_COLUMNS)
    with read_session(engine) as db:
        net, target_fair = _target(db, network, fair)
        default_currency, default_locale = _pricing(db, net, target_fair, currency_code, locale)
    errors: list[RowError] = []
    layout = map_header(sheet, PRODUCT_COLUMNS, errors)
    if default_currency is None and "currency" not in layout and "price" in layout:
        errors.append(
            RowError(
                sheet.header_line,
                layout.names["price"],
                "the network has no single fair currency to assume: say which currency the "
                "prices are in, or add a currency column",
            )
        )
    if errors:
        raise CsvImportError(errors)

    prices = _Prices(default_currency, default_locale)
    rows: list[_ProductRow] = []
    first_line: dict[tuple[str, str], int] = {}
    barcode_line: dict[str, int] = {}
    for line, cells in _checking(sheet.rows, progress):
        row = _Row(line, cells, layout, errors)
        parsed = _read_product(row, layout, prices)
        if parsed is None:
            continue
        key = (parsed.producer, parsed.sku)
        if key in first_line:
            row.fail("sku", f"{parsed.producer} {parsed.sku} is already on line {first_line[key]}")
            continue
        barcode = parsed.values.get("barcode")
        if barcode and barcode in barcode_line:
            row.fail("barcode", f"{barcode} is already on line {barcode_line[barcode]}")
            continue
        first_line[key] = line
        if barcode:
            barcode_line[barcode] = line
        rows.append(parsed)

    with _session(engine, dry_run) as db:
        conn = db.connection()
        new, existing = _plan_products(conn, net, rows, layout, errors)
        if errors:
            raise CsvImportError(errors)
        if not dry_run:
            _write_products(conn, new, existing, progress)
    return ImportReport(
        "products",
        created=len(new),
        updated=len(existing),
        dry_run=dry_run,
        encoding=sheet.encoding,
        delimiter=sheet.delimiter,
        warnings=tuple(layout.warnings),
    )


def _plan_products(
    conn: Connection,
    net: Network,
    rows: list[_ProductRow],
    layout: Layout,
    errors: list[RowError],
) -> tuple[list[dict[str, Any]], list[tuple[int, dict[str, Any]]]]:
    """Rows to insert and ``(id, values)`` to update; problems that need the database go to
    ``errors`` (an unknown producer, a barcode another product already has)."""
    p, t = Producer.__table__, Product.__table__
    producer_ids = dict(
        conn.execute(select(p.c.code, p.c.id).where(p.c.network_id == net.id)).all()
    )
    in_file = {producer_ids[r.producer] for r in rows if r.producer in producer_ids}
    known: dict[tuple[int, str], int] = {}
    for chunk in _chunks(sorted(in_file)):
        for pid, sku, product_id in conn.execute(
            select(t.c.producer_id, t.c.sku, t.c.id).where(t.c.producer_id.in_(chunk))
        ):
            known[(pid, sku)] = product_id
    barcodes = sorted({r.values["barcode"] for r in rows if r.values.get("barcode")})
    owner: dict[str, int] = {}
    for chunk in _chunks(barcodes):
        owner.update(conn.execute(select(t.c.barcode, t.c.id).where(t.c.barcode.in_(chunk))).all())

    new: list[dict[str, Any]] = []
    existing: list[tuple[int, dict[str, Any]]] = []
    taken: list[tuple[_ProductRow, int]] = []
    for row in rows:
        pid = producer_ids.get(row.producer)
        if pid is None:
            errors.append(
                RowError(
                    row.line,
                    layout.names["producer"],
                    f"no producer {row.producer} in network {net.slug}: import the producers first",
                )
            )
            continue
        product_id = known.get((pid, row.sku))
        barcode = row.values.get("barcode")
        holder = owner.get(barcode) if barcode else None
        if holder is not None and holder != product_id:
            taken.append((row, holder))
        elif product_id is None:
            new.append(
                {"producer_id": pid, "sku": row.sku, "extra": {}, **_PRODUCT_DEFAULTS, **row.values}
            )
        else:
            existing.append((product_id, row.values))
    if taken:
        held_by: dict[int, str] = {}
        for chunk in _chunks(sorted({holder for _, holder in taken})):
            for product_id, code, sku in conn.execute(
                select(t.c.id, p.c.code, t.c.sku)
                .join(p, p.c.id == t.c.producer_id)
                .where(t.c.id.in_(chunk))
            ):
                held_by[product_id] = f"{code} {sku}"
        for row, holder in taken:
            errors.append(
                RowError(
                    row.line,
                    layout.names["barcode"],
                    f"{row.values['barcode']} is already the barcode of {held_by[holder]}",
                )
            )
    return new, existing


def _write_products(
    conn: Connection,
    new: list[dict[str, Any]],
    existing: list[tuple[int, dict[str, Any]]],
    progress: Progress | None,
) -> None:
    t = Product.__table__
    total, done = len(new) + len(existing), 0
    for chunk in _chunks(new):
        conn.execute(insert(t), chunk)
        done += len(chunk)
        if progress:
            progress("writing", done, total)
    # Rows may differ in which columns they give (a currency cell left empty), so updates
    # are grouped by the set of columns they change.
    groups: dict[tuple[str, ...], list[tuple[int, dict[str, Any]]]] = {}
    for product_id, values in existing:
        groups.setdefault(tuple(values), []).append((product_id, values))
    for fields, rows in groups.items():
        for chunk in _chunks(rows):
            conn.execute(_update_by_id(t, fields), _update_rows(chunk))
            done += len(chunk)
            if progress:
                progress("writing", done, total)


# -- export ------------------------------------------------------------------------------------


def _export_locale(db: Session, net: Network, fair: Fair | None, locale: str | None) -> str:
    if locale:
        _locale(locale)
        return locale
    return _only({f.locale for f in _fairs_of(db, net, fair)}) or "en"


def _writer(delimiter: str | None, locale: str) -> tuple[io.StringIO, Any]:
    if delimiter is None:  # where the decimal mark is a comma, spreadsheets separate with ;
        delimiter = ";" if _decimal_symbol(locale) == "," else ","
    if delimiter not in DELIMITERS:
        raise InvalidCatalogue("delimiter: expected one of , ; or a tab", field="delimiter")
    buffer = io.StringIO()
    return buffer, csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")


def _encoded(buffer: io.StringIO, bom: bool) -> bytes:
    return (codecs.BOM_UTF8 if bom else b"") + buffer.getvalue().encode("utf-8")


_NUMBERS = frozenset({"price", "stock"})
"""The product columns written as numbers; every other cell is text (see
:func:`feria.csvsafe.text_cell`)."""


def export_producers(
    engine: Engine,
    *,
    network: str | None = None,
    fair: str | None = None,
    locale: str | None = None,
    delimiter: str | None = None,
    bom: bool = True,
) -> bytes:
    """The network's producers as CSV that :func:`import_producers` reads back.

    With ``fair``, only the producers taking part in it, with their stalls.
    """
    with read_session(engine) as db:
        net, target_fair = _target(db, network, fair)
        locale = _export_locale(db, net, target_fair, locale)
        language, dec = _language(locale), _decimal_symbol(locale)
        buffer, out = _writer(delimiter, locale)
        p, m, part = Producer.__table__, Member.__table__, Participation.__table__
        columns = [c for c in PRODUCER_COLUMNS if c.field != "stall" or target_fair is not None]
        out.writerow([c.title(language) for c in columns])
        members: dict[int, list[str]] = {}
        for pid, name, share in db.execute(
            select(m.c.producer_id, m.c.name, m.c.share_bp)
            .join(p, p.c.id == m.c.producer_id)
            .where(p.c.network_id == net.id)
            .order_by(m.c.id)
        ):
            members.setdefault(pid, []).append(f"{name}:{_percent(share, dec)}")
        query = select(p).where(p.c.network_id == net.id)
        if target_fair is not None:
            query = query.add_columns(part.c.stall).join(
                part, (part.c.producer_id == p.c.id) & (part.c.fair_id == target_fair.id)
            )
        # Sorted here, not by the database: collations differ, the file must not.
        for r in sorted(db.execute(query), key=lambda r: r.code):
            cells = {
                "code": r.code,
                "name": r.name,
                "kind": _word(KIND_WORDS, r.kind, language),
                "story": r.story,
                "place": r.place,
                "email": r.contact_email,
                "phone": r.contact_phone,
                "payout_details": r.payout_details,
                "members": "|".join(members.get(r.id, ())),
                "active": _word(BOOLEAN_WORDS, bool(r.active), language),
                "stall": r._mapping.get("stall", ""),
            }
            out.writerow([text_cell(cells[c.field]) for c in columns])
    return _encoded(buffer, bom)


def export_products(
    engine: Engine,
    *,
    network: str | None = None,
    locale: str | None = None,
    delimiter: str | None = None,
    bom: bool = True,
) -> bytes:
    """The network's products as CSV that :func:`import_products` reads back."""
    with read_session(engine) as db:
        net, _ = _target(db, network, None)
        locale = _export_locale(db, net, None, locale)
        language, dec = _language(locale), _decimal_symbol(locale)
        buffer, out = _writer(delimiter, locale)
        p, t = Producer.__table__, Product.__table__
        out.writerow([c.title(language) for c in PRODUCT_COLUMNS])
        rows = db.execute(
            select(t, p.c.code).join(p, p.c.id == t.c.producer_id).where(p.c.network_id == net.id)
        )
        for r in sorted(rows, key=lambda r: (r.code, r.sku)):
            cells = {
                "producer": r.code,
                "sku": r.sku,
                "name": r.name,
                # No grouping: the decimal mark alone is unambiguous in every locale.
                "price": str(Money(r.price, r.currency).decimal).replace(".", dec),
                "currency": r.currency,
                "unit": _word(UNIT_WORDS, r.unit, language),
                "barcode": r.barcode or "",
                "stock": "" if r.stock is None else format(Decimal(r.stock), "f").replace(".", dec),
                "category": r.category,
                "description": r.description,
                "active": _word(BOOLEAN_WORDS, bool(r.active), language),
            }
            out.writerow(
                [
                    cells[c.field] if c.field in _NUMBERS else text_cell(cells[c.field])
                    for c in PRODUCT_COLUMNS
                ]
            )
    return _encoded(buffer, bom)
