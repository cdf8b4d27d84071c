"""The online shop in a real browser, on a phone: a shopper browses, fills a cart, checks
out and pays by card on the Stripe plugin's local stand-in of Stripe; the order waits at the
caja común, is handed over, and its producer sees the sale on their page. And the shop's
pages pass the accessibility checks."""

from __future__ import annotations

import datetime as dt
import re

import httpx
import pytest
from feria_stripe.testing import LocalStripe
from feria_stripe.webhooks import WEBHOOK_PATH
from sqlalchemy import select, update

from feria.accounts import User, create_token
from feria.catalogue.models import Fair
from feria.db import read_session, write_session
from feria.orders import Order
from feria.testing.browser import LAPTOP, PHONE

pytestmark = pytest.mark.browser


@pytest.fixture
def open_for_orders(live):
    """The test fair must not be over for the shop to take orders for it."""
    today = dt.date.today()
    with write_session(live.engine) as db:
        fair = db.get(Fair, live.fair.fair_id)
        if fair.ends_on < today + dt.timedelta(days=1):
            db.execute(
                update(Fair).where(Fair.id == fair.id).values(ends_on=today + dt.timedelta(days=30))
            )


@pytest.fixture
def stand_in(monkeypatch, live):
    """Card payments through the Stripe plugin, pointed at its local stand-in of Stripe,
    whose signed webhooks reach the running server."""
    with LocalStripe(fee_bp=290, fee_fixed=30) as local:
        for name, value in local.env().items():
            monkeypatch.setenv(name, value)
        local.endpoint(live.url + WEBHOOK_PATH)
        yield local


def _token(live, role: str) -> str:
    with write_session(live.engine) as db:
        return create_token(db, db.get(User, live.fair.users[role]), name="shop browser test")


def test_a_shopper_orders_and_pays_by_card_then_collects_it_and_the_producer_sees_it(
    new_page, login, live, open_for_orders, stand_in, screenshot
):
    page = new_page(PHONE)
    page.goto("/shop")
    screenshot(page, "shop-phone")
    page.get_by_role("button", name="Agregar al carro: Bufanda").click()
    page.get_by_role("status").filter(has_text="Agregado a tu carro.").wait_for()
    page.get_by_role("link", name=re.compile("^Carro")).click()
    page.get_by_role("link", name="Hacer el pedido").click()

    page.get_by_label("Correo electrónico").fill("ana@example.org")
    page.get_by_label("Nombre (para la caja)").fill("Ana")
    page.get_by_label(re.compile("En línea ahora")).check()
    screenshot(page, "checkout-phone")
    page.get_by_role("button", name="Confirmar el pedido").click()

    page.wait_for_url(re.compile(r"/shop/orders/[^/]+/pay$"))
    token = page.url.rsplit("/", 2)[-2]
    page.get_by_role("link", name=re.compile("Pay by card|Pagar con tarjeta")).click()
    page.wait_for_url(re.compile(r"/test/pay/pi_"))  # the stand-in's card form
    page.get_by_role("button", name="Pay").click()

    page.wait_for_url(re.compile(rf"/shop/orders/{token}"))
    for _ in range(50):  # Stripe's webhook may land a moment after the shopper is back
        if "Tu pedido está pagado" in page.content():
            break
        page.wait_for_timeout(200)
        page.reload()
    assert "Tu pedido está pagado" in page.content()
    screenshot(page, "order-paid-phone")

    with read_session(live.engine) as db:
        order = db.scalar(select(Order).where(Order.token == token))
    cashier = {"Authorization": f"Bearer {_token(live, 'cashier')}"}
    waiting = httpx.get(f"{live.url}/api/v1/fairs/feria-test/orders", headers=cashier).json()
    assert (order.id, True) in [(o["id"], o["prepaid"]) for o in waiting["orders"]]
    handed = httpx.post(f"{live.url}/api/v1/orders/{order.id}/hand-over", json={}, headers=cashier)
    assert handed.json()["status"] == "handed_over"

    producer = new_page(PHONE)
    login(producer, "producer2", "/producer")
    card = producer.locator(f'[data-sale="{order.sale_id}"]')
    card.wait_for(timeout=5_000)
    assert "Bufanda" in card.inner_text()


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_the_shop_pages_are_accessible(
    new_page, live, open_for_orders, viewport, assert_accessible
):
    page = new_page(viewport)
    page.goto("/shop")
    assert_accessible(page)
    page.get_by_role("button", name="Agregar al carro: Miel").click()
    page.goto("/shop/cart")
    assert_accessible(page)
    page.goto("/shop/checkout")
    assert_accessible(page)
    page.goto("/shop/producers/P07")
    assert_accessible(page)
