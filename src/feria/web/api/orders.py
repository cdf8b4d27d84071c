"""Online orders at the till: the orders waiting at a fair's caja común, and handing one
over (taking its payment there when it was not paid online).

* ``GET  /api/v1/fairs/{slug}/orders`` — orders to hand over, oldest first;
* ``GET  /api/v1/orders/{id}`` — one order;
* ``POST /api/v1/orders/{id}/ready`` — its goods are gathered at the caja común;
* ``POST /api/v1/orders/{id}/hand-over`` — ``{}`` for a prepaid order, else
  ``{"session": 12, "tenders": [{"method": "cash", "amount": 20000}]}``: the sale is recorded
  in that cash session under the order's own idempotency key, so sending it again (after a
  timeout) records nothing twice;
* ``POST /api/v1/orders/{id}/cancel`` — ``{"reason": "…"}``, for an order not paid.

The same handlers are mounted under ``/pos/api/v1/`` for the till page, where the cashier's
login cookie and the page's CSRF token authenticate instead of a bearer token.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.responses import Response
from starlette.routing import Route

from feria.catalogue.models import Producer
from feria.db import read_session
from feria.orders import (
    Order,
    OrderNotFound,
    cancel_order,
    hand_over,
    mark_ready,
    order_by_id,
    orders_for_pickup,
)
from feria.web.api.base import Call, endpoint, fair_by_slug, json
from feria.web.api.cashbox import sale_json, tender_request

TILL_ROLES = ("cashier", "organizer")


def order_json(order: Order, producers: dict[int, tuple[str, str]]) -> dict[str, Any]:
    """An order as the till shows it: who, what (grouped by producer for gathering), how
    much, and whether it is prepaid. The status link's token is not included."""
    return {
        "id": order.id,
        "fair": order.fair_id,
        "status": order.status,
        "prepaid": order.prepaid,
        "payment": order.payment,
        "fulfilment": order.fulfilment,
        "name": order.name,
        "email": order.email,
        "phone": order.phone,
        "address": order.address,
        "note": order.note,
        "currency": order.currency,
        "subtotal": order.subtotal,
        "delivery_fee": order.delivery_fee,
        "total": order.total,
        "due": 0 if order.prepaid else order.total,
        "sale": order.sale_id,
        "created_at": order.created_at.isoformat(timespec="seconds"),
        "cycle_closes_at": order.cycle_closes_at.isoformat(timespec="seconds")
        if order.cycle_closes_at
        else None,
        "lines": [
            {
                "no": ln.line_no,
                "product": ln.product_id,
                "producer": ln.producer_id,
                "producer_code": producers.get(ln.producer_id, ("", ""))[0],
                "producer_name": producers.get(ln.producer_id, ("", ""))[1],
                "description": ln.description,
                "quantity": ln.quantity,
                "unit": ln.unit,
                "unit_price": ln.unit_price,
                "total": ln.total,
            }
            for ln in order.lines
        ],
    }


def _producers(call: Call, orders: list[Order]) -> dict[int, tuple[str, str]]:
    ids = {ln.producer_id for o in orders for ln in o.lines}
    if not ids:
        return {}
    with read_session(call.engine) as db:
        rows = db.execute(
            select(Producer.id, Producer.code, Producer.name).where(Producer.id.in_(ids))
        )
        return {pid: (code, name) for pid, code, name in rows}


def _one(call: Call, order: Order, status: int = 200, **extra) -> Response:
    return json({**order_json(order, _producers(call, [order])), **extra}, status)


def _order(call: Call) -> Order:
    order = order_by_id(call.engine, call.param("id"))
    if order is None:
        raise OrderNotFound(f"there is no order {call.param('id')}", field="id")
    return order


@endpoint(*TILL_ROLES)
def list_orders(call: Call) -> Response:
    fair = fair_by_slug(call.engine, call.param("slug"))
    orders = orders_for_pickup(call.engine, fair.id)
    producers = _producers(call, orders)
    return json({"fair": fair.slug, "orders": [order_json(o, producers) for o in orders]})


@endpoint(*TILL_ROLES)
def get_order(call: Call) -> Response:
    return _one(call, _order(call))


@endpoint(*TILL_ROLES)
def ready(call: Call) -> Response:
    call.no_body()
    return _one(call, mark_ready(call.engine, _order(call).id))


@endpoint(*TILL_ROLES)
def hand_over_order(call: Call) -> Response:
    session_id = None
    tenders = []
    if call.raw.strip():
        f = call.body()
        session_id = f.integer("session", minimum=1)
        tenders = [tender_request(t) for t in f.objects("tenders", max_items=20)]
        f.done()
    order, sale = hand_over(
        call.engine,
        call.pm,
        _order(call).id,
        user_id=call.user.id,
        session_id=session_id,
        tenders=tenders,
    )
    recorded = sale_json(sale) if sale is not None else None
    return _one(
        call, order, 201 if sale is not None and not sale.replayed else 200, sale_recorded=recorded
    )


@endpoint(*TILL_ROLES)
def cancel(call: Call) -> Response:
    reason = ""
    if call.raw.strip():
        f = call.body()
        reason = f.text("reason", default="") or ""
        f.done()
    return _one(call, cancel_order(call.engine, _order(call).id, reason=reason))


def _routes(prefix: str) -> list[Route]:
    return [
        Route(f"{prefix}/fairs/{{slug}}/orders", list_orders, methods=["GET"]),
        Route(f"{prefix}/orders/{{id:int}}", get_order, methods=["GET"]),
        Route(f"{prefix}/orders/{{id:int}}/ready", ready, methods=["POST"]),
        Route(f"{prefix}/orders/{{id:int}}/hand-over", hand_over_order, methods=["POST"]),
        Route(f"{prefix}/orders/{{id:int}}/cancel", cancel, methods=["POST"]),
    ]


routes = [*_routes("/api/v1"), *_routes("/pos/api/v1")]
