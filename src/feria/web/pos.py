"""The till: the caja común's point-of-sale page, for cashiers and organizers.

The page is keyboard- and scanner-first (see ``themes/default/static/pos/pos.js`` for the
command line and its keystrokes). It records through the JSON API's own handlers, mounted
again under ``/pos/api/v1/``: there the till's login cookie authenticates instead of a
bearer token, and every write must carry the page's CSRF token in the ``X-CSRFToken``
header (the CSRF middleware checks it), so a page on another site can never post a sale
with a cashier's cookie. The engine, the validation and the problem answers are exactly the
API's.

What the JavaScript does not do is decide anything: prices, totals, change and splits are
the engine's. The page keeps a copy of the fair's catalogue and producers so a scan is
shown at once and a sale can be taken while the server does not answer; the server's
recording is what the receipt shows.

The HTML fragments below (receipt, X/Z report, refund form) are rendered here, in the
reader's language and the fair's number format, and swapped into the page by the script.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import pluggy
from babel import Locale
from babel.numbers import format_decimal
from jinja2 import pass_context
from markupsafe import Markup
from sqlalchemy import Engine, func, or_, select
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from feria import labels
from feria.cashbox import sessions
from feria.cashbox.models import CashSession, Till
from feria.cashbox.sales import payment_methods
from feria.catalogue.models import Fair, Participation, Producer, Product, utcnow
from feria.catalogue.rules import rule_in_force
from feria.db import read_session
from feria.errors import FeriaError, NotFound
from feria.money import MoneyError, currency
from feria.payments import PaymentMethod
from feria.web.api import cashbox as api_cashbox
from feria.web.auth import require_role
from feria.web.state import app_state
from feria.web.templating import newest_fair

log = logging.getLogger("feria.web.pos")

TILL_ROLES = ("cashier", "organizer")
SEARCH_LIMIT = 20

# Amounts of notes a shopper is likely to hand over, in major units, by the currency's
# number of decimals: the page offers the next multiple of each as a one-key cash tender.
CASH_STEPS = {0: (1000, 5000, 10000, 20000), 2: (1, 5, 10, 20, 50)}


# -- queries the till needs -------------------------------------------------------------------


def _fair(engine: Engine) -> Fair:
    fair = newest_fair(engine)
    if fair is None:
        raise NotFound("no fair has been set up yet")
    return fair


def _products_query(fair: Fair):
    return (
        select(
            Product.id,
            Product.name,
            Product.sku,
            Product.barcode,
            Product.unit,
            Product.price,
            Producer.code,
            Producer.name.label("producer_name"),
        )
        .join(Producer, Producer.id == Product.producer_id)
        .join(
            Participation,
            (Participation.producer_id == Producer.id) & (Participation.fair_id == fair.id),
        )
        .where(
            Product.active.is_(True),
            Producer.active.is_(True),
            Product.currency == fair.currency,
        )
    )


def _product_json(row) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "sku": row.sku,
        "barcode": row.barcode,
        "unit": row.unit,
        "price": row.price,
        "producer": row.code,
        "producer_name": row.producer_name,
    }


def catalogue(engine: Engine, fair: Fair, query: str = "", limit: int | None = None) -> list:
    """The products on sale at ``fair``; with ``query``, those whose name, SKU, barcode or
    producer match it (name first)."""
    stmt = _products_query(fair)
    query = query.strip()
    if query:
        pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            or_(
                Product.name.ilike(pattern, escape="\\"),
                Product.sku.ilike(pattern, escape="\\"),
                Product.barcode == query,
                func.upper(Producer.code) == query.upper(),
                Producer.name.ilike(pattern, escape="\\"),
            )
        )
    stmt = stmt.order_by(Product.sort_name, Product.id)
    if limit:
        stmt = stmt.limit(limit)
    with read_session(engine) as db:
        return [_product_json(r) for r in db.execute(stmt)]


def _producers(engine: Engine, fair: Fair) -> list[dict[str, Any]]:
    with read_session(engine) as db:
        rows = db.execute(
            select(Producer.id, Producer.code, Producer.name)
            .join(Participation, Participation.producer_id == Producer.id)
            .where(Participation.fair_id == fair.id, Producer.active.is_(True))
            .order_by(Producer.code)
        )
        return [{"id": r.id, "code": r.code, "name": r.name} for r in rows]


def _tills(engine: Engine, fair: Fair) -> list[Till]:
    with read_session(engine) as db:
        return list(db.scalars(select(Till).where(Till.fair_id == fair.id).order_by(Till.code)))


def _open_session(engine: Engine, till_id: int) -> CashSession | None:
    with read_session(engine) as db:
        return db.scalar(
            select(CashSession).where(
                CashSession.till_id == till_id, CashSession.closed_at.is_(None)
            )
        )


def _rates(engine: Engine, fair: Fair) -> dict[str, Any]:
    """The conversion rates of the fair's rule in force (empty before it has one)."""
    try:
        with read_session(engine) as db:
            return dict(rule_in_force(db, fair.id, utcnow()).rates or {})
    except FeriaError:  # no rule yet: the engine will say so at the first sale
        return {}


def _method_currencies(method: PaymentMethod, fair: Fair, rates: Mapping[str, Any]) -> list[str]:
    """The currencies the till may tender ``method`` in: its own list, else the fair's
    currency if it takes it, else those of the fair's rates it takes (a social currency's
    method takes only its own codes, which the page then tenders in)."""
    if method.currencies:
        return list(method.currencies)
    if method.accepts_currency(fair.currency):
        return [fair.currency]
    return [code for code in sorted(rates) if method.accepts_currency(code)]


def _ways(
    method: PaymentMethod, fair: Fair, translate: Callable[[str], str]
) -> list[dict[str, Any]]:
    """What the till asks before a tender of ``method`` (:meth:`PaymentMethod.tender_ways`),
    its labels in the reader's language. (``translate``, not ``gettext``: the labels were
    marked where the plugin declares them; the extractor must not take these for messages.)"""
    ways = []
    for way in method.tender_ways(fair) or ():
        data = way.as_dict()
        data["label"] = translate(way.label)
        for f in data["fields"]:
            f["label"] = translate(f["label"])
        ways.append(data)
    return ways


def _methods(
    request: Request,
    fair: Fair,
    rates: Mapping[str, Any] | None = None,
    gettext: Callable[[str], str] | None = None,
) -> list[dict[str, Any]]:
    """The payment methods offered at ``fair``, as the page and ``/pos/methods`` give them:
    code, name, whether it gives change, the currencies it is tendered in (with ``rates``,
    the fair's: see :func:`_method_currencies`) and its tender ways (``gettext``, by
    default the reader's language, translates their names and labels)."""
    state = app_state(request)
    if gettext is None:
        gettext = state.templates.context(request)["translations"].gettext
    methods = payment_methods(state.pm, fair)
    out = [
        {
            "code": m.code,
            "name": gettext(m.name) if m.name else m.code,
            "gives_change": bool(m.gives_change),
            "currencies": _method_currencies(m, fair, rates or {}),
            "ways": _ways(m, fair, gettext),
        }
        for m in methods.values()
    ]
    # Cash first: it is what most shoppers pay with, and the quick-cash keys tender it.
    out.sort(key=lambda m: (not m["gives_change"], m["name"].lower()))
    return out


def _printer_status(engine: Engine, till_id: int) -> dict[str, Any] | None:
    try:
        from feria import receipts
    except ImportError:  # a build without receipt printing
        return None
    status = getattr(receipts, "printer_status", None)
    return status(engine, till_id) if status is not None else None


def _chosen_till(request: Request, tills: list[Till]) -> Till | None:
    raw = request.query_params.get("till", "")
    for till in tills:
        if raw and (str(till.id) == raw or till.code == raw):
            return till
    return tills[0] if tills else None


def _session_json(cs: CashSession | None) -> dict[str, Any] | None:
    return api_cashbox.session_json(cs) if cs is not None else None


# -- the page ---------------------------------------------------------------------------------


def _number_format(format_locale: str, code: str) -> dict[str, Any]:
    symbols = Locale.parse(format_locale).number_symbols["latn"]
    decimals = currency(code).decimals
    return {
        "locale": format_locale.replace("_", "-"),
        "currency": code,
        "decimals": decimals,
        "decimal": symbols["decimal"],
        "group": symbols["group"],
        "cash_steps": [s * 10**decimals for s in CASH_STEPS.get(decimals, CASH_STEPS[2])],
    }


def _decimals(codes: set[str]) -> dict[str, int]:
    out = {}
    for code in codes:
        try:
            out[code] = currency(code).decimals
        except MoneyError:  # a currency no plugin registers: its tenders are refused anyway
            continue
    return out


def pos_page(request: Request) -> Response:
    require_role(request, *TILL_ROLES)
    state = app_state(request)
    engine = state.engine
    fair = _fair(engine)
    tills = _tills(engine, fair)
    till = _chosen_till(request, tills)
    session = _open_session(engine, till.id) if till is not None else None
    rates = _rates(engine, fair)
    context = state.templates.context(request)
    # A method with no currency to tender in here (a social currency the fair states no
    # rate for) is left off: the engine would refuse every tender of it.
    methods = [
        m
        for m in _methods(request, fair, rates, context["translations"].gettext)
        if m["currencies"]
    ]
    config = {
        "fair": {"id": fair.id, "name": fair.name, "currency": fair.currency, "rates": rates},
        "till": {"id": till.id, "code": till.code, "name": till.name} if till else None,
        "session": _session_json(session),
        "user": context["user"].id if context["user"] else None,
        "number": _number_format(context["format_locale"], fair.currency),
        "producers": _producers(engine, fair),
        "products": catalogue(engine, fair),
        "methods": methods,
        "currencies": _decimals({c for m in methods for c in m["currencies"]}),
        "printer": _printer_status(engine, till.id) if till else None,
        "csrf": context["csrf_token"](),
    }
    return state.templates.response(
        request,
        "pos/page.html",
        {
            "tills": tills,
            "till": till,
            "session": session,
            "methods": methods,
            "config_json": Markup(json.dumps(config, ensure_ascii=False).replace("</", "<\\/")),
        },
    )


# -- JSON the page asks for -------------------------------------------------------------------


def with_labels(
    pm: pluggy.PluginManager, engine: Engine, fair: Fair, products: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``products`` (search results) each with the labels valid today at ``fair``, read
    for the whole list at once (:func:`feria.labels.labels_of_product_ids`).

    Only the search answers carry labels, read afresh each time: the catalogue the page
    keeps for scanning offline has none, so a label revoked after the page was opened is
    never shown from that copy. A failing label plugin costs the labels, never the search.
    """
    try:
        with read_session(engine) as db:
            found = labels.labels_of_product_ids(
                pm, db, [p["id"] for p in products], labels.today(fair.timezone)
            )
    except Exception:
        log.exception("could not read the labels of the till's search results")
        found = {}
    for p in products:
        p["labels"] = [labels.as_json(lb) for lb in found.get(p["id"], ())]
    return products


def search_products(request: Request) -> Response:
    """Products matching ``q`` (name, SKU, barcode or producer code), for the search box,
    with the certification labels each carries today."""
    require_role(request, *TILL_ROLES)
    state = app_state(request)
    engine = state.engine
    fair = _fair(engine)
    query = request.query_params.get("q", "")[:100]
    found = catalogue(engine, fair, query, SEARCH_LIMIT)
    return JSONResponse(with_labels(state.pm, engine, fair, found))


def list_methods(request: Request) -> Response:
    """The payment methods the loaded plugins offer at the fair."""
    require_role(request, *TILL_ROLES)
    state = app_state(request)
    fair = _fair(state.engine)
    gettext = state.templates.context(request)["translations"].gettext
    methods = _methods(request, fair, _rates(state.engine, fair), gettext)
    return JSONResponse([m for m in methods if m["currencies"]])


def till_status(request: Request) -> Response:
    """The till's open session and printer, polled by the page."""
    require_role(request, *TILL_ROLES)
    engine = app_state(request).engine
    try:
        till_id = int(request.query_params.get("till", ""))
    except ValueError as exc:
        raise NotFound("say which till: ?till=ID") from exc
    return JSONResponse(
        {
            "session": _session_json(_open_session(engine, till_id)),
            "printer": _printer_status(engine, till_id),
        }
    )


# -- fragments --------------------------------------------------------------------------------


def qr_svg(data: str) -> Markup:
    """``data`` as a QR code in inline SVG (scales to any size, prints sharp)."""
    import qrcode
    import qrcode.image.svg

    code = qrcode.QRCode(
        image_factory=qrcode.image.svg.SvgPathImage,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=2,
    )
    code.add_data(data)
    svg = code.make_image().to_string(encoding="unicode")
    return Markup(svg[svg.index("<svg") :])


def _verify_url(request: Request, sale_id: int) -> str:
    base = app_state(request).settings.base_url or str(request.base_url).rstrip("/")
    return f"{base}/verify/{sale_id}"


def _producer_names(engine: Engine, ids: set[int]) -> dict[int, Producer]:
    if not ids:
        return {}
    with read_session(engine) as db:
        return {p.id: p for p in db.scalars(select(Producer).where(Producer.id.in_(ids)))}


def _sale_view(engine: Engine, sale_id: int) -> dict[str, Any]:
    sale = api_cashbox.sale_json(api_cashbox.load_sale(engine, sale_id))
    producers = _producer_names(engine, {ln["producer"] for ln in sale["lines"]})
    groups: dict[int, dict[str, Any]] = {}
    for ln in sale["lines"]:
        p = producers.get(ln["producer"])
        group = groups.setdefault(
            ln["producer"],
            {"code": p.code if p else "", "name": p.name if p else "", "lines": [], "total": 0},
        )
        group["lines"].append(ln)
        group["total"] += ln["total"]
    sale["groups"] = list(groups.values())
    sale["at_dt"] = dt.datetime.fromisoformat(sale["at"])
    return sale


@pass_context
def _quantity(context, value: str) -> str:
    """``1.25`` as the reader writes it (``1,25`` in es)."""
    return format_decimal(Decimal(value), locale=context["format_locale"])


def _fragment(request: Request, name: str, context: dict[str, Any]) -> HTMLResponse:
    context = {"quantity": _quantity, **context}
    response = app_state(request).templates.response(request, name, context)
    response.headers["Cache-Control"] = "no-store"
    return response


def _receipt_labels(
    pm: pluggy.PluginManager, engine: Engine, fair: Fair, sale: dict[str, Any]
) -> None:
    """Put on each producer group of ``sale`` (as :func:`_sale_view` gives it) the labels
    valid now, once per producer (:func:`feria.labels.receipt_labels`). Read when the
    receipt is shown, never when the sale is recorded; a failing label plugin costs the
    labels, never the receipt."""
    groups = [
        (g["lines"][0]["producer"], [(ln["product"], ln["description"]) for ln in g["lines"]])
        for g in sale["groups"]
    ]
    try:
        with read_session(engine) as db:
            held = labels.labels_by_group(pm, db, groups, labels.today(fair.timezone))
    except Exception:
        log.exception("could not read the labels of sale %s", sale["id"])
        held = [[] for _ in groups]
    for group, mine in zip(sale["groups"], held, strict=True):
        group["labels"] = mine


def receipt_fragment(request: Request) -> Response:
    """The receipt of a sale, refund or void, with its QR code to the verification page
    and, on a sale's, the labels its producers and products carry today."""
    require_role(request, *TILL_ROLES)
    state = app_state(request)
    engine = state.engine
    fair = _fair(engine)
    sale = _sale_view(engine, request.path_params["id"])
    if sale["kind"] == "sale":
        with read_session(engine) as db:
            sold_at = db.get(Fair, sale["fair"])  # labels hold on the day where it was sold
        _receipt_labels(state.pm, engine, sold_at or fair, sale)
    url = _verify_url(request, sale["id"])
    names = {m["code"]: m["name"] for m in _methods(request, fair)}
    context = {"sale": sale, "verify_url": url, "qr": qr_svg(url), "method_names": names}
    return _fragment(request, "pos/_receipt.html", context)


def report_fragment(request: Request) -> Response:
    """The X-report of a session (its Z-report once it is closed)."""
    require_role(request, *TILL_ROLES)
    engine = app_state(request).engine
    report = sessions.x_report(engine, request.path_params["id"])
    ids = {int(p) for p in report["by_producer"]}
    producers = _producer_names(engine, ids)
    by_producer = [
        {
            "code": producers[int(p)].code if int(p) in producers else p,
            "name": producers[int(p)].name if int(p) in producers else "",
            "amounts": amounts,
        }
        for p, amounts in report["by_producer"].items()
    ]
    fair = _fair(engine)
    names = {m["code"]: m["name"] for m in _methods(request, fair)}
    return _fragment(
        request,
        "pos/_report.html",
        {"report": report, "by_producer": by_producer, "method_names": names},
    )


def refund_fragment(request: Request) -> Response:
    """The form to return lines of a sale, read back from its journal entry."""
    require_role(request, *TILL_ROLES)
    sale = _sale_view(app_state(request).engine, request.path_params["id"])
    if sale["kind"] != "sale":
        raise NotFound(f"number {sale['id']} is a {sale['kind']}, not a sale")
    return _fragment(request, "pos/_refund.html", {"sale": sale})


# The API's own handlers, authenticated by the till's cookie and checked for CSRF.
TILL_API = "/pos/api/v1"
_till_api = [
    Route(f"{TILL_API}/sessions", api_cashbox.open_session, methods=["POST"]),
    Route(f"{TILL_API}/sessions/{{id:int}}", api_cashbox.session_report, methods=["GET"]),
    Route(f"{TILL_API}/sessions/{{id:int}}/close", api_cashbox.close_session, methods=["POST"]),
    Route(f"{TILL_API}/sales", api_cashbox.post_sale, methods=["POST"]),
    Route(f"{TILL_API}/sales/{{id:int}}", api_cashbox.get_sale, methods=["GET"]),
    Route(f"{TILL_API}/sales/{{id:int}}/refund", api_cashbox.refund_sale, methods=["POST"]),
]

routes = [
    Route("/pos", pos_page, methods=["GET"], name="pos"),
    Route("/pos/products", search_products, methods=["GET"], name="pos_products"),
    Route("/pos/methods", list_methods, methods=["GET"], name="pos_methods"),
    Route("/pos/status", till_status, methods=["GET"], name="pos_status"),
    Route("/pos/receipts/{id:int}", receipt_fragment, methods=["GET"], name="pos_receipt"),
    Route("/pos/sessions/{id:int}/report", report_fragment, methods=["GET"], name="pos_report"),
    Route("/pos/sales/{id:int}/refund", refund_fragment, methods=["GET"], name="pos_refund"),
    *_till_api,
]
