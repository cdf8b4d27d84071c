"""``/producer/preorders``: what a producer has to make for the shop's orders.

Production on demand: each fair's orders are taken in cycles that close on a stated date;
the producer sees, per cycle, the quantities of each of their products ordered so far
(cancelled orders left out), consolidated over all orders, and makes just that.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from feria.db import read_session
from feria.errors import Forbidden
from feria.orders import preorder_cycles
from feria.web.auth import require_role
from feria.web.state import app_state


def preorders_page(request: Request) -> Response:
    user = require_role(request, "producer")
    if user.producer_id is None:
        raise Forbidden("this account is not linked to a producer")
    state = app_state(request)
    with read_session(state.engine) as db:
        cycles = preorder_cycles(db, user.producer_id)
    return state.templates.response(request, "producer/preorders.html", {"cycles": cycles})


routes = [Route("/producer/preorders", preorders_page, methods=["GET"], name="producer_preorders")]
