"""The JSON API, version 1: everything a till or an integration needs, under ``/api/v1/``.

Programs authenticate with ``Authorization: Bearer <token>`` (``feria token create``);
every error is an RFC 9457 problem object. The OpenAPI document at ``/api/openapi.json``
describes each route below (:mod:`feria.web.openapi`).
"""

from __future__ import annotations

from starlette.routing import Route

from feria.web.api import cashbox, journal, settlement

PREFIX = "/api/v1"

routes = [
    Route(f"{PREFIX}/sessions", cashbox.open_session, methods=["POST"]),
    Route(f"{PREFIX}/sessions/{{id:int}}", cashbox.session_report, methods=["GET"]),
    Route(f"{PREFIX}/sessions/{{id:int}}/close", cashbox.close_session, methods=["POST"]),
    Route(f"{PREFIX}/sessions/{{id:int}}/movements", cashbox.add_movement, methods=["POST"]),
    Route(f"{PREFIX}/sales", cashbox.post_sale, methods=["POST"]),
    Route(f"{PREFIX}/sales/{{id:int}}", cashbox.get_sale, methods=["GET"]),
    Route(f"{PREFIX}/sales/{{id:int}}/refund", cashbox.refund_sale, methods=["POST"]),
    Route(f"{PREFIX}/sales/{{id:int}}/void", cashbox.void_sale, methods=["POST"]),
    Route(f"{PREFIX}/fairs/{{slug}}/settlement", settlement.get_settlement, methods=["GET"]),
    Route(f"{PREFIX}/fairs/{{slug}}/payouts", settlement.post_payout, methods=["POST"]),
    Route(
        f"{PREFIX}/payouts/{{id:int}}/acknowledge", settlement.acknowledge_payout, methods=["POST"]
    ),
    Route(f"{PREFIX}/journal/head", journal.head, methods=["GET"]),
    Route(f"{PREFIX}/journal/entries", journal.entries, methods=["GET"]),
]
