"""The public registry: who holds which label, granted by which committee after which
visit, valid until when, and each label's whole history; and the QR code of a producer's
stall sign, which leads to that producer's entries in the registry.

Read-only pages for anyone, no login: a shopper at the stall checks the label on the spot.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from feria.catalogue.models import Network, Producer
from feria.db import read_session
from feria.errors import NotFound
from feria.web.state import app_state
from feria_pgs import i18n, registry
from feria_pgs.certification import producer_by_code


def _render(request: Request, name: str, context: dict[str, Any]) -> Response:
    templates = app_state(request).templates
    # The reader's language is only known once feria has worked out the page context; the
    # plugin's strings are then looked up first, feria's as the fallback.
    base = templates.context(request)
    context["translations"] = i18n.translations(base["locale"], base["translations"])
    return templates.response(request, name, context)


def registry_page(request: Request) -> Response:
    producer_code = request.query_params.get("producer") or None
    network_slug = request.query_params.get("network") or None
    today = dt.date.today()
    with read_session(app_state(request).engine) as db:
        entries = registry.registry(
            db, today, producer_code=producer_code, network_slug=network_slug
        )
        return _render(
            request,
            "pgs/registry.html",
            {
                "entries": entries,
                "today": today,
                "producer_code": producer_code.upper() if producer_code else None,
            },
        )


def holding_page(request: Request) -> Response:
    today = dt.date.today()
    with read_session(app_state(request).engine) as db:
        found = registry.history(db, request.path_params["holding_id"], today)
        if found is None:
            raise NotFound("there is no such label in the registry")
        return _render(request, "pgs/holding.html", {"h": found, "today": today})


def _with_network(request: Request, url: str) -> str:
    """``url`` keeping the ``?network=`` the request named (producer codes are unique only
    within a network)."""
    slug = request.query_params.get("network")
    if not slug:
        return url
    return f"{url}{'&' if '?' in url else '?'}network={quote(slug)}"


def _registry_link(request: Request, producer: Producer) -> str:
    base = app_state(request).settings.base_url or str(request.base_url).rstrip("/")
    return _with_network(request, f"{base}{registry.PREFIX}/registry?producer={producer.code}")


def _producer(db: Session, request: Request) -> Producer:
    """The producer of a sign: by code, within ``?network=`` when codes repeat."""
    network_id = None
    slug = request.query_params.get("network")
    if slug:
        network_id = db.scalar(select(Network.id).where(Network.slug == slug))
        if network_id is None:
            raise NotFound(f"there is no network {slug!r}")
    return producer_by_code(db, request.path_params["producer_code"], network_id)


def _qr(request: Request, **options: Any):
    import qrcode

    with read_session(app_state(request).engine) as db:
        link = _registry_link(request, _producer(db, request))
    return qrcode.make(link, error_correction=qrcode.constants.ERROR_CORRECT_M, **options)


def sign_svg(request: Request) -> Response:
    import qrcode.image.svg

    out = io.BytesIO()
    _qr(request, image_factory=qrcode.image.svg.SvgPathImage).save(out)
    return Response(out.getvalue(), media_type="image/svg+xml")


def sign_png(request: Request) -> Response:
    out = io.BytesIO()
    _qr(request, box_size=12).save(out)
    return Response(out.getvalue(), media_type="image/png")


def sign_page(request: Request) -> Response:
    """A page to print and stand on the stall: the producer, its valid labels, the QR."""
    today = dt.date.today()
    with read_session(app_state(request).engine) as db:
        producer = _producer(db, request)
        return _render(
            request,
            "pgs/sign.html",
            {
                "producer": producer,
                "holdings": registry.all_valid_holdings(db, producer.id, today),
                "qr_url": _with_network(request, f"{registry.PREFIX}/sign/{producer.code}.svg"),
                "registry_link": _registry_link(request, producer),
            },
        )


routes = [
    Route(f"{registry.PREFIX}/registry", registry_page, methods=["GET"], name="pgs_registry"),
    Route(
        f"{registry.PREFIX}/registry/{{holding_id:int}}",
        holding_page,
        methods=["GET"],
        name="pgs_holding",
    ),
    Route(f"{registry.PREFIX}/sign/{{producer_code}}.svg", sign_svg, methods=["GET"]),
    Route(f"{registry.PREFIX}/sign/{{producer_code}}.png", sign_png, methods=["GET"]),
    Route(f"{registry.PREFIX}/sign/{{producer_code}}", sign_page, methods=["GET"]),
]
