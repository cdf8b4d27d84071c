"""The organizers' back office: what it shows, what its forms record, the live dashboard's
event stream, and who is refused."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import json
import re
import threading
import time

import pytest
from sqlalchemy import select

from feria.accounts import User
from feria.cashbox.models import Payout, Sale, Split
from feria.cashbox.sessions import add_till, close_session, open_session, record_movement
from feria.catalogue.models import Fair, Network, Producer, Product, RuleVersion
from feria.catalogue.service import create_fair, join_fair
from feria.db import read_session, write_session
from feria.settlement import record_payout, settle
from feria.web.live import LiveSettings

SLUG = "feria-test"


def log_in(client, username: str, password: str) -> None:
    form = client.get("/login")
    answer = client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "csrftoken": form.cookies.get("csrftoken") or client.cookies.get("csrftoken"),
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def token_of(page) -> str:
    found = re.search(r'name="csrftoken" value="([^"]+)"', page.text)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def post_form(client, page_url: str, action: str, data: dict) -> object:
    """Open the page (as a browser would), then send its form with the page's token."""
    page = client.get(page_url)
    assert page.status_code == 200, page.text
    return client.post(action, data={"csrftoken": token_of(page), **data}, follow_redirects=False)


@pytest.fixture
def organizer(client, fair):
    log_in(client, "org", fair.passwords["organizer"])
    return client


def _events(text: str) -> list[dict]:
    out = []
    for block in text.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if ": " in line and line[0] != ":"
        )
        if fields.get("event") == "update":
            out.append({"id": int(fields["id"]), **json.loads(fields["data"])})
    return out


# -- overview, fairs ------------------------------------------------------------------------


def test_the_back_office_lists_the_fairs_with_their_pages(organizer):
    page = organizer.get("/backoffice?lang=en")

    assert page.status_code == 200
    assert "Feria de prueba" in page.text
    for section in ("sessions", "settlement", "rules", "producers", "products"):
        assert f"/backoffice/fairs/{SLUG}/{section}" in page.text


def test_an_organizer_sets_up_a_new_fair_with_its_first_rule_version(organizer, engine):
    answer = post_form(
        organizer,
        "/backoffice?lang=es",
        "/backoffice/fairs",
        {
            "name": "Feria de invierno",
            "slug": "feria-invierno",
            "place": "Valparaíso",
            "starts_on": "2027-06-01",
            "ends_on": "2027-06-03",
            "currency": "clp",
            "locale": "es_CL",
            "timezone": "America/Santiago",
            "solidarity": "2,5",
            "network": "1",
        },
    )

    assert answer.status_code == 303
    with read_session(engine) as db:
        fair = db.scalar(select(Fair).where(Fair.slug == "feria-invierno"))
        rule = db.scalar(select(RuleVersion).where(RuleVersion.fair_id == fair.id))
    assert (fair.currency, fair.timezone, rule.solidarity_bp) == ("CLP", "America/Santiago", 250)


def test_a_refused_fair_comes_back_with_the_form_as_sent_and_the_field_marked(organizer):
    answer = post_form(
        organizer,
        "/backoffice",
        "/backoffice/fairs",
        {
            "name": "Otra feria",
            "slug": "Not A Slug!",
            "starts_on": "2027-06-01",
            "ends_on": "2027-06-03",
            "currency": "CLP",
            "network": "1",
        },
    )

    assert answer.status_code == 400
    assert 'role="alert"' in answer.text
    assert 'value="Otra feria"' in answer.text
    assert re.search(r'id="f-slug"[^>]*aria-invalid="true"', answer.text)


# -- producers, products, users ----------------------------------------------------------


def test_producers_are_listed_with_cooperative_members_and_stalls(organizer):
    page = organizer.get(f"/backoffice/fairs/{SLUG}/producers?lang=es")

    assert page.status_code == 200
    assert "Cooperativa Textil" in page.text
    assert "Ana (60" in page.text and "Luis (40" in page.text
    assert "B1" in page.text  # P07's stall
    # P09 does not take part: a form offers to add it, with a label on its stall input.
    assert f"/backoffice/fairs/{SLUG}/producers/" in page.text
    assert re.search(r'<label for="stall-\d+">', page.text)


def test_an_organizer_adds_a_cooperative_with_its_members_to_the_fair(organizer, engine, fair):
    answer = post_form(
        organizer,
        f"/backoffice/fairs/{SLUG}/producers",
        f"/backoffice/fairs/{SLUG}/producers",
        {
            "code": "p12",
            "name": "Panadería Recuperada",
            "kind": "cooperative",
            "members": "Marta: 50\nJosé = 30\nInés: 20 %",
            "join": "1",
            "stall": "C4",
        },
    )

    assert answer.status_code == 303
    with read_session(engine) as db:
        p = db.scalar(select(Producer).where(Producer.code == "P12"))
        shares = [(m.name, m.share_bp) for m in p.members]
    assert shares == [("Marta", 5000), ("José", 3000), ("Inés", 2000)]
    page = organizer.get(f"/backoffice/fairs/{SLUG}/producers")
    assert "Panadería Recuperada" in page.text and "C4" in page.text


def test_shares_that_do_not_add_up_are_refused_and_nothing_is_written(organizer, engine):
    answer = post_form(
        organizer,
        f"/backoffice/fairs/{SLUG}/producers",
        f"/backoffice/fairs/{SLUG}/producers",
        {"code": "P13", "name": "Coop", "kind": "cooperative", "members": "A: 50\nB: 40"},
    )

    assert answer.status_code == 400
    assert "Coop" in answer.text and 'role="alert"' in answer.text
    with read_session(engine) as db:
        assert db.scalar(select(Producer).where(Producer.code == "P13")) is None


def test_a_product_price_is_read_as_people_write_it_in_the_fairs_locale(organizer, engine, fair):
    answer = post_form(
        organizer,
        f"/backoffice/fairs/{SLUG}/products?lang=es",
        f"/backoffice/fairs/{SLUG}/products",
        {
            "producer": str(fair.producers["P01"]),
            "name": "Propóleo",
            "sku": "PROP",
            "unit": "piece",
            "price": "$4.500",
        },
    )

    assert answer.status_code == 303
    with read_session(engine) as db:
        product = db.scalar(select(Product).where(Product.sku == "PROP"))
    assert product.price == 4500
    page = organizer.get(f"/backoffice/fairs/{SLUG}/products?producer={fair.producers['P01']}")
    assert "Propóleo" in page.text and "$4.500" in page.text and "Tomates" not in page.text


def test_an_organizer_adds_a_producer_login_for_a_cooperative(organizer, engine, fair, client):
    answer = post_form(
        organizer,
        "/backoffice/users",
        "/backoffice/users",
        {
            "username": "delegada",
            "display_name": "Delegada Textil",
            "password": "una clave larga",
            "role": "producer",
            "producer": str(fair.producers["P07"]),
        },
    )

    assert answer.status_code == 303
    with read_session(engine) as db:
        user = db.scalar(select(User).where(User.username == "delegada"))
    assert (user.role, user.producer_id) == ("producer", fair.producers["P07"])
    page = organizer.get("/backoffice/users")
    assert "delegada" in page.text and "una clave larga" not in page.text


def test_a_refused_user_form_never_sends_the_password_back(organizer):
    answer = post_form(
        organizer,
        "/backoffice/users",
        "/backoffice/users",
        {"username": "org", "password": "secreto-largo-1", "role": "cashier"},
    )

    assert answer.status_code == 400
    assert "secreto-largo-1" not in answer.text


# -- rules --------------------------------------------------------------------------------


def test_a_new_rule_version_applies_to_later_sales_and_never_changes_recorded_money(
    organizer, engine, fair, sell
):
    before = sell(
        [{"producer_code": "P01", "amount": 10_000}], [{"method": "cash", "amount": 10_000}]
    )
    with read_session(engine) as db:
        settled_before = settle(db, fair.fair_id, as_of=before.seq).to_json_bytes()

    answer = post_form(
        organizer,
        f"/backoffice/fairs/{SLUG}/rules?lang=es",
        f"/backoffice/fairs/{SLUG}/rules",
        {
            "solidarity": "10",
            "fee_bp.card": "3",
            "fee_fixed.card": "",
            "fee_bp.cash": "0",
            "rates": "",
            "note": "Asamblea de diciembre",
        },
    )
    assert answer.status_code == 303
    after = sell(
        [{"producer_code": "P01", "amount": 10_000}], [{"method": "cash", "amount": 10_000}]
    )

    with read_session(engine) as db:
        withheld = dict(db.execute(select(Split.sale_id, Split.withheld)).all())
        # The settlement as of the first sale is byte for byte what it was.
        assert settle(db, fair.fair_id, as_of=before.seq).to_json_bytes() == settled_before
    assert withheld[before.id] == 500  # 5 %, the version in force when it was rung up
    assert withheld[after.id] == 1000  # 10 %, the new version
    page = organizer.get(f"/backoffice/fairs/{SLUG}/rules?lang=es")
    assert "Asamblea de diciembre" in page.text
    assert re.search(r"<th scope=\"row\">2 <span class=\"badge ok\">vigente", page.text)


def test_a_version_decided_for_later_waits_for_its_time(organizer, engine, fair, sell):
    answer = post_form(
        organizer,
        f"/backoffice/fairs/{SLUG}/rules",
        f"/backoffice/fairs/{SLUG}/rules",
        {"solidarity": "20", "effective_at": "2099-01-01 09:30", "note": "Para el próximo siglo"},
    )
    sale = sell(
        [{"producer_code": "P01", "amount": 10_000}], [{"method": "cash", "amount": 10_000}]
    )

    assert answer.status_code == 303
    with read_session(engine) as db:
        later = db.scalar(select(RuleVersion).where(RuleVersion.version == 2))
        withheld = db.scalar(select(Split.withheld).where(Split.sale_id == sale.id))
    assert later.effective_at == dt.datetime(2099, 1, 1, 9, 30)  # the fair's zone is UTC
    assert withheld == 500  # version 1 is still the one in force
    page = organizer.get(f"/backoffice/fairs/{SLUG}/rules?lang=en")
    assert re.search(r'<th scope="row">1 <span class="badge ok">in force', page.text)


def test_a_rule_form_with_a_bad_percentage_names_the_field(organizer, engine):
    answer = post_form(
        organizer,
        f"/backoffice/fairs/{SLUG}/rules?lang=en",
        f"/backoffice/fairs/{SLUG}/rules?lang=en",
        {"solidarity": "150"},
    )

    assert answer.status_code == 400
    assert "Write a percentage from 0 to 100" in answer.text
    assert re.search(r'id="f-solidarity"[^>]*aria-invalid="true"', answer.text)
    with read_session(engine) as db:
        assert db.scalar(select(RuleVersion.version).order_by(RuleVersion.version.desc())) == 1


# -- the live dashboard ------------------------------------------------------------------


def test_the_dashboard_shows_sales_per_till_producer_and_tender(organizer, fair, sell):
    sale = sell(
        [{"barcode": "7800000000023"}, {"producer_code": "P01", "amount": 2500}],
        [{"method": "cash", "amount": 20_000}],
    )

    page = organizer.get(f"/backoffice/fairs/{SLUG}?lang=es")

    assert page.status_code == 200
    assert f'data-live-src="/backoffice/fairs/{SLUG}/events?since={sale.seq}"' in page.text
    assert "Caja 1" in page.text
    assert "$15.490" in page.text  # the sale's total, at the till and in the totals
    assert re.search(r'data-producer="P07".*?\$12\.990', page.text, re.S)
    assert re.search(r'data-producer="P01".*?\$2\.500', page.text, re.S)
    assert re.search(r'data-method="cash".*?\$15\.490', page.text, re.S)
    assert f'href="/verify/{sale.id}"' in page.text


def test_the_dashboard_stream_pushes_new_figures_when_a_sale_is_recorded(
    organizer, app, fair, sell
):
    app.state.feria_live = LiveSettings(poll_interval=0.05, lifetime=2.5, keepalive=0.5)

    def ring_up_later():
        time.sleep(0.5)
        sell([{"producer_code": "P02", "amount": 7_770}], [{"method": "cash", "amount": 7_770}])

    seller = threading.Thread(target=ring_up_later)
    seller.start()
    answer = organizer.get(f"/backoffice/fairs/{SLUG}/events?lang=es")
    seller.join()

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert answer.headers["cache-control"].startswith("no-cache")
    assert answer.text.startswith("retry: ")
    updates = _events(answer.text)
    assert len(updates) == 2
    assert "$7.770" not in updates[0]["html"]
    assert "$7.770" in updates[1]["html"]
    assert updates[1]["id"] == updates[1]["seq"] > updates[0]["seq"]
    assert ": keep-alive" in answer.text


def test_the_stream_sends_nothing_when_the_browser_already_shows_the_head(organizer, app, fair):
    app.state.feria_live = LiveSettings(poll_interval=0.05, lifetime=0.4)
    with read_session(app.state.feria.engine) as db:
        from feria import journal

        head = journal.head(db)

    answer = organizer.get(
        f"/backoffice/fairs/{SLUG}/events", headers={"Last-Event-ID": str(head.seq)}
    )

    assert _events(answer.text) == []


@pytest.mark.parametrize("spec", ["2.3", "2.4"])
def test_the_stream_ends_when_the_browser_goes_away(organizer, app, fair, spec):
    """Driven at the ASGI level: the client disconnects after a moment, and the stream must
    end long before its lifetime, whether the server reports the disconnect as a message
    (ASGI 2.3, uvicorn) or only lets the app find it (2.4)."""
    app.state.feria_live = LiveSettings(poll_interval=0.05, lifetime=30)
    cookie = "; ".join(f"{k}={v}" for k, v in organizer.cookies.items())
    path = f"/backoffice/fairs/{SLUG}/events"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": spec},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"cookie", cookie.encode())],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    sent: list[dict] = []

    async def run() -> float:
        started = time.monotonic()
        gone = asyncio.Event()
        asyncio.get_running_loop().call_later(1.5, gone.set)
        requested = False

        async def receive():
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)

        await asyncio.wait_for(app(scope, receive, send), timeout=10)
        return time.monotonic() - started

    # In a thread of its own: a browser test's driver may keep an event loop running in
    # this one for the whole session.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        took = pool.submit(asyncio.run, run()).result()

    assert sent[0]["status"] == 200
    assert took < 6  # the lifetime is 30 s
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert b"event: update" in body


# -- cash sessions -----------------------------------------------------------------------


def test_a_session_closed_with_a_discrepancy_is_shown_in_the_back_office(
    organizer, engine, pm, fair, sell, cash_session
):
    sell([{"producer_code": "P01", "amount": 5_000}], [{"method": "cash", "amount": 5_000}])
    # Float 20,000 + 5,000 expected; 24,000 counted: 1,000 short.
    close_session(
        engine,
        pm,
        session_id=cash_session.id,
        user_id=fair.users["cashier"],
        counted={"CLP": 24_000},
    )

    page = organizer.get(f"/backoffice/fairs/{SLUG}/sessions?lang=es")

    assert page.status_code == 200
    assert "1 sesión cerrada con diferencia." in page.text
    row = re.search(rf'data-session="{cash_session.id}">(.*?)</tr>', page.text, re.S).group(1)
    assert "$25.000" in row and "$24.000" in row
    assert re.search(r'badge warn">.*?\$-1\.000', row, re.S)


def test_a_sessions_paid_ins_and_outs_are_listed_to_explain_its_close(
    organizer, engine, pm, fair, cash_session
):
    cashier = fair.users["cashier"]
    record_movement(
        engine,
        session_id=cash_session.id,
        kind="paid_in",
        amount=5_000,
        reason="monedas para vuelto",
        user_id=cashier,
    )
    record_movement(
        engine,
        session_id=cash_session.id,
        kind="paid_out",
        amount=3_000,
        reason="bolsas para la caja",
        user_id=cashier,
    )
    # Float 20,000 + 5,000 in - 3,000 out = 22,000 expected; 21,000 counted.
    close_session(engine, pm, session_id=cash_session.id, user_id=cashier, counted={"CLP": 21_000})
    with read_session(engine) as db:
        who = db.get(User, cashier)

    page = organizer.get(f"/backoffice/fairs/{SLUG}/sessions?lang=es")

    assert page.status_code == 200
    row = re.search(rf'data-session="{cash_session.id}">(.*?)</tr>', page.text, re.S).group(1)
    assert f'href="#movements-{cash_session.id}">' in row and "$2.000" in row  # net in
    table = re.search(rf'id="movements-{cash_session.id}"(.*?)</table>', page.text, re.S).group(1)
    paid_in = re.search(r'data-kind="paid_in">(.*?)</tr>', table, re.S).group(1)
    paid_out = re.search(r'data-kind="paid_out">(.*?)</tr>', table, re.S).group(1)
    assert "Entrada" in paid_in and "$5.000" in paid_in and "monedas para vuelto" in paid_in
    assert "Salida" in paid_out and "$-3.000" in paid_out and "bolsas para la caja" in paid_out
    assert (who.display_name or who.username) in paid_in
    assert table.index("monedas") < table.index("bolsas")  # in the order they happened


def test_a_fair_without_paid_ins_or_outs_says_so(organizer, cash_session):
    page = organizer.get(f"/backoffice/fairs/{SLUG}/sessions?lang=en")

    assert "No cash has been paid in or out of a drawer at this fair." in page.text
    assert "data-movements" not in page.text


# -- settlement, payouts, exports -------------------------------------------------------------


def test_the_settlement_page_shows_every_producer_and_records_a_payout(
    organizer, engine, fair, sell
):
    sell([{"producer_code": "P01", "amount": 10_000}], [{"method": "cash", "amount": 10_000}])

    page = organizer.get(f"/backoffice/fairs/{SLUG}/settlement?lang=es")
    assert page.status_code == 200
    assert re.search(r'data-producer="P01".*?\$9\.500', page.text, re.S)  # net of the 5 %
    assert "Cooperativa Textil" in page.text

    answer = post_form(
        organizer,
        f"/backoffice/fairs/{SLUG}/settlement?lang=es",
        f"/backoffice/fairs/{SLUG}/payouts",
        {
            "producer": str(fair.producers["P01"]),
            "amount": "$4.000",
            "currency": "CLP",
            "method": "cash",
            "reference": "recibo 17",
        },
    )

    assert answer.status_code == 303
    with read_session(engine) as db:
        payout = db.scalar(select(Payout))
    assert (payout.amount, payout.method, payout.reference) == (4000, "cash", "recibo 17")
    page = organizer.get(f"/backoffice/fairs/{SLUG}/settlement?lang=es")
    assert "recibo 17" in page.text
    assert re.search(r'data-producer="P01".*?\$5\.500', page.text, re.S)  # the balance


def test_a_payout_above_the_balance_is_refused_on_the_page(organizer, engine, fair, sell):
    sell([{"producer_code": "P01", "amount": 1_000}], [{"method": "cash", "amount": 1_000}])

    answer = post_form(
        organizer,
        f"/backoffice/fairs/{SLUG}/settlement",
        f"/backoffice/fairs/{SLUG}/payouts",
        {"producer": str(fair.producers["P01"]), "amount": "5000", "method": "cash"},
    )

    assert answer.status_code == 422
    assert 'role="alert"' in answer.text
    with read_session(engine) as db:
        assert db.scalar(select(Payout)) is None


def test_the_settlement_csv_is_a_spanish_spreadsheet(organizer, fair, sell):
    sell([{"producer_code": "P01", "amount": 10_000}], [{"method": "cash", "amount": 10_000}])

    answer = organizer.get(f"/backoffice/fairs/{SLUG}/settlement.csv?lang=es")

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = answer.text.lstrip("\ufeff").splitlines()
    assert rows[0].startswith("Código;Productor;Socio/a;Moneda;Ventas brutas")
    assert any(r.startswith("P01;Miel del Sur;;CLP;10000;0;500;0;9500;0;9500") for r in rows)


def test_amounts_with_cents_are_written_with_a_decimal_comma_in_spanish(
    organizer, engine, pm, fair
):
    """A fair in reais: the CSV says 12,50, not 12.50."""
    from feria.cashbox.sales import LineRequest, TenderRequest, record_sale

    with write_session(engine) as db:
        other = create_fair(
            db,
            db.get(Network, fair.network_id),
            slug="feira-rs",
            name="Feira em reais",
            starts_on=dt.date(2026, 12, 1),
            ends_on=dt.date(2026, 12, 2),
            currency_code="BRL",
            locale="pt_BR",
        )
        join_fair(db, other, db.get(Producer, fair.producers["P01"]))
        till = add_till(db, other, "R1")
        ids = other.id, till.id
    session = open_session(engine, till_id=ids[1], user_id=fair.users["cashier"], float_amount=0)
    record_sale(
        engine,
        pm,
        key="feira-rs-venda-1",
        session_id=session.id,
        lines=[LineRequest(producer_code="P01", amount=1250)],
        tenders=[TenderRequest(method="cash", amount=1250)],
    )

    spanish = organizer.get("/backoffice/fairs/feira-rs/settlement.csv?lang=es").text
    english = organizer.get("/backoffice/fairs/feira-rs/settlement.csv?lang=en").text

    assert "P01;Miel del Sur;;BRL;12,50;0,00;0,00;0,00;12,50;0,00;12,50" in spanish
    assert "P01,Miel del Sur,,BRL,12.50,0.00,0.00,0.00,12.50,0.00,12.50" in english


def test_the_printable_sheet_carries_the_digest_the_head_and_room_to_sign(
    organizer, engine, fair, sell
):
    sell([{"barcode": "7800000000023"}], [{"method": "cash", "amount": 12_990}])
    with read_session(engine) as db:
        settlement = settle(db, fair.fair_id)
    payout = record_payout(
        engine,
        fair_id=fair.fair_id,
        producer_id=fair.producers["P07"],
        currency="CLP",
        amount=5_000,
        method="transfer",
        reference="",
        user_id=fair.users["organizer"],
    )
    with read_session(engine) as db:
        mine = settle(db, fair.fair_id).for_producer(fair.producers["P07"])

    page = organizer.get(f"/backoffice/fairs/{SLUG}/settlement/{fair.producers['P07']}?lang=es")

    assert page.status_code == 200
    assert mine.digest() in page.text
    assert mine.as_of.hash in page.text and payout.seq == mine.as_of.seq
    assert "Firma" in page.text and "La productora o el productor" in page.text
    assert "Ana" in page.text and "Luis" in page.text  # the members' parts
    assert "figures.css" in page.text
    css = organizer.get("/static/figures.css").text
    assert "@media print" in css
    # As of an earlier entry the sheet is the earlier one, exactly.
    older = organizer.get(
        f"/backoffice/fairs/{SLUG}/settlement/{fair.producers['P07']}?as_of={settlement.as_of.seq}"
    )
    assert settlement.for_producer(fair.producers["P07"]).digest() in older.text


def test_the_main_menu_leads_each_role_to_its_pages(app, client, fair, web_pm):
    from feria.web import backoffice

    if web_pm.get_plugin("feria.web.backoffice") is None:
        web_pm.register(backoffice, name="feria.web.backoffice")
    anonymous = client.get("/?lang=es").text
    log_in(client, "org", fair.passwords["organizer"])
    organizer = client.get("/?lang=es").text

    assert 'href="/verify">Comprobar una venta' in anonymous
    assert 'href="/backoffice"' not in anonymous
    assert 'href="/backoffice">Administración' in organizer


def test_a_sheet_for_a_producer_that_does_not_exist_is_a_404(organizer):
    for pid in ("999999", "99999999999"):
        assert organizer.get(f"/backoffice/fairs/{SLUG}/settlement/{pid}").status_code == 404
    assert organizer.get("/backoffice/fairs/no-such-fair/settlement").status_code == 404


# -- who is refused -----------------------------------------------------------------------------


BACK_OFFICE_PAGES = [
    "/backoffice",
    "/backoffice/users",
    f"/backoffice/fairs/{SLUG}",
    f"/backoffice/fairs/{SLUG}/events",
    f"/backoffice/fairs/{SLUG}/producers",
    f"/backoffice/fairs/{SLUG}/products",
    f"/backoffice/fairs/{SLUG}/rules",
    f"/backoffice/fairs/{SLUG}/sessions",
    f"/backoffice/fairs/{SLUG}/settlement",
    f"/backoffice/fairs/{SLUG}/settlement.csv",
    f"/backoffice/fairs/{SLUG}/settlement/1",
]


@pytest.mark.parametrize("role", ["cashier", "producer", "shopper"])
def test_nobody_but_an_organizer_opens_the_back_office(client, fair, role):
    username = {"cashier": "caja", "producer": "miel", "shopper": "compra"}[role]
    log_in(client, username, fair.passwords[role])

    refused = {url: client.get(url).status_code for url in BACK_OFFICE_PAGES}

    assert set(refused.values()) == {403}, refused


def test_a_cashier_can_neither_settle_nor_edit_the_rules(client, engine, fair):
    log_in(client, "caja", fair.passwords["cashier"])
    home = client.get("/")
    token = token_of(home)

    rules = client.post(
        f"/backoffice/fairs/{SLUG}/rules", data={"csrftoken": token, "solidarity": "50"}
    )
    payout = client.post(
        f"/backoffice/fairs/{SLUG}/payouts",
        data={"csrftoken": token, "producer": "1", "amount": "1", "method": "cash"},
    )
    settlement = client.get(f"/backoffice/fairs/{SLUG}/settlement")

    assert (rules.status_code, payout.status_code, settlement.status_code) == (403, 403, 403)
    with read_session(engine) as db:
        assert db.scalar(select(RuleVersion.version).order_by(RuleVersion.version.desc())) == 1


def test_anyone_not_logged_in_is_sent_to_the_login_form(client, fair):
    answer = client.get(f"/backoffice/fairs/{SLUG}/settlement", follow_redirects=False)

    assert answer.status_code == 303
    assert answer.headers["location"] == f"/login?next=/backoffice/fairs/{SLUG}/settlement"


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("/backoffice/fairs", {"name": "X", "slug": "x"}),
        ("/backoffice/users", {"username": "x", "password": "12345678", "role": "cashier"}),
        (f"/backoffice/fairs/{SLUG}/producers", {"code": "P50", "name": "X"}),
        (f"/backoffice/fairs/{SLUG}/products", {"producer": "1", "sku": "X", "name": "X"}),
        (f"/backoffice/fairs/{SLUG}/rules", {"solidarity": "50"}),
        (f"/backoffice/fairs/{SLUG}/payouts", {"producer": "1", "amount": "1", "method": "c"}),
        (f"/backoffice/fairs/{SLUG}/producers/4/join", {"stall": "Z"}),
    ],
)
def test_every_back_office_form_without_its_csrf_token_is_refused(organizer, engine, action, data):
    with read_session(engine) as db:
        entries_before = db.scalar(select(Sale.id).order_by(Sale.id.desc()))

    answer = organizer.post(action + "?lang=en", data=data, follow_redirects=False)

    assert answer.status_code == 403
    assert "The form has expired" in answer.text
    with read_session(engine) as db:
        assert db.scalar(select(Sale.id).order_by(Sale.id.desc())) == entries_before
        assert db.scalar(select(RuleVersion.version).order_by(RuleVersion.version.desc())) == 1
        assert db.scalar(select(Producer).where(Producer.code == "P50")) is None
