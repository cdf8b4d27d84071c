"""Settlement (liquidación) and payouts over HTTP.

Organizers see every producer's figures; a producer sees only their own, and asking for
another producer's is refused, not silently narrowed. Cashiers settle nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.responses import Response

from feria.db import read_session
from feria.errors import Forbidden
from feria.settlement import acknowledge_payout as acknowledge
from feria.settlement import record_payout, settle
from feria.web.api.base import Call, endpoint, fair_by_slug, fields_named, json, producer_by_code


def _iso(value: Any) -> Any:
    return value.isoformat(timespec="seconds") if isinstance(value, dt.datetime) else value


def payout_json(payout: Any) -> dict[str, Any]:
    get = payout.get if isinstance(payout, dict) else lambda name: getattr(payout, name, None)
    return {
        "id": get("id"),
        "fair": get("fair_id"),
        "producer": get("producer_id"),
        "currency": get("currency"),
        "amount": get("amount"),
        "method": get("method"),
        "reference": get("reference"),
        "at": _iso(get("at")),
        "seq": get("seq"),
        "acknowledged_at": _iso(get("acknowledged_at")),
        "acknowledged_by": get("acknowledged_by"),
    }


@endpoint("organizer", "producer")
def get_settlement(call: Call) -> Response:
    fair = fair_by_slug(call.engine, call.param("slug"))
    code = call.request.query_params.get("producer")
    producer_id = producer_by_code(call.engine, fair, code, "producer") if code else None
    if call.user.role == "producer":
        if producer_id is not None and producer_id != call.user.producer_id:
            raise Forbidden("a producer sees only their own settlement", field="producer")
        producer_id = call.user.producer_id
    with read_session(call.engine) as db:
        settlement = settle(db, fair.id)
    if producer_id is not None:
        settlement = settlement.for_producer(producer_id)
    return json(settlement.to_json())


@endpoint("organizer")
def post_payout(call: Call) -> Response:
    fair = fair_by_slug(call.engine, call.param("slug"))
    f = call.body()
    code = f.text("producer_code", required=True, max_length=16)
    currency = f.text("currency", required=True, max_length=8)
    amount = f.integer("amount", required=True, minimum=1)
    method = f.text("method", required=True, max_length=32)
    reference = f.text("reference", default="", max_length=200)
    f.done()
    with fields_named({"producer": "producer_code"}):
        payout = record_payout(
            call.engine,
            fair_id=fair.id,
            producer_id=producer_by_code(call.engine, fair, code, "producer_code"),
            currency=currency,
            amount=amount,
            method=method,
            reference=reference,
            user_id=call.user.id,
        )
    return json(payout_json(payout), 201)


@endpoint("producer")
def acknowledge_payout(call: Call) -> Response:
    call.no_body()
    with fields_named({"payout": "id"}):
        payout = acknowledge(call.engine, payout_id=call.param("id"), user_id=call.user.id)
    return json(payout_json(payout))
