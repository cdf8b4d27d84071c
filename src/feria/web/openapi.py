"""The OpenAPI 3.1 description of the JSON API, written as data.

It is kept beside the routes by a test that every API route appears here with its method;
change both together. Amounts are integers of minor units, always with a currency beside
them; quantities are decimals (a number or text such as ``"1.235"``).
"""

from __future__ import annotations

from typing import Any

from feria import __version__

JSON = "application/json"
PROBLEM = "application/problem+json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: list[str], **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": False,
    }


INT = {"type": "integer"}
MINOR = {"type": "integer", "description": "an amount in minor units of the currency beside it"}
POSITIVE = {"type": "integer", "minimum": 1}
TEXT = {"type": "string"}
NULLABLE_INT = {"type": ["integer", "null"]}
COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}
CURRENCY = {"type": "string", "description": "ISO 4217 code or a registered community currency"}
TIME = {"type": "string", "format": "date-time"}
FREE_OBJECT = {"type": "object"}

SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details; `field` names the input at fault.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": TEXT,
            "title": TEXT,
            "status": INT,
            "detail": TEXT,
            "field": TEXT,
        },
    },
    "SessionOpen": _obj(
        ["till"],
        till={**POSITIVE, "description": "the till's id"},
        float={**MINOR, "minimum": 0, "description": "cash counted into the drawer"},
        float_detail={**COUNTS, "description": "denomination (minor units) → how many"},
    ),
    "Session": _obj(
        ["id", "fair", "till", "cashier", "currency", "opened_at", "float", "seq"],
        id=INT,
        fair=INT,
        till=INT,
        cashier=INT,
        currency=CURRENCY,
        opened_at=TIME,
        float=MINOR,
        float_detail=COUNTS,
        seq={**INT, "description": "the journal entry that opened it"},
    ),
    "SessionClose": _obj(
        [],
        counted={**COUNTS, "description": "currency → minor units counted in the drawer"},
        counted_detail={**COUNTS, "description": "denomination → how many, fair currency"},
    ),
    "Report": {
        "type": "object",
        "description": "X-report (open session) or Z-report (after closing); amounts by "
        "currency in minor units",
        "properties": {
            "session": INT,
            "till": INT,
            "cashier": INT,
            "currency": CURRENCY,
            "opened_at": TIME,
            "closed_at": {"type": ["string", "null"], "format": "date-time"},
            "float": MINOR,
            "by_method": FREE_OBJECT,
            "by_producer": FREE_OBJECT,
            "movements": FREE_OBJECT,
            "counts": COUNTS,
            "totals": COUNTS,
            "expected_cash": COUNTS,
            "counted_cash": {"type": ["object", "null"]},
            "discrepancy": {"type": ["object", "null"]},
        },
    },
    "MovementRequest": _obj(
        ["kind", "amount", "reason"],
        kind={"enum": ["paid_in", "paid_out"]},
        amount={**MINOR, "minimum": 1},
        reason=TEXT,
        currency=CURRENCY,
    ),
    "Movement": _obj(
        ["id", "session", "kind", "amount", "currency", "reason", "at", "seq"],
        id=INT,
        session=INT,
        kind=TEXT,
        amount=MINOR,
        currency=CURRENCY,
        reason=TEXT,
        at=TIME,
        seq=INT,
    ),
    "CatalogueLine": _obj(
        [],
        product_id=POSITIVE,
        barcode=TEXT,
        sku=TEXT,
        quantity={
            "type": ["string", "number"],
            "description": 'decimal, e.g. "1.235" (kg); default 1',
        },
        description=TEXT,
    ),
    "FreeLine": _obj(
        ["producer_code", "amount"],
        producer_code={**TEXT, "description": "the producer's code, e.g. P07"},
        amount={**MINOR, "minimum": 1, "description": "unit amount in the fair currency"},
        quantity={"type": ["string", "number"]},
        description=TEXT,
    ),
    "TenderRequest": _obj(
        ["method", "amount"],
        method={**TEXT, "description": "a payment method's code, e.g. cash"},
        amount={**MINOR, "minimum": 1, "description": "what was handed over"},
        currency={**CURRENCY, "description": "default: the fair's currency"},
        reference=TEXT,
        data={**FREE_OBJECT, "description": "for the payment plugin; integers only"},
    ),
    "SaleRequest": _obj(
        ["session", "lines", "tenders"],
        session=POSITIVE,
        lines={
            "type": "array",
            "minItems": 1,
            "maxItems": 500,
            "items": {"oneOf": [_ref("CatalogueLine"), _ref("FreeLine")]},
        },
        tenders={"type": "array", "minItems": 1, "maxItems": 20, "items": _ref("TenderRequest")},
    ),
    "SaleLine": {
        "type": "object",
        "properties": {
            "no": INT,
            "producer": INT,
            "product": NULLABLE_INT,
            "description": TEXT,
            "quantity": TEXT,
            "unit": TEXT,
            "unit_price": MINOR,
            "total": MINOR,
            "refers_line": NULLABLE_INT,
        },
    },
    "Tender": {
        "type": "object",
        "properties": {
            "no": INT,
            "method": TEXT,
            "currency": CURRENCY,
            "amount": MINOR,
            "change": MINOR,
            "applied": MINOR,
            "rate": {**TEXT, "description": "units of the fair currency per unit, decimal"},
            "value": {**MINOR, "description": "applied, in the fair currency"},
            "fee": MINOR,
            "reference": TEXT,
            "data": FREE_OBJECT,
        },
    },
    "Split": {
        "type": "object",
        "description": "what of one tender goes to one producer",
        "properties": {
            "tender": INT,
            "producer": INT,
            "currency": CURRENCY,
            "gross": MINOR,
            "withheld": MINOR,
            "fee": MINOR,
            "net": MINOR,
        },
    },
    "Sale": {
        "type": "object",
        "description": "A sale, refund or void as recorded in the journal. Producers see "
        "only their own lines and splits (`partial: true`, no tenders).",
        "required": ["id", "kind", "seq", "hash", "currency", "total", "lines", "splits"],
        "properties": {
            "id": {**INT, "description": "the receipt number"},
            "kind": {"enum": ["sale", "refund", "void"]},
            "seq": {**INT, "description": "the journal entry"},
            "hash": {**TEXT, "description": "the journal hash after this entry"},
            "at": TIME,
            "fair": INT,
            "session": NULLABLE_INT,
            "user": NULLABLE_INT,
            "refers_to": NULLABLE_INT,
            "rule": {**INT, "description": "the rule version that split it"},
            "currency": CURRENCY,
            "total": MINOR,
            "change": MINOR,
            "lines": {"type": "array", "items": _ref("SaleLine")},
            "tenders": {"type": "array", "items": _ref("Tender")},
            "splits": {"type": "array", "items": _ref("Split")},
            "members": {"type": "array", "items": FREE_OBJECT},
            "partial": {"type": "boolean"},
        },
    },
    "RefundRequest": _obj(
        ["reason"],
        lines={"type": "array", "items": POSITIVE, "description": "line numbers; all if absent"},
        tenders={"type": "array", "items": _ref("TenderRequest")},
        session={**POSITIVE, "description": "the open session paying the refund back"},
        reason=TEXT,
    ),
    "VoidRequest": _obj(["reason"], reason=TEXT),
    "Settlement": {
        "type": "object",
        "description": "Per producer and currency: gross, refunds, withheld, fees, net, paid, "
        "balance; and which rule versions applied.",
    },
    "PayoutRequest": _obj(
        ["producer_code", "currency", "amount", "method"],
        producer_code=TEXT,
        currency=CURRENCY,
        amount={**MINOR, "minimum": 1},
        method=TEXT,
        reference=TEXT,
    ),
    "Payout": {
        "type": "object",
        "properties": {
            "id": INT,
            "fair": INT,
            "producer": INT,
            "currency": CURRENCY,
            "amount": MINOR,
            "method": TEXT,
            "reference": TEXT,
            "at": TIME,
            "seq": INT,
            "acknowledged_at": {"type": ["string", "null"], "format": "date-time"},
            "acknowledged_by": NULLABLE_INT,
        },
    },
    "Order": {
        "type": "object",
        "description": "An online order as the till shows it; `due` is what is left to pay at "
        "pickup (0 when it was paid online), `sale` the sale that paid it.",
        "properties": {
            "id": INT,
            "fair": INT,
            "status": {
                "type": "string",
                "enum": ["pending_payment", "paid", "ready", "handed_over", "cancelled"],
            },
            "prepaid": {"type": "boolean"},
            "payment": {**TEXT, "description": "`at_pickup` or an online method's code"},
            "fulfilment": {"type": "string", "enum": ["pickup", "delivery"]},
            "name": TEXT,
            "email": TEXT,
            "phone": TEXT,
            "address": TEXT,
            "note": TEXT,
            "currency": CURRENCY,
            "subtotal": MINOR,
            "delivery_fee": MINOR,
            "total": MINOR,
            "due": MINOR,
            "sale": NULLABLE_INT,
            "created_at": TIME,
            "cycle_closes_at": {"type": ["string", "null"], "format": "date-time"},
            "lines": {"type": "array", "items": FREE_OBJECT},
            "sale_recorded": {
                "description": "after a hand-over: the sale recorded now, or null",
                "oneOf": [_ref("Sale"), {"type": "null"}],
            },
        },
    },
    "OrderList": _obj(
        ["fair", "orders"], fair=TEXT, orders={"type": "array", "items": _ref("Order")}
    ),
    "HandOverRequest": _obj(
        [],
        session={**POSITIVE, "description": "the cashier's open cash session (if not prepaid)"},
        tenders={"type": "array", "items": _ref("TenderRequest"), "maxItems": 20},
    ),
    "OrderCancel": _obj([], reason=TEXT),
    "JournalHead": _obj(["seq", "hash"], seq=INT, hash=TEXT),
    "JournalPage": {
        "type": "object",
        "properties": {
            "entries": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "seq": INT,
                        "kind": TEXT,
                        "fair": NULLABLE_INT,
                        "at": TIME,
                        "body": {**TEXT, "description": "the canonical bytes, as UTF-8 text"},
                        "prev_hash": TEXT,
                        "hash": {**TEXT, "description": "sha256(prev_hash ‖ body)"},
                    },
                },
            },
            "next_after": {**NULLABLE_INT, "description": "pass as `after` for the next page"},
        },
    },
}


def _problems(*statuses: int) -> dict[str, Any]:
    meaning = {
        400: "the body is not JSON, or a required header is missing",
        401: "no valid bearer token",
        403: "the token's user may not do this",
        404: "not found",
        409: "conflicts with what is recorded (e.g. an idempotency key reused)",
        422: "a field is unknown, missing, of the wrong type or refused",
        429: "too many attempts",
    }
    return {
        str(s): {"description": meaning[s], "content": {PROBLEM: {"schema": _ref("Problem")}}}
        for s in statuses
    }


def _op(
    summary: str,
    *,
    ok: int = 200,
    response: str | None = None,
    request: str | None = None,
    problems: tuple[int, ...] = (400, 401, 403, 404, 422),
    params: list[dict[str, Any]] | None = None,
    public: bool = False,
    idempotent: bool = False,
    roles: str = "",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {}}
    if roles:
        op["description"] = f"Roles: {roles}."
    if public:
        op["security"] = []
    parameters = list(params or [])
    if idempotent:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": True,
                "description": "8–128 printable characters, a new UUID per request; resend "
                "the same key to get the first answer back",
                "schema": {"type": "string", "minLength": 8, "maxLength": 128},
            }
        )
    if parameters:
        op["parameters"] = parameters
    if request:
        op["requestBody"] = {"required": True, "content": {JSON: {"schema": _ref(request)}}}
    ok_response: dict[str, Any] = {"description": "done"}
    if response:
        ok_response["content"] = {JSON: {"schema": _ref(response)}}
    op["responses"][str(ok)] = ok_response
    if extra:
        op["responses"].update(extra)
    op["responses"].update(_problems(*(() if public else problems)))
    return op


def _path(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "integer"}}


REPLAY = {"200": {"description": "a replay of the same key and content: the first recording"}}


def paths() -> dict[str, Any]:
    sid, slug = [_path("id")], [_path("slug", {"type": "string"})]
    return {
        "/api/v1/sessions": {
            "post": _op(
                "Open a cash session at a till",
                ok=201,
                request="SessionOpen",
                response="Session",
                problems=(400, 401, 403, 404, 409, 422),
                roles="cashier, organizer",
            )
        },
        "/api/v1/sessions/{id}": {
            "get": _op(
                "The session's X-report", response="Report", params=sid, roles="cashier, organizer"
            )
        },
        "/api/v1/sessions/{id}/close": {
            "post": _op(
                "Close the session with the counted cash; answers the Z-report",
                request="SessionClose",
                response="Report",
                params=sid,
                problems=(400, 401, 403, 404, 409, 422),
                roles="the session's cashier, organizer",
            )
        },
        "/api/v1/sessions/{id}/movements": {
            "post": _op(
                "Record cash paid into or out of the drawer",
                ok=201,
                request="MovementRequest",
                response="Movement",
                params=sid,
                problems=(400, 401, 403, 404, 409, 422),
                roles="cashier, organizer",
            )
        },
        "/api/v1/sales": {
            "post": _op(
                "Record a sale",
                ok=201,
                request="SaleRequest",
                response="Sale",
                idempotent=True,
                problems=(400, 401, 403, 404, 409, 422),
                roles="cashier, organizer",
                extra={
                    **REPLAY,
                    "402": {
                        "description": "a payment method refused the tender",
                        "content": {PROBLEM: {"schema": _ref("Problem")}},
                    },
                },
            )
        },
        "/api/v1/sales/{id}": {
            "get": _op(
                "A recorded sale",
                response="Sale",
                params=sid,
                roles="organizer, cashier; a producer sees only their own lines",
            )
        },
        "/api/v1/sales/{id}/refund": {
            "post": _op(
                "Refund some or all lines of a sale",
                ok=201,
                request="RefundRequest",
                response="Sale",
                params=sid,
                idempotent=True,
                problems=(400, 401, 403, 404, 409, 422),
                roles="cashier, organizer",
                extra=REPLAY,
            )
        },
        "/api/v1/sales/{id}/void": {
            "post": _op(
                "Void a sale entirely",
                ok=201,
                request="VoidRequest",
                response="Sale",
                params=sid,
                idempotent=True,
                problems=(400, 401, 403, 404, 409, 422),
                roles="organizer",
                extra=REPLAY,
            )
        },
        "/api/v1/fairs/{slug}/settlement": {
            "get": _op(
                "The fair's settlement (liquidación)",
                response="Settlement",
                params=[
                    *slug,
                    {
                        "name": "producer",
                        "in": "query",
                        "required": False,
                        "description": "a producer's code: only their rows",
                        "schema": {"type": "string"},
                    },
                ],
                roles="organizer; a producer sees only their own rows",
            )
        },
        "/api/v1/fairs/{slug}/payouts": {
            "post": _op(
                "Record a payout to a producer",
                ok=201,
                request="PayoutRequest",
                response="Payout",
                params=slug,
                problems=(400, 401, 403, 404, 409, 422),
                roles="organizer",
            )
        },
        "/api/v1/payouts/{id}/acknowledge": {
            "post": _op(
                "The producer acknowledges receiving a payout",
                response="Payout",
                params=sid,
                problems=(401, 403, 404, 409),
                roles="the payout's producer",
            )
        },
        "/api/v1/journal/head": {
            "get": _op("The journal's published head", response="JournalHead", public=True)
        },
        "/api/v1/journal/entries": {
            "get": _op(
                "Journal entries in chain order, paged",
                response="JournalPage",
                params=[
                    {
                        "name": "after",
                        "in": "query",
                        "required": False,
                        "description": "return entries after this seq (default 0)",
                        "schema": {"type": "integer", "minimum": 0},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                    },
                ],
                problems=(401, 403, 422),
                roles="organizer",
            )
        },
        "/api/v1/fairs/{slug}/orders": {
            "get": _op(
                "Online orders the fair's caja común can hand over now, oldest first",
                response="OrderList",
                params=slug,
                problems=(401, 403, 404),
                roles="cashier, organizer",
            )
        },
        "/api/v1/orders/{id}": {
            "get": _op("An online order", response="Order", params=sid, roles="cashier, organizer")
        },
        "/api/v1/orders/{id}/ready": {
            "post": _op(
                "The order's goods are gathered at the caja común",
                response="Order",
                params=sid,
                problems=(400, 401, 403, 404, 409),
                roles="cashier, organizer",
            )
        },
        "/api/v1/orders/{id}/hand-over": {
            "post": _op(
                "Hand the order over; if not prepaid, record its sale with these tenders "
                "(under the order's own idempotency key: a resend records nothing twice)",
                ok=201,
                request="HandOverRequest",
                response="Order",
                params=sid,
                problems=(400, 401, 403, 404, 409, 422),
                roles="cashier, organizer",
                extra={"200": {"description": "handed over; no sale recorded by this call"}},
            )
        },
        "/api/v1/orders/{id}/cancel": {
            "post": _op(
                "Cancel an unpaid order and give its stock back",
                request="OrderCancel",
                response="Order",
                params=sid,
                problems=(400, 401, 403, 404, 409, 422),
                roles="cashier, organizer",
            )
        },
        "/api/openapi.json": {
            "get": {
                "summary": "This document",
                "security": [],
                "responses": {"200": {"description": "OpenAPI 3.1", "content": {JSON: {}}}},
            }
        },
    }


def document(base_url: str = "") -> dict[str, Any]:
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "feria API",
            "version": __version__,
            "summary": "The caja común of a solidarity-economy fair: sessions, sales, "
            "refunds, settlement and the public journal.",
            "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        },
        "paths": paths(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a token from `feria token create USERNAME`",
                }
            },
        },
        "security": [{"bearer": []}],
    }
    if base_url:
        doc["servers"] = [{"url": base_url}]
    return doc
