"""The settlement figures as tables: the same columns, in the same order and with the same
markup, on the back office's settlement page, on a producer's printable sheet and, for a
cooperative's members, on the producer's own page."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest

from feria.settlement import record_payout

SLUG = "feria-test"

FIGURES = [
    ("Ventas brutas", "num"),
    ("Devoluciones", "num"),
    ("Fondo solidario", "num"),
    ("Comisiones", "num"),
    ("Neto adeudado", "num"),
    ("Pagado", "num"),
    ("Saldo", "num"),
]
# The scarf (12,990) of the cooperative P07, 5 % to the solidarity fund, 5,000 paid out.
P07_FIGURES = ["$12.990", "$0", "$650", "$0", "$12.340", "$5.000", "$7.340"]
MEMBERS_HEAD = [
    ("Socio/a", ""),
    ("Parte", "num"),
    ("Neto", "num"),
    ("Pagado", "num"),
    ("Saldo", "num"),
]


@dataclass
class Cell:
    tag: str
    scope: str
    cls: str
    text: str = ""
    strong: bool = False


@dataclass
class Table:
    """A table of figures inside a scrollable region named by ``labelledby``."""

    labelledby: str
    sections: dict[str, list[list[Cell]]] = field(default_factory=dict)


class Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, Table] = {}
        self._region: str | None = None
        self._table: Table | None = None
        self._rows: list[list[Cell]] | None = None
        self._cell: Cell | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "div" and a.get("role") == "region":
            self._region = a.get("aria-labelledby")
        elif tag == "table" and self._region:
            self._table = self.tables[self._region] = Table(self._region)
        elif tag in ("thead", "tbody", "tfoot") and self._table:
            self._rows = self._table.sections.setdefault(tag, [])
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("th", "td") and self._rows:
            self._cell = Cell(tag, a.get("scope") or "", a.get("class") or "")
            self._rows[-1].append(self._cell)
        elif tag == "strong" and self._cell:
            self._cell.strong = True

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self._cell:
            self._cell.text = " ".join(self._cell.text.split())
            self._cell = None
        elif tag in ("thead", "tbody", "tfoot"):
            self._rows = None
        elif tag == "table":
            self._table = self._region = None

    def handle_data(self, data):
        if self._cell:
            self._cell.text += data


def tables_of(html: str) -> dict[str, Table]:
    parser = Tables()
    parser.feed(html)
    return parser.tables


def head_of(table: Table) -> list[tuple[str, str]]:
    (row,) = table.sections["thead"]
    assert all(c.tag == "th" and c.scope == "col" for c in row)
    return [(c.text, c.cls) for c in row]


def row_of(table: Table, section: str, first: str) -> list[Cell]:
    found = [r for r in table.sections[section] if r and r[0].text == first]
    assert len(found) == 1, [[c.text for c in r] for r in table.sections[section]]
    row = found[0]
    assert row[0].tag == "th" and row[0].scope == "row"
    return row


def figures_of(cells: list[Cell]) -> list[str]:
    assert all(c.tag == "td" and c.cls == "num" for c in cells)
    return [c.text for c in cells]


@pytest.fixture
def scarf_sold_and_part_paid(engine, fair, sell):
    sell([{"barcode": "7800000000023"}], [{"method": "cash", "amount": 12_990}])
    record_payout(
        engine,
        fair_id=fair.fair_id,
        producer_id=fair.producers["P07"],
        currency="CLP",
        amount=5_000,
        method="transfer",
        reference="",
        user_id=fair.users["organizer"],
    )


def test_the_settlement_page_has_every_figure_of_every_producer(
    client_as, fair, scarf_sold_and_part_paid
):
    page = client_as("organizer").get(f"/backoffice/fairs/{SLUG}/settlement?lang=es")

    assert page.status_code == 200
    table = tables_of(page.text)["per-producer"]
    assert head_of(table) == [("Productor(a)", ""), *FIGURES, ("Hoja", "no-print")]
    row = row_of(table, "tbody", "P07 · Cooperativa Textil")
    assert figures_of(row[1:8]) == P07_FIGURES
    assert [c.strong for c in row[1:8]] == [False] * 6 + [True]  # the balance stands out
    assert row[8].cls == "no-print" and row[8].text == "Hoja para imprimir de P07"
    ana = row_of(table, "tbody", "Ana (60%)")
    assert [(c.text, c.cls) for c in ana[1:]] == [
        ("", ""),
        ("$7.404", "num"),
        ("$3.000", "num"),
        ("$4.404", "num"),
        ("", "no-print"),
    ]
    total = row_of(table, "tfoot", "Total CLP")
    assert figures_of(total[1:8]) == P07_FIGURES  # nobody else sold anything
    assert not any(c.strong for c in total)
    assert total[8].cls == "no-print"


def test_the_printable_sheet_has_the_producers_figures_and_members_parts(
    client_as, fair, scarf_sold_and_part_paid
):
    page = client_as("organizer").get(
        f"/backoffice/fairs/{SLUG}/settlement/{fair.producers['P07']}?lang=es"
    )

    assert page.status_code == 200
    tables = tables_of(page.text)
    figures = tables["sheet-figures"]
    assert head_of(figures) == [("Moneda", ""), *FIGURES]
    row = row_of(figures, "tbody", "CLP")
    assert figures_of(row[1:]) == P07_FIGURES
    assert [c.strong for c in row[1:]] == [False] * 6 + [True]
    members = tables["sheet-members-CLP"]
    assert head_of(members) == MEMBERS_HEAD
    assert figures_of(row_of(members, "tbody", "Luis")[1:]) == ["40%", "$4.936", "$2.000", "$2.936"]


def test_a_cooperatives_page_has_its_members_parts(client_as, fair, scarf_sold_and_part_paid):
    page = client_as("producer2").get(f"/producer/{fair.producers['P07']}?lang=es")

    assert page.status_code == 200
    members = tables_of(page.text)["members-CLP"]
    assert head_of(members) == MEMBERS_HEAD
    assert figures_of(row_of(members, "tbody", "Ana")[1:]) == ["60%", "$7.404", "$3.000", "$4.404"]
