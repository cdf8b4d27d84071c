"""Fixtures for the Stripe plugin's tests, built on feria's public ones (``engine``, ``pm``,
``fair``, ``local_stripe``), so every test that touches the database runs on SQLite and on
PostgreSQL.

Nothing is mocked: the plugin talks to :class:`feria_stripe.testing.LocalStripe` through the
real ``stripe`` SDK, and the stand-in delivers signed webhooks by HTTP to the real feria app
served by uvicorn on 127.0.0.1. The storefront is played by :class:`Storefront`, which keeps
the contract a real storefront keeps (``feria_record_paid_order``,
``feria_online_payment_failed``) and nothing more.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn
from feria_stripe.method import StripeCard
from feria_stripe.testing import LocalStripe
from feria_stripe.webhooks import WEBHOOK_PATH
from sqlalchemy import func, select

from feria import hookimpl
from feria.cashbox.models import Sale
from feria.cashbox.sales import LineRequest, RecordedSale, payment_methods, record_sale
from feria.catalogue.models import Fair
from feria.db import read_session
from feria.journal import JournalEntry
from feria.money import Money
from feria.web.app import create_app
from feria.web.settings import Settings


@pytest.fixture
def pm(pm):
    assert pm.get_plugin("stripe") is not None, "install the plugin: pip install -e plugins/stripe"
    return pm


@pytest.fixture
def stripe_env(local_stripe) -> LocalStripe:
    """The plugin configured for the stand-in, as an operator would: by environment (the
    test kit's ``local_stripe`` sets it; fees 2.9% + 30)."""
    return local_stripe


@dataclass
class Order:
    fair_id: int
    lines: list[LineRequest]
    sale: RecordedSale | None = None


@dataclass
class Storefront:
    """The smallest storefront keeping the contract: it knows its orders, records a paid
    one's sale under the order's key, and hears about failed payments."""

    orders: dict[str, Order] = field(default_factory=dict)
    recorded: list[tuple[str, int]] = field(default_factory=list)
    failed: list[tuple[str, str, str, str]] = field(default_factory=list)

    @hookimpl
    def feria_record_paid_order(self, order_key, tenders, engine, pm):
        order = self.orders.get(order_key)
        if order is None:
            return None
        if order.sale is not None:  # already paid: the first recording, as a real shop does
            return order.sale
        sale = record_sale(
            engine, pm, key=order_key, fair_id=order.fair_id, lines=order.lines, tenders=tenders
        )
        order.sale = sale
        self.recorded.append((order_key, sale.id))
        return sale

    @hookimpl
    def feria_online_payment_failed(self, order_key, method, reference, reason):
        self.failed.append((order_key, method, reference, reason))


@pytest.fixture
def storefront(pm) -> Iterator[Storefront]:
    shop = Storefront()
    pm.register(shop, name="test-storefront")
    yield shop
    pm.unregister(shop)


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture
def app_url(engine, pm, fair, stripe_env, storefront) -> Iterator[str]:
    """The feria app served on 127.0.0.1, with the stand-in's webhooks pointed at it."""
    settings = Settings(secret_key="test-only-" + uuid.uuid4().hex)
    app = create_app(engine, pm, settings=settings)
    sock = _free_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        threading.Event().wait(0.01)
    host, port = sock.getsockname()
    url = f"http://{host}:{port}"
    probe = httpx.post(
        url + WEBHOOK_PATH, content=b"{}", headers={"Content-Type": "application/json"}
    )
    assert probe.status_code != 403, (
        "the app refused a webhook with its CSRF check: create_app must let plugins exempt "
        "signed server-to-server requests through the feria_skip_csrf hook"
    )
    stripe_env.endpoint(url + WEBHOOK_PATH)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@dataclass
class Checkout:
    """An order placed at the storefront and its card payment started."""

    key: str
    total: Money
    intent: str


@pytest.fixture
def checkout(engine, pm, fair, storefront, app_url):
    """``checkout(lines)`` places an order with the storefront and starts its card payment
    through the plugin, as the checkout page does; returns a :class:`Checkout`."""

    def _checkout(lines: list[LineRequest] | None = None) -> Checkout:
        lines = lines or [
            LineRequest(product_id=fair.products["honey"], quantity="1"),
            LineRequest(product_id=fair.products["scarf"], quantity=1),
        ]
        key = f"order-{uuid.uuid4().hex}"
        storefront.orders[key] = Order(fair.fair_id, lines)
        with read_session(engine) as db:
            method = payment_methods(pm, db.get(Fair, fair.fair_id))["stripe"]
        assert isinstance(method, StripeCard)
        total = _total(engine, lines)
        start = method.create_payment(key, total, description="Pedido de prueba")
        return Checkout(key, total, start.reference)

    return _checkout


def _total(engine, lines: list[LineRequest]) -> Money:
    from feria.catalogue.models import Product
    from feria.money import line_total

    with read_session(engine) as db:
        amounts = [
            line_total(ln.quantity, Money((p := db.get(Product, ln.product_id)).price, p.currency))
            for ln in lines
        ]
    return sum(amounts[1:], amounts[0])


@pytest.fixture
def counts(engine):
    """``counts()`` → how many sales and journal entries there are: what "nothing
    changed" compares."""

    def _counts() -> tuple[int, int]:
        with read_session(engine) as db:
            return (
                db.scalar(select(func.count()).select_from(Sale)),
                db.scalar(select(func.count()).select_from(JournalEntry)),
            )

    return _counts
