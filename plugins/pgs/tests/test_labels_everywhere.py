"""A label is shown wherever a shopper or a cashier meets the product — the shop's product
page, the till's search, the receipt on the till's screen and the printed receipt — only
while it is valid: revoked, or past its last day, it is gone from all four at the next
look, with no restart and nothing to flush. Driven through feria's real web app, its print
spooler and the virtual printer's bytes; every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from feria_pgs.certification import revoke
from feria_pgs.models import Holding
from sqlalchemy import event, select, update

import feria.labels
from feria.cashbox.models import Till
from feria.catalogue.models import Fair, Product
from feria.db import read_session, write_session
from feria.labels import Label, labels_of_products
from feria.receipts import Spooler, attach, reprint

TODAY = dt.date.today()
BASE = "https://feria.example.org"
ON_PAPER = "feria.example.org"  # a printed address leaves off https://
SIN_PATRON, AGRO = "Hecho sin patrón", "Agroecológico SPG"


@pytest.fixture
def printing(engine, pm, fair, virtual_printer):
    """The fair's till prints to the virtual printer; ``printing()`` prints what is queued
    (as the app's spooler would) and returns the text of the receipts printed since."""
    with write_session(engine) as db:
        db.execute(
            update(Till)
            .where(Till.id == fair.till_id)
            .values(
                printer={
                    "driver": "escpos",
                    "connection": "network",
                    "host": "127.0.0.1",
                    "port": virtual_printer.port,
                    "profile": "80mm",
                    "timeout": 2,
                    "status_timeout": 0.5,
                }
            )
        )
    attach(engine, pm)  # receipts are queued after each sale, as in the running app
    seen = 0

    def _print() -> list[str]:
        nonlocal seen
        handled = Spooler(engine, pm, BASE).drain(timeout=15)
        assert handled, "nothing was queued for printing"
        receipts = virtual_printer.wait_for(seen + handled)
        new, seen = receipts[seen:], len(receipts)
        return [r.text for r in new]

    return _print


def registry(holding_id: int) -> str:
    return f"/-/plugins/pgs/registry/{holding_id}"


def unwrapped(text: str) -> str:
    """A printed receipt's text with its lines joined: an address longer than the paper is
    printed over two lines."""
    return "".join(text.splitlines())


class Everywhere:
    """What the four places show about labels, each read afresh as a new request would."""

    def __init__(self, client, cashier, fair, printing, sale_id: int) -> None:
        self.client, self.cashier, self.fair = client, cashier, fair
        self.printing, self.sale_id = printing, sale_id

    def shop(self, product: str) -> str:
        page = self.client.get(f"/shop/products/{self.fair.products[product]}")
        assert page.status_code == 200, page.text
        return page.text

    def till_search(self, name: str) -> list[dict]:
        """The labels the till's search shows beside the product called ``name``."""
        answer = self.cashier.get("/pos/products", params={"q": name})
        assert answer.status_code == 200, answer.text
        (found,) = [p for p in answer.json() if p["name"] == name]
        return found["labels"]

    def screen_receipt(self) -> str:
        answer = self.cashier.get(f"/pos/receipts/{self.sale_id}")
        assert answer.status_code == 200, answer.text
        return answer.text

    def reprinted_receipt(self, engine, pm) -> str:
        reprint(engine, pm, self.sale_id)
        (text,) = self.printing()
        return text


@pytest.fixture
def sale_with_labels(engine, pm, fair, grant, sell, printing, client, client_as):
    """P07 holds "Hecho sin patrón" as a whole, P01 holds "Agroecológico SPG" for its honey
    only; a sale of the scarf, half a kilo of honey and a free line of P01 is rung up and
    its receipt printed. Returns the holdings' ids, the first printout and the places."""
    decided = TODAY - dt.timedelta(days=30)
    sin_patron = grant("sin-patron", "P07", decided_on=decided)
    agro = grant("agro", "P01", products=("honey",), decided_on=decided)
    sale = sell(
        [
            {"sku": "BUF", "quantity": 1},
            {"sku": "MIEL-KG", "quantity": "0.5"},
            {"producer_code": "P01", "amount": 1_500, "description": "Cera de abeja"},
        ],
        [{"method": "cash", "amount": 20_000}],
    )
    (printed,) = printing()
    places = Everywhere(client, client_as("cashier"), fair, printing, sale.id)
    return sin_patron, agro, printed, places


def test_a_granted_label_shows_in_the_shop_the_till_search_and_on_both_receipts(
    engine, pm, sale_with_labels
):
    sin_patron, agro, printed, places = sale_with_labels

    assert f'href="{registry(sin_patron)}"' in places.shop("scarf")
    assert f'href="{registry(agro)}"' in places.shop("honey")

    (scarf,) = places.till_search("Bufanda")
    assert (scarf["name"], scarf["url"]) == (SIN_PATRON, registry(sin_patron))
    with read_session(engine) as db:
        until = db.get(Holding, sin_patron).valid_until
    assert scarf["granted_by"] == "Comité de garantía de la Red"
    assert scarf["valid_until"] == until.isoformat()
    assert [lb["name"] for lb in places.till_search("Miel")] == [AGRO]
    assert places.till_search("Tomates") == []

    screen = places.screen_receipt()
    assert f'<a class="label" href="{registry(sin_patron)}">{SIN_PATRON}</a>' in screen
    # The honey's label does not cover the free line of the same producer: it says so.
    assert f'<a class="label" href="{registry(agro)}">{AGRO}</a> (solo Miel)' in screen

    assert f"Sello: {SIN_PATRON}" in printed
    assert f"Sello: {AGRO} (Miel)" in printed
    assert ON_PAPER + registry(sin_patron) in unwrapped(printed)
    assert ON_PAPER + registry(agro) in unwrapped(printed)


def test_a_revoked_label_is_gone_from_the_shop_the_till_and_both_receipts_at_once(
    engine, pm, sale_with_labels
):
    sin_patron, agro, printed, places = sale_with_labels
    assert f"Sello: {SIN_PATRON}" in printed

    with write_session(engine) as db:
        revoke(db, sin_patron, reason="Contrató personal asalariado.")

    assert registry(sin_patron) not in places.shop("scarf")
    assert places.till_search("Bufanda") == []
    screen = places.screen_receipt()
    assert SIN_PATRON not in screen and registry(sin_patron) not in screen
    copy = places.reprinted_receipt(engine, pm)
    assert "COPIA" in copy and SIN_PATRON not in copy
    assert registry(sin_patron) not in unwrapped(copy)
    # The other producer's label, still valid, is still read: only the revoked one left.
    assert [lb["name"] for lb in places.till_search("Miel")] == [AGRO]
    assert AGRO in screen and f"Sello: {AGRO} (Miel)" in copy


def test_a_label_past_its_last_day_is_gone_from_the_shop_the_till_and_both_receipts(
    engine, pm, fair, sale_with_labels, monkeypatch
):
    sin_patron, agro, printed, places = sale_with_labels
    with read_session(engine) as db:
        last_day = db.get(Holding, agro).valid_until

    def move_clock(day: dt.date) -> None:
        noon = dt.datetime.combine(day, dt.time(12))
        monkeypatch.setattr(feria.labels, "clock", lambda tz=None: noon.replace(tzinfo=tz))

    move_clock(last_day)  # still valid through its last day
    assert f'href="{registry(agro)}"' in places.shop("honey")
    assert [lb["name"] for lb in places.till_search("Miel")] == [AGRO]

    move_clock(last_day + dt.timedelta(days=1))
    assert registry(agro) not in places.shop("honey")
    assert places.till_search("Miel") == []
    screen = places.screen_receipt()
    assert AGRO not in screen and registry(agro) not in screen
    copy = places.reprinted_receipt(engine, pm)
    assert AGRO not in copy and registry(agro) not in unwrapped(copy)
    # The scarf's label runs for 24 months: still shown everywhere on the same day.
    assert f'href="{registry(sin_patron)}"' in places.shop("scarf")
    assert SIN_PATRON in screen and f"Sello: {SIN_PATRON}" in copy


def test_the_receipt_on_the_screen_reads_labels_on_the_sales_fairs_day_not_the_newest_fairs(
    engine, pm, fair, sale_with_labels, monkeypatch
):
    sin_patron, agro, printed, places = sale_with_labels
    with write_session(engine) as db:
        last_day = db.get(Holding, agro).valid_until
        sold_at = db.get(Fair, fair.fair_id)
        sold_at.timezone = "Pacific/Pago_Pago"  # UTC-11
        later = Fair(
            network_id=sold_at.network_id,
            slug="feria-de-kiritimati",
            name="Feria de Kiritimati",
            starts_on=sold_at.starts_on + dt.timedelta(days=30),
            ends_on=sold_at.ends_on + dt.timedelta(days=30),
            currency=sold_at.currency,
            timezone="Pacific/Kiritimati",  # UTC+14: a day ahead
        )
        db.add(later)
    # The agro label's last day where the sale was made, already the day after in the newer
    # fair's place.
    instant = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(5), tzinfo=dt.UTC)
    monkeypatch.setattr(
        feria.labels, "clock", lambda tz=None: instant.astimezone(tz) if tz else instant
    )
    screen = places.screen_receipt()
    assert AGRO in screen and registry(agro) in screen


def test_the_day_labels_are_valid_on_is_the_fairs_own(monkeypatch):
    # 02:30 on 1 March in UTC is still 28 February in Santiago (UTC-3 in summer).
    instant = dt.datetime(2027, 3, 1, 2, 30, tzinfo=dt.UTC)
    monkeypatch.setattr(
        feria.labels, "clock", lambda tz=None: instant.astimezone(tz) if tz else instant
    )
    assert feria.labels.today("America/Santiago") == dt.date(2027, 2, 28)
    assert feria.labels.today("UTC") == dt.date(2027, 3, 1)
    assert feria.labels.today("Not/AZone") == dt.date(2027, 3, 1)  # the server's date


def _labels_one_by_one(pm, db, products) -> dict[int, list[Label]]:
    out = {}
    for product in products:
        (answer,) = pm.hook.feria_labels(producer=None, product=product, on=TODAY, db=db)
        out[product.id] = answer
    return out


def test_the_labels_of_a_page_of_products_are_those_of_each_product_alone(engine, pm, fair, grant):
    decided = TODAY - dt.timedelta(days=30)
    grant("sin-patron", "P07", decided_on=decided)
    grant("agro", "P01", products=("honey",), decided_on=decided)
    grant("agro", "P07", decided_on=decided)
    with read_session(engine) as db:
        products = list(db.query(Product).order_by(Product.id))
        together = labels_of_products(pm, db, products, TODAY)
        alone = _labels_one_by_one(pm, db, products)
    assert together == alone
    assert [lb.name for lb in together[fair.products["scarf"]]] == [AGRO, SIN_PATRON]
    assert [lb.name for lb in together[fair.products["honey"]]] == [AGRO]
    assert together[fair.products["tomato"]] == []


def test_the_till_search_reads_labels_in_as_many_queries_for_twenty_products_as_for_one(
    engine, pm, fair, grant
):
    from feria.catalogue.service import add_product
    from feria.web.pos import catalogue, with_labels

    decided = TODAY - dt.timedelta(days=30)
    grant("sin-patron", "P07", decided_on=decided)
    grant("agro", "P01", products=("honey",), decided_on=decided)
    with write_session(engine) as db:
        from feria.catalogue.models import Producer

        p7 = db.get(Producer, fair.producers["P07"])
        for i in range(19):
            add_product(
                db, p7, sku=f"PON-{i}", name=f"Poncho {i}", price=30_000, currency_code="CLP"
            )
    with read_session(engine) as db:
        the_fair = db.get(Fair, fair.fair_id)

    def queries(query: str) -> tuple[int, list[dict]]:
        found = catalogue(engine, the_fair, query, 20)
        statements: list[str] = []

        def count(conn, cursor, statement, *args) -> None:
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            with_labels(pm, engine, the_fair, found)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements), found

    one, (scarf,) = queries("Bufanda")
    twenty, ponchos = queries("o")
    assert len(ponchos) == 20
    assert [lb["name"] for lb in scarf["labels"]] == [SIN_PATRON]
    assert all(p["labels"] for p in ponchos if p["name"].startswith("Poncho"))
    assert twenty == one


class OldLabelPlugin:
    """A label plugin written before the batch hook: it answers ``feria_labels`` only."""

    @feria.hookimpl
    def feria_labels(self, producer, product, on, db):
        if product is not None and product.name == "Tomates":
            return [Label("km0", "Kilómetro cero", "Red", None, url="/km0")]
        return []


def test_a_plugin_that_answers_only_for_one_product_at_a_time_still_shows_its_labels(
    engine, pm, fair, grant
):
    grant("sin-patron", "P07", decided_on=TODAY - dt.timedelta(days=30))
    pm.register(OldLabelPlugin(), name="old-labels")
    try:
        with read_session(engine) as db:
            products = [db.get(Product, fair.products[p]) for p in ("tomato", "scarf")]
            found = labels_of_products(pm, db, products, TODAY)
    finally:
        pm.unregister(name="old-labels")
    assert [lb.name for lb in found[fair.products["tomato"]]] == ["Kilómetro cero"]
    # The pgs plugin answers the batch hook and is not asked again one product at a time.
    assert [lb.name for lb in found[fair.products["scarf"]]] == [SIN_PATRON]


def test_the_demo_tills_search_and_printed_receipts_show_the_demo_labels(
    engine, pm, virtual_printer
):
    from starlette.testclient import TestClient

    from feria.cashbox.models import Sale, SaleLine
    from feria.catalogue.models import Producer
    from feria.demo import DEMO_FAIR_SLUG, DEMO_PASSWORD, load_demo
    from feria.testing.clients import BASE_URL, log_in, test_settings
    from feria.web.app import create_app

    with TestClient(create_app(engine, pm, settings=test_settings()), base_url=BASE_URL) as c:
        info = load_demo(engine, pm)  # with its sales: their receipts wait at till T1
        pm.hook.feria_load_demo(engine=engine, pm=pm, fair_slug=DEMO_FAIR_SLUG)  # as `feria demo`
        cashier = log_in(c, "cajera", DEMO_PASSWORD)

        def search(query: str) -> dict[str, list[str]]:
            answer = cashier.get("/pos/products", params={"q": query})
            return {p["sku"]: [lb["name"] for lb in p["labels"]] for p in answer.json()}

        assert search("MIEL-500")["MIEL-500"] == [AGRO]
        assert search("VELAS")["VELAS-CERA"] == []
        assert search("BUFANDA")["BUFANDA"] == [SIN_PATRON]

        with read_session(engine) as db:
            coop = db.scalar(select(Producer.id).where(Producer.code == "P07"))
            coop_sale = db.scalar(
                select(Sale.id)
                .join(SaleLine)
                .where(SaleLine.producer_id == coop, Sale.kind == "sale")
                .order_by(Sale.id)
                .limit(1)
            )
        screen = cashier.get(f"/pos/receipts/{coop_sale}").text
        assert f'">{SIN_PATRON}</a>' in screen

    # The demo's till T1 prints to a virtual printer (port 9100 in the demo; here, ours).
    with write_session(engine) as db:
        till = db.get(Till, info.tills["T1"])
        till.printer = {**till.printer, "port": virtual_printer.port, "status_timeout": 0.5}
    handled = Spooler(engine, pm, BASE).drain(timeout=30)
    receipts = [r.text for r in virtual_printer.wait_for(handled)]
    assert handled >= 2
    assert any(f"Sello: {SIN_PATRON}" in text for text in receipts)
    assert any(f"Sello: {AGRO}" in text for text in receipts)
