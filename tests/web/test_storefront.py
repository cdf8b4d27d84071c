"""The online shop through the real app, on both databases: browsing the catalogue (search,
filters, labels, pages), the cart in the session cookie, checkout, the order at the till,
the producer's view, and the themes."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from feria import hookimpl
from feria.catalogue.models import Fair, Network, Product
from feria.catalogue.service import add_product
from feria.db import read_session, write_session
from feria.labels import Label
from feria.orders import Order, set_order_settings
from feria.payments import Authorization, PaymentMethod
from feria.web.app import create_app
from feria.web.settings import Settings

LABEL = ("sin-patron", "Hecho sin patrón")


class TinyLabels:
    """A certification plugin of one label, held by the cooperative P07 until a date."""

    def __init__(self, producer_id: int, valid_until: dt.date) -> None:
        self.producer_id = producer_id
        self.valid_until = valid_until

    def _valid(self, on: dt.date) -> bool:
        return on <= self.valid_until

    @hookimpl
    def feria_label_filters(self, fair, db):
        return [LABEL] if self._valid(dt.date.today()) else []

    @hookimpl
    def feria_products_with_label(self, code, product_ids, on, db):
        if code != LABEL[0]:
            return None
        if not self._valid(on):
            return set()
        ids = list(product_ids)
        return set(
            db.scalars(
                select(Product.id).where(
                    Product.id.in_(ids), Product.producer_id == self.producer_id
                )
            )
        )

    @hookimpl
    def feria_labels(self, producer, product, on, db):
        owner = product.producer_id if product is not None else getattr(producer, "id", None)
        if owner != self.producer_id or not self._valid(on):
            return []
        return [Label(LABEL[0], LABEL[1], "Comité SPG Santiago", self.valid_until)]


@dataclass
class OnlineStart:
    reference: str
    pay_url: str
    template: str = ""


class OnlineCard(PaymentMethod):
    """An online method following the Stripe plugin's contract (``create_payment``)."""

    code = "testcard"
    name = "Test card"

    def create_payment(self, order_key, amount, description="", metadata=None):
        return OnlineStart(reference=f"pi_{order_key[-8:]}", pay_url="https://pay.example/x")

    def authorize(self, tender, sale):
        return Authorization.approve(reference=tender.reference)


class OnlineCardPlugin:
    @hookimpl
    def feria_payment_methods(self, fair):
        return [OnlineCard()]


@pytest.fixture
def shop_fair(engine, fair):
    """The test fair moved to start next week (it must not be over), with stock on the
    scarf and a label plugin."""
    today = dt.date.today()
    with write_session(engine) as db:
        db.execute(
            update(Fair)
            .where(Fair.id == fair.fair_id)
            .values(starts_on=today + dt.timedelta(days=7), ends_on=today + dt.timedelta(days=30))
        )
        db.execute(update(Product).where(Product.id == fair.products["scarf"]).values(stock="10"))
    return fair


@pytest.fixture
def web_pm(web_pm, fair):
    web_pm.register(
        TinyLabels(fair.producers["P07"], dt.date.today() + dt.timedelta(days=200)), name="tiny"
    )
    web_pm.register(OnlineCardPlugin(), name="test-online-card")
    return web_pm


@pytest.fixture
def app(engine, web_pm, shop_fair, settings):
    return create_app(engine, web_pm, settings=settings)


def _csrf(client) -> str:
    client.get("/login")
    return client.cookies.get("csrftoken")


def _login(client, username, password) -> None:
    answer = client.post(
        "/login",
        data={"username": username, "password": password, "csrftoken": _csrf(client)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def _add(client, product_id: int, quantity="1"):
    return client.post(
        "/shop/cart",
        data={
            "action": "add",
            "product_id": str(product_id),
            "quantity": quantity,
            "next": "/shop",
            "csrftoken": _csrf(client),
        },
        follow_redirects=False,
    )


def _checkout(client, fair, **fields):
    page = client.get("/shop/checkout")
    assert page.status_code == 200, page.text
    key = re.search(r'name="checkout_key" value="([^"]+)"', page.text).group(1)
    data = {
        "checkout_key": key,
        "fair": str(fair.fair_id),
        "fulfilment": "pickup",
        "payment": "at_pickup",
        "email": "ana@example.org",
        "name": "Ana",
        "csrftoken": client.cookies.get("csrftoken"),
    }
    data.update(fields)
    return client.post("/shop/checkout", data=data, follow_redirects=False)


def _cards(page) -> list[str]:
    """The names of the products a catalogue page lists, in order."""
    text = page if isinstance(page, str) else page.text
    return re.findall(r'<h3 id="product-\d+"><a href="[^"]+">([^<]+)</a>', text)


def _order(engine, token: str) -> Order:
    with read_session(engine) as db:
        return db.scalar(select(Order).where(Order.token == token))


# -- browsing ---------------------------------------------------------------------------------


def test_every_product_shows_who_made_it(client):
    page = client.get("/shop?lang=en")

    assert page.status_code == 200
    text = page.text
    assert "Bufanda" in text and "Cooperativa Textil" in text
    assert 'href="/shop/producers/P07"' in text
    assert "No se vende aquí" in text  # the network's catalogue, not only this fair's
    assert "4 products" in text


def test_search_and_filters_narrow_the_catalogue(client, fair):
    found = client.get("/shop", params={"q": "bufan", "lang": "en"}).text
    assert _cards(found) == ["Bufanda"]
    assert "1 product for “bufan”" in found
    assert _cards(client.get("/shop", params={"q": "HUERTA"})) == ["Tomates"]  # the maker

    assert _cards(client.get("/shop", params={"producer": "P01"})) == ["Miel"]
    at_fair = _cards(client.get("/shop", params={"fair": "feria-test"}))
    assert at_fair == ["Bufanda", "Miel", "Tomates"]  # not P09's, who is not at the fair
    assert _cards(client.get("/shop", params={"q": "%_"})) == []  # wildcards are plain text


def test_labels_come_from_the_plugins_and_filter_the_catalogue(client):
    page = client.get("/shop?lang=en").text
    assert 'value="sin-patron"' in page  # offered as a filter: someone holds it
    assert page.count(">Hecho sin patrón</a>") == 1  # on the cooperative's scarf only

    labelled = client.get("/shop", params={"label": "sin-patron", "lang": "en"}).text
    assert _cards(labelled) == ["Bufanda"]
    assert "1 product" in labelled

    unknown = client.get("/shop", params={"label": "no-such-label", "lang": "en"}).text
    assert "0 products" in unknown


def test_an_expired_label_is_not_shown_nor_offered(engine, web_pm, shop_fair, settings):
    web_pm.unregister(name="tiny")
    web_pm.register(
        TinyLabels(shop_fair.producers["P07"], dt.date.today() - dt.timedelta(days=1)),
        name="tiny",
    )
    with TestClient(create_app(engine, web_pm, settings=settings)) as client:
        page = client.get("/shop?lang=en").text
        producer = client.get("/shop/producers/P07?lang=en").text
    assert "Hecho sin patrón" not in page
    assert "Hecho sin patrón" not in producer


def test_the_catalogue_is_paged(client, engine, fair):
    with write_session(engine) as db:
        from feria.catalogue.models import Producer

        honey_maker = db.get(Producer, fair.producers["P01"])
        for i in range(60):
            add_product(
                db,
                honey_maker,
                sku=f"JAR-{i:03d}",
                name=f"Frasco {i:03d}",
                price=1000 + i,
                currency_code="CLP",
                category="Conservas",
            )

    first = client.get("/shop?lang=en").text
    third = client.get("/shop", params={"page": "3", "lang": "en"}).text
    beyond = client.get("/shop", params={"page": "99", "lang": "en"}).text

    assert "64 products" in first and "Page 1 of 3" in first
    assert first.count('class="product-card"') == 24
    assert _cards(first)[:2] == ["Bufanda", "Frasco 000"]
    assert "Frasco 030" not in _cards(first)
    assert third.count('class="product-card"') == 64 - 48
    assert 'aria-current="page">3<' in third
    assert "Page 3 of 3" in beyond  # past the end: the last page
    conservas = client.get("/shop", params={"category": "Conservas", "lang": "en"}).text
    assert "60 products" in conservas


def test_the_catalogue_sorts_names_as_people_do_accents_and_case_aside(client, engine, fair):
    """Bálsamo before Bufanda, a lower-case name among the others, ñ after n: whether the
    product was added one by one, inserted in bulk (as an import does) or renamed."""
    from sqlalchemy import insert

    from feria.catalogue.models import Producer

    with write_session(engine) as db:
        coop = db.get(Producer, fair.producers["P07"])
        for sku, name in (("BAL", "Bálsamo labial"), ("NAN", "Ñandú tejido"), ("NUE", "nuez")):
            add_product(db, coop, sku=sku, name=name, price=1000, currency_code="CLP")
        renamed = add_product(db, coop, sku="ABA", name="Zapatos", price=1000, currency_code="CLP")
        db.flush()
        renamed.name = "Ábaco de madera"
        db.connection().execute(
            insert(Product),
            [
                {
                    "producer_id": coop.id,
                    "sku": "OCA",
                    "name": "Oca",
                    "price": 500,
                    "currency": "CLP",
                }
            ],
        )

    names = _cards(client.get("/shop?lang=es"))

    assert names == [
        "Ábaco de madera",
        "Bálsamo labial",
        "Bufanda",
        "Miel",
        "No se vende aquí",
        "nuez",
        "Ñandú tejido",
        "Oca",
        "Tomates",
    ]


def test_producer_page_tells_their_story_place_and_who_certified_them(client, engine, fair):
    with write_session(engine) as db:
        from feria.catalogue.models import Producer

        coop = db.get(Producer, fair.producers["P07"])
        coop.story = "Tejemos en asamblea desde 2003."
        coop.place = "La Pintana"

    page = client.get("/shop/producers/P07?lang=en")

    assert page.status_code == 200
    assert "Tejemos en asamblea desde 2003." in page.text
    assert "La Pintana" in page.text
    assert "Hecho sin patrón" in page.text
    assert "Certified by Comité SPG Santiago" in page.text
    assert "valid until" in page.text
    assert "Bufanda" in page.text
    assert "Feria de prueba" in page.text  # where they sell
    assert client.get("/shop/producers/NOPE").status_code == 404


def test_product_page_names_its_maker_and_its_labels(client, fair):
    page = client.get(f"/shop/products/{fair.products['scarf']}?lang=es")
    assert page.status_code == 200
    assert "Cooperativa Textil" in page.text
    assert "Certificado por Comité SPG Santiago" in page.text
    assert client.get("/shop/products/999999").status_code == 404


# -- cart, checkout, the till, the producer ------------------------------------------------------


def test_cart_is_kept_in_the_session_and_can_be_changed(client, fair):
    assert _add(client, fair.products["scarf"], "2").headers["location"].startswith("/shop?added=")
    _add(client, fair.products["honey"], "0,5")

    cart = client.get("/shop/cart?lang=es").text
    assert "Bufanda" in cart and "Miel" in cart
    assert "$25.980" in cart and "$4.000" in cart  # the fair's es_CL format

    client.post(
        "/shop/cart",
        data={
            "action": "update",
            f"qty_{fair.products['scarf']}": "1",
            "csrftoken": client.cookies.get("csrftoken"),
        },
    )
    assert "$12.990" in client.get("/shop/cart").text
    client.post(
        "/shop/cart",
        data={
            "action": "update",
            "remove": str(fair.products["honey"]),
            "csrftoken": client.cookies.get("csrftoken"),
        },
    )
    cart = client.get("/shop/cart").text
    assert ">Miel</a>" not in cart and ">Bufanda</a>" in cart


def test_a_cart_post_without_the_csrf_token_is_refused(client, fair):
    answer = client.post("/shop/cart", data={"action": "add", "product_id": "1"})
    assert answer.status_code == 403


def test_cart_checkout_pickup_till_handover_and_the_producer_sees_it(client, api, engine, fair):
    _add(client, fair.products["scarf"], "2")
    _add(client, fair.products["honey"], "0.5")

    placed = _checkout(client, fair)

    assert placed.status_code == 303
    status_url = placed.headers["location"]
    token = status_url.rsplit("/", 1)[1]
    order = _order(engine, token)
    assert order.total == 2 * 12990 + 4000 and order.payment == "at_pickup"
    status = client.get(status_url + "?lang=en")
    assert "you pay when you collect it" in status.text
    assert "CLP29,980" in status.text
    assert client.get("/shop/cart?lang=en").text.count("Your cart is empty") == 1
    with read_session(engine) as db:
        assert db.get(Product, fair.products["scarf"]).stock == "8"

    # At the till: the order is listed for pickup, and handed over against cash.
    cashier = api("cashier")
    listed = cashier.get("/api/v1/fairs/feria-test/orders").json()["orders"]
    assert [(o["id"], o["prepaid"], o["due"]) for o in listed] == [(order.id, False, order.total)]
    assert {ln["producer_code"] for ln in listed[0]["lines"]} == {"P01", "P07"}
    session = cashier.post("/api/v1/sessions", json={"till": fair.till_id}).json()
    unpaid = cashier.post(f"/api/v1/orders/{order.id}/hand-over", json={})
    assert unpaid.status_code == 400 and unpaid.json()["field"] == "tenders"
    handed = cashier.post(
        f"/api/v1/orders/{order.id}/hand-over",
        json={"session": session["id"], "tenders": [{"method": "cash", "amount": 30000}]},
    )
    assert handed.status_code == 201, handed.text
    sale = handed.json()["sale_recorded"]
    assert handed.json()["status"] == "handed_over"
    assert sale["change"] == 30000 - order.total
    assert cashier.get("/api/v1/fairs/feria-test/orders").json()["orders"] == []
    again = cashier.post(
        f"/api/v1/orders/{order.id}/hand-over",
        json={"session": session["id"], "tenders": [{"method": "cash", "amount": 30000}]},
    )
    assert again.status_code == 200 and again.json()["sale_recorded"] is None
    assert "was handed over" in client.get(status_url + "?lang=en").text

    # The producer sees their lines and their split of that sale, like any till sale.
    mine = api("producer2").get(f"/api/v1/sales/{sale['id']}").json()
    assert [ln["description"] for ln in mine["lines"]] == ["Bufanda"]
    assert mine["splits"][0]["gross"] == 2 * 12990
    settlement = api("organizer").get("/api/v1/fairs/feria-test/settlement").json()
    p07 = next(p for p in settlement["producers"] if p["code"] == "P07")
    assert p07["gross"] == 2 * 12990


def test_checkout_refusals_are_said_in_the_readers_language(client, fair):
    _add(client, fair.products["scarf"])
    answer = _checkout(client, fair, email="no es un correo")  # the fair speaks Spanish
    assert answer.status_code == 400
    assert "Escribe tu correo electrónico" in answer.text
    assert 'aria-invalid="true"' in answer.text

    _add(client, fair.products["scarf"], "20")  # 21 in the cart, 10 in stock
    client.cookies.set("feria_lang", "pt_BR")
    short = _checkout(client, fair)
    assert short.status_code == 409
    assert "restam 10" in short.text


def test_an_order_is_found_only_by_its_link(client):
    assert client.get("/shop/orders/not-a-real-token").status_code == 404


def test_an_online_payment_goes_to_the_method_and_the_order_shows_paid(
    client, engine, web_pm, fair
):
    _add(client, fair.products["scarf"])
    placed = _checkout(client, fair, payment="testcard")

    assert placed.headers["location"].endswith("/pay")
    pay = client.get(placed.headers["location"] + "?lang=en")
    assert pay.status_code == 200
    assert "https://pay.example/x?return_url=" in pay.text
    token = placed.headers["location"].split("/")[-2]
    order = _order(engine, token)
    assert "waits for its payment" in client.get(f"/shop/orders/{token}?lang=en").text

    # The provider confirms: the payment plugin calls the hook the shop answers.
    from feria.cashbox.sales import TenderRequest

    sale = web_pm.hook.feria_record_paid_order(
        order_key=order.key,
        tenders=[TenderRequest("testcard", order.total, reference="pi_paid")],
        engine=engine,
        pm=web_pm,
    )

    assert sale is not None and sale.total.amount == 12990
    assert "Your order is paid" in client.get(f"/shop/orders/{token}?lang=en").text
    again = client.get(placed.headers["location"], follow_redirects=False)
    assert again.status_code == 303  # nothing left to pay


def test_a_shopper_may_cancel_an_unpaid_order_and_the_stock_returns(client, engine, fair):
    _add(client, fair.products["scarf"], "3")
    token = _checkout(client, fair).headers["location"].rsplit("/", 1)[1]
    client.post(f"/shop/orders/{token}/cancel", data={"csrftoken": client.cookies["csrftoken"]})

    assert _order(engine, token).status == "cancelled"
    with read_session(engine) as db:
        assert db.get(Product, fair.products["scarf"]).stock == "10"


def test_a_shopper_account_keeps_the_orders(client, fair):
    answer = client.post(
        "/shop/account/new",
        data={
            "username": "marta",
            "email": "marta@example.org",
            "name": "Marta",
            "password": "una clave larga",
            "csrftoken": _csrf(client),
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    _add(client, fair.products["scarf"])
    checkout = client.get("/shop/checkout").text
    assert 'value="marta@example.org"' in checkout
    token = _checkout(client, fair, email="marta@example.org").headers["location"].rsplit("/", 1)[1]

    mine = client.get("/shop/account?lang=en").text
    assert f"/shop/orders/{token}" in mine


def test_producers_see_their_preorders(client, engine, fair):
    set_order_settings(
        engine, fair.fair_id, cycle_closes_at=dt.datetime.now() + dt.timedelta(days=3)
    )
    for quantity in ("1.25", "0.5"):
        _add(client, fair.products["honey"], quantity)
        _checkout(client, fair)
    client.cookies.clear()

    _login(client, "miel", fair.passwords["producer"])
    page = client.get("/producer/preorders?lang=en")

    assert page.status_code == 200
    assert "Miel" in page.text and "1.75 kg" in page.text
    assert "Bufanda" not in page.text  # another producer's
    _login(client, "caja", fair.passwords["cashier"])
    assert client.get("/producer/preorders").status_code == 403


def test_the_shop_can_be_switched_off(engine, fair, settings):
    from feria.plugins import get_plugin_manager

    pm = get_plugin_manager(blocked={"feria.web.storefront"})
    with TestClient(create_app(engine, pm, settings=settings)) as client:
        assert client.get("/shop").status_code == 404


# -- themes -----------------------------------------------------------------------------------


def _themes_dir() -> Path:
    return Settings(secret_key="x").themes_dir


def test_contrast_theme_overrides_a_template_and_falls_back_for_the_rest(
    engine, web_pm, shop_fair, settings
):
    contrast = Settings(secret_key=settings.secret_key, theme="contrast")
    with TestClient(create_app(engine, web_pm, settings=contrast)) as client:
        shop = client.get("/shop?lang=en").text
        login = client.get("/login?lang=en").text
        css = client.get("/static/contrast.css")
        base_css = client.get("/static/feria.css")

    assert 'class="product-card product-card--contrast"' in shop  # its own card
    assert 'href="/static/contrast.css"' in shop and 'href="/static/contrast.css"' in login
    assert 'name="username"' in login  # the default theme's login page
    assert css.status_code == 200 and "--tap" in css.text
    assert base_css.status_code == 200  # falls back to the default theme's file


def test_the_networks_theme_is_used_unless_the_environment_says_otherwise(
    engine, web_pm, shop_fair, settings
):
    with write_session(engine) as db:
        db.execute(update(Network).values(theme="contrast"))

    with TestClient(create_app(engine, web_pm, settings=settings)) as client:
        assert "contrast.css" in client.get("/shop").text
    forced = Settings(secret_key=settings.secret_key, theme="default")
    with TestClient(create_app(engine, web_pm, settings=forced)) as client:
        assert "contrast.css" not in client.get("/shop").text


def test_themes_are_documented():
    readme = (_themes_dir() / "README.md").read_text()
    assert "_theme_head.html" in readme and "feria_template_dirs" in readme


# -- card payments through the Stripe plugin, against its local stand-in of Stripe -----------


@pytest.fixture
def card_shop(monkeypatch, engine, web_pm, shop_fair, settings):
    """The shop served by uvicorn with the Stripe plugin pointed at the local stand-in, whose
    signed webhooks reach the app over HTTP: ``(url, local_stripe)``."""
    pytest.importorskip("feria_stripe", reason="the Stripe plugin is not installed")
    from feria_stripe.testing import LocalStripe
    from feria_stripe.webhooks import WEBHOOK_PATH

    from feria.testing.browser import LiveServer

    with LocalStripe(fee_bp=290, fee_fixed=30) as local:
        for name, value in local.env().items():
            monkeypatch.setenv(name, value)
        with LiveServer(create_app(engine, web_pm, settings=settings)) as server:
            local.endpoint(server.url + WEBHOOK_PATH)
            yield server.url, local


def _form_post(http, url, fields):
    return http.post(url, data={**fields, "csrftoken": http.cookies.get("csrftoken")})


def test_an_order_paid_by_card_through_stripe_is_handed_over_prepaid(card_shop, engine, fair, api):
    import httpx

    base, local = card_shop
    with httpx.Client(base_url=base, follow_redirects=False) as http:
        http.get("/login")  # the CSRF cookie
        _form_post(http, "/shop/cart", {"action": "add", "product_id": fair.products["scarf"]})
        checkout = http.get("/shop/checkout?lang=en").text
        assert 'value="stripe"' in checkout  # offered: the plugin is configured
        key = re.search(r'name="checkout_key" value="([^"]+)"', checkout).group(1)
        placed = _form_post(
            http,
            "/shop/checkout",
            {
                "checkout_key": key,
                "fair": fair.fair_id,
                "fulfilment": "pickup",
                "payment": "stripe",
                "email": "ana@example.org",
            },
        )
        assert placed.status_code == 303 and placed.headers["location"].endswith("/pay")
        pay = http.get(placed.headers["location"] + "?lang=en").text
        intent = re.search(r"/test/pay/(pi_\w+)", pay).group(1)
        token = placed.headers["location"].split("/")[-2]

        local.fail(intent)  # declined: nothing recorded, the order may be paid again
        assert "waits for its payment" in http.get(f"/shop/orders/{token}?lang=en").text
        local.succeed(intent)  # paid: Stripe's signed webhook records the sale
        status = http.get(f"/shop/orders/{token}?lang=en").text

    assert "Your order is paid" in status
    order = _order(engine, token)
    assert order.status == "paid" and order.sale_id is not None
    cashier = api("cashier")
    listed = cashier.get("/api/v1/fairs/feria-test/orders").json()["orders"]
    assert [(o["id"], o["prepaid"], o["due"]) for o in listed] == [(order.id, True, 0)]
    handed = cashier.post(f"/api/v1/orders/{order.id}/hand-over", json={})
    assert handed.status_code == 200 and handed.json()["status"] == "handed_over"
    mine = api("producer2").get(f"/api/v1/sales/{order.sale_id}").json()
    assert mine["lines"][0]["description"] == "Bufanda"
    split = mine["splits"][0]
    assert split["gross"] == 12990 and split["fee"] > 0  # Stripe's real fee, in the split
    assert split["net"] == split["gross"] - split["withheld"] - split["fee"]
