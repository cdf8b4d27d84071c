"""The online shop: the network's catalogue for shoppers who are not at the fair, a cart,
checkout for pickup at a fair's caja común or delivery, and each order's status by link.

Pages, under ``/shop``:

* ``/shop`` — the catalogue, a page at a time, by producer, category, fair, label, search;
* ``/shop/producers`` and ``/shop/producers/{code}`` — who makes things, with their story,
  place, labels (who certified them, until when) and products;
* ``/shop/products/{id}`` — one product and who made it;
* ``/shop/cart`` and ``/shop/checkout`` — the cart lives in the signed session cookie, so a
  shopper needs no account; checking out asks for an e-mail (or uses the shopper's account);
* ``/shop/orders/{token}`` — the order's status page, whose link is the only key to it;
  ``…/pay`` starts an online payment with the method the shopper chose.

The storefront is one of feria's default plugins (see :data:`feria.plugins.DEFAULT_PLUGINS`):
its routes and menu entries come through the same hooks an outside plugin uses, and
``FERIA_DISABLE_PLUGINS=feria.web.storefront`` runs a fair without an online shop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from feria import hookimpl
from feria.accounts import InvalidUser, add_user
from feria.catalogue import browse as catalogue
from feria.catalogue.models import Fair
from feria.db import read_session, write_session
from feria.errors import FeriaError, NotFound
from feria.i18n import N_
from feria.money import Money, line_total
from feria.orders import (
    EMAIL,
    PAY_AT_PICKUP,
    CartLine,
    Checkout,
    cancel_order,
    fairs_taking_orders,
    new_checkout_key,
    online_methods,
    order_by_token,
    orders_of_user,
    place_order,
    settings_for,
)
from feria.web.auth import SESSION_KEY, current_user, log_in, require_role, safe_next
from feria.web.menu import MenuItem
from feria.web.state import app_state
from feria.web.templating import newest_fair

SHOP = "/shop"
CART = "cart"
MAX_CART_ITEMS = 50
MAX_PAGE = 10_000


# -- what the shop is about -------------------------------------------------------------------


# What changes seldom (the filters on offer, the order of the products, which fair the shop
# is about) is kept per app for a few seconds: the catalogue page is the shop's busiest, and
# counting or skipping through 10,000 products for every visitor would cost more than
# rendering the page. The products of a page and their labels are always read fresh, so a
# new product shows within seconds and a withdrawn one disappears at once.
CACHE_SECONDS = 10.0
CACHE_ENTRIES = 64


class ShopCache:
    """Values computed at most once per ``CACHE_SECONDS``, per app (on ``app.state``, never
    shared between two apps)."""

    def __init__(self) -> None:
        self._values: dict[tuple, tuple[float, Any]] = {}

    def get(self, key: tuple, make: Callable[[], Any]) -> Any:
        now = time.monotonic()
        hit = self._values.get(key)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        value = make()
        if len(self._values) >= CACHE_ENTRIES:
            self._values.clear()
        self._values[key] = (now, value)
        return value


def _cache(request: Request) -> ShopCache:
    state = request.app.state
    cache = getattr(state, "feria_shop_cache", None)
    if cache is None:
        cache = state.feria_shop_cache = ShopCache()
    return cache


def _shop_fair(request: Request) -> Fair:
    """The fair the shop is about (the running or next one), and so its network."""
    fair = _cache(request).get(("fair",), lambda: newest_fair(app_state(request).engine))
    if fair is None:
        raise NotFound("no fair has been set up yet: the shop opens with the first fair")
    return fair


@dataclass(frozen=True, slots=True)
class Facets:
    """What the catalogue's filters offer."""

    categories: list[str]
    producers: list[tuple[str, str]]
    fairs: list[Fair]
    labels: list[catalogue.LabelMark]


def _render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    context.setdefault("cart_count", len(_cart(request)))
    return app_state(request).templates.response(request, name, context, status_code=status)


# -- the cart, in the signed session cookie ---------------------------------------------------


def _cart(request: Request) -> dict[str, str]:
    raw = request.session.get(CART) if "session" in request.scope else None
    if not isinstance(raw, dict):
        return {}
    return {str(k): str(v) for k, v in raw.items() if str(k).isdigit()}


def _save_cart(request: Request, cart: dict[str, str]) -> None:
    if cart:
        request.session[CART] = cart
    else:
        request.session.pop(CART, None)


def _quantity(raw: object) -> Decimal | None:
    try:
        q = Decimal(str(raw or "").strip().replace(",", "."))
    except InvalidOperation:
        return None
    if not q.is_finite() or q < 0 or q > 1000:
        return None
    return q.normalize() if q == q.to_integral_value() else q


@dataclass(frozen=True, slots=True)
class CartItem:
    product: catalogue.ProductCard
    quantity: Decimal
    total: Money


def _cart_items(request: Request, network_id: int) -> tuple[list[CartItem], Money | None]:
    cart = _cart(request)
    with read_session(app_state(request).engine) as db:
        cards = catalogue.cart_products(db, network_id, [int(k) for k in cart])
    items = []
    for key, raw in cart.items():
        card = cards.get(int(key))
        q = _quantity(raw)
        if card is None or not q:
            continue
        items.append(CartItem(card, q, line_total(q, card.price)))
    subtotal = None
    if items:
        subtotal = Money.zero(items[0].total.currency)
        for item in items:
            if item.total.currency == subtotal.currency:
                subtotal += item.total
    return items, subtotal


# -- browsing ---------------------------------------------------------------------------------


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and 0 < int(raw) <= MAX_PAGE else 1


def shop(request: Request) -> Response:
    state = app_state(request)
    fair = _shop_fair(request)
    params = request.query_params
    b = catalogue.Browse(
        q=params.get("q", "").strip()[: catalogue.MAX_QUERY],
        producer=params.get("producer", "").strip()[:16],
        category=params.get("category", "").strip()[:100],
        label=params.get("label", "").strip()[:64],
        fair=params.get("fair", "").strip()[:64],
        page=_page_number(params.get("page")),
    )
    network = fair.network_id
    cache = _cache(request)
    with read_session(state.engine) as db:
        facets = cache.get(
            ("facets", network),
            lambda: Facets(
                catalogue.categories(db, network),
                catalogue.producer_choices(db, network),
                catalogue.upcoming_fairs(db, network),
                catalogue.label_filters(db, state.pm, fair),
            ),
        )
        ids = None
        if not b.q:  # a search reads afresh; browsing pages through a kept order
            key = ("ids", network, b.producer, b.category, b.fair)
            ids = cache.get(key, lambda: catalogue.ordered_ids(db, network, b))
        page = catalogue.browse(db, state.pm, network, b, fair=fair, ids=ids, schemes=facets.labels)
    return _render(
        request,
        "shop/catalogue.html",
        {
            "page": page,
            "categories": facets.categories,
            "producers": facets.producers,
            "fairs": facets.fairs,
            "added": params.get("added"),
        },
    )


def producer_list(request: Request) -> Response:
    state = app_state(request)
    fair = _shop_fair(request)
    with read_session(state.engine) as db:
        producers = catalogue.producers(db, fair.network_id)
    return _render(request, "shop/producers.html", {"producers": producers})


def producer_page(request: Request) -> Response:
    state = app_state(request)
    fair = _shop_fair(request)
    with read_session(state.engine) as db:
        view = catalogue.producer_view(
            db,
            state.pm,
            fair.network_id,
            request.path_params["code"][:16],
            page=_page_number(request.query_params.get("page")),
            fair=fair,
        )
    if view is None:
        raise NotFound("there is no such producer in this network")
    return _render(request, "shop/producer.html", {"view": view})


def product_page(request: Request) -> Response:
    state = app_state(request)
    fair = _shop_fair(request)
    with read_session(state.engine) as db:
        view = catalogue.product_view(
            db, state.pm, fair.network_id, request.path_params["id"], fair=fair
        )
    if view is None:
        raise NotFound("this product is not in the catalogue")
    return _render(
        request, "shop/product.html", {"view": view, "added": request.query_params.get("added")}
    )


# -- the cart ---------------------------------------------------------------------------------


def cart_page(request: Request) -> Response:
    fair = _shop_fair(request)
    items, subtotal = _cart_items(request, fair.network_id)
    return _render(request, "shop/cart.html", {"items": items, "subtotal": subtotal})


async def cart_post(request: Request) -> Response:
    form = await request.form()
    return await run_in_threadpool(_cart_post, request, dict(form))


def _cart_post(request: Request, form: dict[str, Any]) -> Response:
    cart = _cart(request)
    action = str(form.get("action", "add"))
    product = str(form.get("product_id", "")).strip()
    if action == "add" and product.isdigit():
        q = _quantity(form.get("quantity", "1")) or Decimal(1)
        before = _quantity(cart.get(product, "0")) or Decimal(0)
        if product in cart or len(cart) < MAX_CART_ITEMS:
            cart[product] = str(min(before + q, Decimal(1000)))
        _save_cart(request, cart)
        back = urlsplit(safe_next(str(form.get("next") or f"{SHOP}/cart")))
        query = [(k, v) for k, v in parse_qsl(back.query) if k != "added"]
        query.append(("added", product))
        return RedirectResponse(f"{back.path}?{urlencode(query)}", status_code=303)
    removed = str(form.get("remove", ""))
    if removed:  # the "Remove" button of one line
        cart.pop(removed, None)
    elif action == "update":
        for key in list(cart):
            if f"qty_{key}" in form:
                q = _quantity(form.get(f"qty_{key}"))
                if q is None:
                    continue
                if q == 0:
                    del cart[key]
                else:
                    cart[key] = str(q)
    elif action == "empty":
        cart = {}
    _save_cart(request, cart)
    return RedirectResponse(f"{SHOP}/cart", status_code=303)


# -- checkout ---------------------------------------------------------------------------------


def _checkout_context(request: Request, network_id: int) -> dict[str, Any]:
    state = app_state(request)
    items, subtotal = _cart_items(request, network_id)
    with read_session(state.engine) as db:
        open_fairs = fairs_taking_orders(db, network_id)
    methods: dict[str, str] = {}
    for fair, _settings in open_fairs:
        for code, method in online_methods(state.pm, fair).items():
            methods.setdefault(code, method.name or code)
    return {
        "items": items,
        "subtotal": subtotal,
        "open_fairs": open_fairs,
        "online_methods": sorted(methods.items(), key=lambda m: m[1]),
        "delivers": any(s.delivery for _, s in open_fairs),
    }


def checkout_page(request: Request) -> Response:
    fair = _shop_fair(request)
    context = _checkout_context(request, fair.network_id)
    if not context["items"]:
        return RedirectResponse(f"{SHOP}/cart", status_code=303)
    user = current_user(request) if SESSION_KEY in request.session else None
    context["values"] = {
        "email": user.email if user is not None else "",
        "name": user.display_name if user is not None else "",
        "fulfilment": "pickup",
        "payment": PAY_AT_PICKUP,
        "fair": str(context["open_fairs"][0][0].id) if context["open_fairs"] else "",
    }
    context["checkout_key"] = new_checkout_key()
    return _render(request, "shop/checkout.html", context)


async def checkout_post(request: Request) -> Response:
    form = await request.form()
    return await run_in_threadpool(_checkout_post, request, dict(form))


def _checkout_post(request: Request, form: dict[str, Any]) -> Response:
    state = app_state(request)
    shop_fair = _shop_fair(request)
    values = {
        k: str(form.get(k, "")).strip()
        for k in ("email", "name", "phone", "fulfilment", "address", "payment", "note", "fair")
    }
    checkout_key = str(form.get("checkout_key", ""))[:64]
    cart = _cart(request)
    lines = [CartLine(int(k), v) for k, v in cart.items()]
    user = current_user(request) if SESSION_KEY in request.session else None
    try:
        if not values["fair"].isdigit():
            raise _missing("fair")
        if not lines:
            raise _missing("lines")
        with read_session(state.engine) as db:
            fair = db.get(Fair, int(values["fair"]))
        if fair is None or fair.network_id != shop_fair.network_id:
            raise _missing("fair")
        order = place_order(
            state.engine,
            Checkout(
                fair_id=fair.id,
                email=values["email"] or (user.email if user is not None else ""),
                checkout_key=checkout_key,
                name=values["name"],
                phone=values["phone"],
                fulfilment=values["fulfilment"] or "pickup",
                address=values["address"],
                payment=values["payment"] or PAY_AT_PICKUP,
                note=values["note"],
                user_id=user.id if user is not None and user.role == "shopper" else None,
                locale=request.cookies.get("feria_lang", ""),
            ),
            lines,
            pm=state.pm,
        )
    except FeriaError as exc:
        context = _checkout_context(request, shop_fair.network_id)
        context.update(values=values, checkout_key=checkout_key or new_checkout_key(), error=exc)
        return _render(request, "shop/checkout.html", context, status=exc.status)
    _save_cart(request, {})
    target = f"{SHOP}/orders/{order.token}"
    if order.payment != PAY_AT_PICKUP:
        target += "/pay"
    return RedirectResponse(target, status_code=303)


class _Missing(FeriaError):
    code = "invalid_order"


def _missing(field: str) -> FeriaError:
    return _Missing(f"{field}: expected a value", field=field)


# -- after checkout ---------------------------------------------------------------------------


def _order_or_404(request: Request):
    order = order_by_token(app_state(request).engine, request.path_params["token"])
    if order is None:
        raise NotFound("there is no order at this address: check the link you were sent")
    return order


def _order_context(request: Request, order) -> dict[str, Any]:
    state = app_state(request)
    with read_session(state.engine) as db:
        fair = db.get(Fair, order.fair_id)
        settings = settings_for(db, order.fair_id)
        names = catalogue.producer_names(db, {ln.producer_id for ln in order.lines})
    method = None
    if order.payment != PAY_AT_PICKUP:
        method = online_methods(state.pm, fair).get(order.payment)
    return {
        "order": order,
        "order_fair": fair,
        "settings": settings,
        "producer_names": names,
        "method_name": (method.name or method.code) if method is not None else order.payment,
        "can_pay": method is not None and order.status == "pending_payment" and not order.prepaid,
    }


def order_page(request: Request) -> Response:
    order = _order_or_404(request)
    context = _order_context(request, order)
    context["just_placed"] = request.query_params.get("placed") == "1"
    return _render(request, "shop/order.html", context)


def pay_page(request: Request) -> Response:
    """Start the online payment of an order: the method makes (or finds again, for the same
    order) its payment at the provider, and the page lets the shopper pay it."""
    order = _order_or_404(request)
    context = _order_context(request, order)
    status_url = str(request.url_for("shop_order", token=order.token))
    if not context["can_pay"]:
        return RedirectResponse(status_url, status_code=303)
    fair = context["order_fair"]
    method = online_methods(app_state(request).pm, fair)[order.payment]
    start = method.create_payment(
        order.key,
        Money(order.total, order.currency),
        f"{fair.name} · #{order.id}",
        {"feria_order_id": str(order.id)},
    )
    pay_url = getattr(start, "pay_url", None)
    if pay_url:
        sep = "&" if "?" in pay_url else "?"
        pay_url = f"{pay_url}{sep}{urlencode({'return_url': status_url})}"
    context.update(payment=start, return_url=status_url, pay_url=pay_url)
    return _render(request, "shop/pay.html", context)


async def cancel_post(request: Request) -> Response:
    await request.form()
    return await run_in_threadpool(_cancel, request)


def _cancel(request: Request) -> Response:
    order = _order_or_404(request)
    cancel_order(app_state(request).engine, order.id, reason="cancelled by the shopper")
    return RedirectResponse(f"{SHOP}/orders/{order.token}", status_code=303)


# -- shopper accounts (optional) --------------------------------------------------------------


def account_page(request: Request) -> Response:
    user = require_role(request, "shopper")
    orders = orders_of_user(app_state(request).engine, user.id)
    return _render(request, "shop/account.html", {"orders": orders})


def signup_page(request: Request) -> Response:
    return _render(request, "shop/signup.html", {"values": {}})


async def signup_post(request: Request) -> Response:
    form = await request.form()
    return await run_in_threadpool(_signup, request, dict(form))


def _signup(request: Request, form: dict[str, Any]) -> Response:
    state = app_state(request)
    values = {k: str(form.get(k, "")).strip() for k in ("username", "email", "name")}
    password = str(form.get("password", ""))[:1024]
    try:
        if not EMAIL.match(values["email"]) or len(values["email"]) > 200:
            raise InvalidUser("email: expected an e-mail address", field="email")
        with write_session(state.engine) as db:
            user = add_user(
                db,
                values["username"],
                password,
                "shopper",
                display_name=values["name"],
                email=values["email"],
            )
            db.expunge(user)
    except FeriaError as exc:
        return _render(
            request, "shop/signup.html", {"values": values, "error": exc}, status=exc.status
        )
    log_in(request, user)
    return RedirectResponse(f"{SHOP}/account", status_code=303)


# -- wiring -----------------------------------------------------------------------------------


def routes() -> list[Route]:
    from feria.web import preorders
    from feria.web.api import orders as orders_api

    return [
        Route(SHOP, shop, methods=["GET"], name="shop"),
        Route(f"{SHOP}/producers", producer_list, methods=["GET"], name="shop_producers"),
        Route(f"{SHOP}/producers/{{code}}", producer_page, methods=["GET"], name="shop_producer"),
        Route(f"{SHOP}/products/{{id:int}}", product_page, methods=["GET"], name="shop_product"),
        Route(f"{SHOP}/cart", cart_page, methods=["GET"], name="shop_cart"),
        Route(f"{SHOP}/cart", cart_post, methods=["POST"]),
        Route(f"{SHOP}/checkout", checkout_page, methods=["GET"], name="shop_checkout"),
        Route(f"{SHOP}/checkout", checkout_post, methods=["POST"]),
        Route(f"{SHOP}/orders/{{token}}", order_page, methods=["GET"], name="shop_order"),
        Route(f"{SHOP}/orders/{{token}}/pay", pay_page, methods=["GET"], name="shop_pay"),
        Route(f"{SHOP}/orders/{{token}}/cancel", cancel_post, methods=["POST"]),
        Route(f"{SHOP}/account", account_page, methods=["GET"], name="shop_account"),
        Route(f"{SHOP}/account/new", signup_page, methods=["GET"], name="shop_signup"),
        Route(f"{SHOP}/account/new", signup_post, methods=["POST"]),
        *preorders.routes,
        *orders_api.routes,
    ]


@hookimpl
def feria_routes():
    return routes()


@hookimpl
def feria_menu_items(user):
    items = [MenuItem("storefront", N_("Shop"), SHOP)]
    if user is not None and user.role == "producer":
        items.append(MenuItem("producer", N_("Pre-orders"), "/producer/preorders", ("producer",)))
    if user is not None and user.role == "shopper":
        items.append(MenuItem("storefront", N_("My orders"), f"{SHOP}/account", ("shopper",)))
    return items
