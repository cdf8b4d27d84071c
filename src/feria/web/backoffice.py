"""The organizers' back office: fairs, producers and their cooperative members, products,
the fair rules and their versions, users, cash sessions with their discrepancies, and the
settlement with its payouts, CSV export and printable sheet per producer.

Every route here is for organizers only. A handler reads its form, calls one catalogue,
cash box or settlement function, and renders the result; a refusal from the engine comes
back as the same page with the form as it was sent and the field at fault marked. The live
dashboard is in :mod:`feria.web.live`.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from feria import hookimpl, journal
from feria.accounts import ROLES, User, add_user
from feria.cashbox.errors import NoRuleInForce
from feria.cashbox.models import CashMovement, CashSession, Sale, Till
from feria.cashbox.sales import payment_methods
from feria.catalogue.models import (
    PRODUCER_KINDS,
    UNITS,
    Fair,
    Network,
    Participation,
    Producer,
    Product,
    RuleVersion,
    utcnow,
)
from feria.catalogue.rules import add_rule_version, rule_in_force
from feria.catalogue.service import (
    add_producer,
    add_product,
    create_fair,
    create_network,
    join_fair,
)
from feria.db import read_session, write_session
from feria.errors import FeriaError, NotFound
from feria.i18n import N_
from feria.money import Money, MoneyError, parse_amount
from feria.settlement import fair_by_slug, record_payout, settle
from feria.web.auth import require_role
from feria.web.live import MAX_ROW_ID, path_id, render_page, settlement_now
from feria.web.menu import MenuItem
from feria.web.state import app_state

ORGANIZER = "organizer"
MAX_FIELD = 5000


class InvalidForm(FeriaError):
    """A form field the web layer could not read. ``message`` is an English msgid, shown
    translated (the engine's own refusals are shown as they come)."""

    code = "invalid_form"
    translatable = True


# -- reading forms --------------------------------------------------------------------------


def _row_id(form: Mapping[str, str], name: str) -> int | None:
    """A row id chosen in a form's select, or ``None``."""
    raw = (form.get(name) or "").strip()
    return int(raw) if raw.isdigit() and 0 < int(raw) <= MAX_ROW_ID else None


def _text(form: Mapping[str, str], name: str, max_len: int = 200) -> str:
    return (form.get(name) or "").strip()[:max_len]


def _percent_bp(raw: str, field: str) -> int:
    """``5``, ``2,5`` or ``2.5`` percent → basis points (a percentage has no thousands)."""
    text = (raw or "").strip().replace("%", "").replace(",", ".").strip() or "0"
    try:
        value = Decimal(text) * 100
    except InvalidOperation as exc:
        raise InvalidForm(N_("Write a percentage, like 5 or 2,5."), field=field) from exc
    if not value.is_finite() or value != value.to_integral_value() or not 0 <= value <= 10_000:
        raise InvalidForm(
            N_("Write a percentage from 0 to 100 with at most two decimals."), field=field
        )
    return int(value)


def _amount(raw: str, code: str, locale: str, field: str, *, required: bool = True) -> int:
    """An amount typed as people write it in ``locale`` → minor units of ``code``."""
    if not (raw or "").strip():
        if required:
            raise InvalidForm(N_("Write an amount."), field=field)
        return 0
    try:
        return Money.from_decimal(parse_amount(raw, code, locale), code).amount
    except MoneyError as exc:
        raise InvalidForm(N_("Write the amount in digits, like 2500."), field=field) from exc


def _date(raw: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat((raw or "").strip())
    except ValueError as exc:
        raise InvalidForm(N_("Write the date like 2026-12-24."), field=field) from exc


def _local_datetime(raw: str, timezone: str, field: str) -> dt.datetime | None:
    """``2026-12-24 18:00`` (or a bare date) in the fair's zone → naive UTC, as feria
    stores it."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        local = dt.datetime.fromisoformat(raw).replace(tzinfo=ZoneInfo(timezone))
    except (ValueError, ZoneInfoNotFoundError) as exc:
        raise InvalidForm(
            N_("Write a date and a time like 2026-12-24 18:00."), field=field
        ) from exc
    return local.astimezone(dt.UTC).replace(tzinfo=None)


_MEMBER_LINE = re.compile(r"^(?P<name>.+?)\s*[:=]\s*(?P<share>[\d.,]+)\s*%?$")


def _members(raw: str) -> list[tuple[str, int]]:
    """One member a line, ``Ana: 60`` (percent of the cooperative's share)."""
    members = []
    for line in (raw or "").splitlines():
        if not line.strip():
            continue
        found = _MEMBER_LINE.match(line.strip())
        if found is None:
            raise InvalidForm(
                N_("Write one member a line, with the share in percent: Ana: 60"),
                field="members",
            )
        members.append((found["name"], _percent_bp(found["share"], "members")))
    return members


def _rates(raw: str) -> dict[str, str]:
    """One currency a line, ``BRL = 180`` (how many units of the fair currency one is worth)."""
    rates = {}
    for line in (raw or "").splitlines():
        if not line.strip():
            continue
        code, sep, rate = line.partition("=")
        if not sep or not code.strip() or not rate.strip():
            raise InvalidForm(N_("Write one currency a line: CODE = rate"), field="rates")
        rates[code.strip().upper()] = rate.strip().replace(",", ".")
    return rates


async def _read_form(request: Request) -> dict[str, str]:
    form = await request.form()
    try:
        return {k: str(v)[:MAX_FIELD] for k, v in form.items() if isinstance(v, str)}
    finally:
        await form.close()


def organizer_only(handler: Callable[[Request, dict[str, str]], Response]) -> Callable:
    """Check the role before anything else (a form is not even read for anyone else),
    then run ``handler(request, form)`` in a worker thread: the engine blocks."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        await run_in_threadpool(require_role, request, ORGANIZER)
        form = await _read_form(request) if request.method == "POST" else {}
        return await run_in_threadpool(handler, request, form)

    return endpoint


_render = render_page


def _refused(exc: FeriaError) -> int:
    return exc.status if exc.status >= 400 and exc.status != 500 else 400


def _done(url: str, **params: Any) -> RedirectResponse:
    """Back to the page after a change (post/redirect/get), saying what was done."""
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return RedirectResponse(f"{url}?{query}" if query else url, status_code=303)


def _page_locale(request: Request) -> tuple[str, str]:
    """The reader's language and the locale amounts are written in (as the page shows)."""
    context = app_state(request).templates.context(request)
    return context["locale"], context["format_locale"]


def _fair(db: Session, request: Request) -> Fair:
    return fair_by_slug(db, request.path_params["slug"])


# -- overview and fairs ----------------------------------------------------------------------


def _overview(request: Request, form: dict[str, str], error: FeriaError | None = None) -> Response:
    with read_session(app_state(request).engine) as db:
        fairs = list(db.scalars(select(Fair).order_by(Fair.starts_on.desc(), Fair.id.desc())))
        networks = list(db.scalars(select(Network).order_by(Network.name)))
        sales = dict(
            db.execute(
                select(Sale.fair_id, func.count()).where(Sale.kind == "sale").group_by(Sale.fair_id)
            ).all()
        )
    return _render(
        request,
        "backoffice/overview.html",
        {
            "fairs": fairs,
            "networks": networks,
            "network_options": [(n.id, n.name) for n in networks],
            "sales_count": sales,
            "values": form,
            "error": error,
            "done": request.query_params.get("done"),
        },
        _refused(error) if error else 200,
    )


@organizer_only
def overview(request: Request, form: dict[str, str]) -> Response:
    return _overview(request, form)


def _check_zone_and_locale(timezone: str, locale: str) -> None:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidForm(
            N_("Write a time zone like America/Santiago or America/Sao_Paulo."), field="timezone"
        ) from exc
    try:
        Locale.parse(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError) as exc:
        raise InvalidForm(N_("Write a locale like es_CL or pt_BR."), field="locale") from exc


@organizer_only
def create_fair_post(request: Request, form: dict[str, str]) -> Response:
    try:
        timezone = _text(form, "timezone", 64) or "UTC"
        locale = _text(form, "locale", 16) or "es"
        _check_zone_and_locale(timezone, locale)
        starts_on = _date(form.get("starts_on", ""), "starts_on")
        ends_on = _date(form.get("ends_on", ""), "ends_on")
        solidarity_bp = _percent_bp(form.get("solidarity", ""), "solidarity_bp")
        with write_session(app_state(request).engine) as db:
            network_id = _row_id(form, "network")
            network = db.get(Network, network_id) if network_id else None
            if network is None:
                network = create_network(
                    db, _text(form, "network_slug", 64), _text(form, "network_name")
                )
            fair = create_fair(
                db,
                network,
                slug=_text(form, "slug", 64),
                name=_text(form, "name"),
                starts_on=starts_on,
                ends_on=ends_on,
                currency_code=_text(form, "currency", 8).upper(),
                locale=locale,
                place=_text(form, "place", 300),
                timezone=timezone,
                solidarity_bp=solidarity_bp,
            )
            slug = fair.slug
    except FeriaError as exc:
        return _overview(request, form, exc)
    return _done("/backoffice", done=f"fair:{slug}")


# -- producers --------------------------------------------------------------------------


def _producers_page(
    request: Request, form: dict[str, str], error: FeriaError | None = None
) -> Response:
    with read_session(app_state(request).engine) as db:
        fair = _fair(db, request)
        producers = list(
            db.scalars(
                select(Producer)
                .where(Producer.network_id == fair.network_id)
                .order_by(Producer.code)
            )
        )
        for p in producers:
            _ = p.members  # loaded while the session is open
        stalls = dict(
            db.execute(
                select(Participation.producer_id, Participation.stall).where(
                    Participation.fair_id == fair.id
                )
            ).all()
        )
        logins = defaultdict(list)
        for username, pid in db.execute(
            select(User.username, User.producer_id).where(User.producer_id.is_not(None))
        ):
            logins[pid].append(username)
    return _render(
        request,
        "backoffice/producers.html",
        {
            "current": fair,
            "producers": producers,
            "stalls": stalls,
            "logins": logins,
            "kinds": PRODUCER_KINDS,
            "values": form,
            "error": error,
            "done": request.query_params.get("done"),
        },
        _refused(error) if error else 200,
    )


@organizer_only
def producers(request: Request, form: dict[str, str]) -> Response:
    return _producers_page(request, form)


@organizer_only
def add_producer_post(request: Request, form: dict[str, str]) -> Response:
    try:
        members = _members(form.get("members", ""))
        with write_session(app_state(request).engine) as db:
            fair = _fair(db, request)
            producer = add_producer(
                db,
                db.get(Network, fair.network_id),
                code=_text(form, "code", 16),
                name=_text(form, "name"),
                kind=_text(form, "kind", 16) or "individual",
                members=members,
                place=_text(form, "place", 300),
                contact_email=_text(form, "contact_email"),
                contact_phone=_text(form, "contact_phone", 64),
                story=_text(form, "story", MAX_FIELD),
            )
            if form.get("join"):
                join_fair(db, fair, producer, _text(form, "stall", 32))
            code, slug = producer.code, fair.slug
    except FeriaError as exc:
        return _producers_page(request, form, exc)
    return _done(f"/backoffice/fairs/{slug}/producers", done=f"producer:{code}")


@organizer_only
def join_fair_post(request: Request, form: dict[str, str]) -> Response:
    with write_session(app_state(request).engine) as db:
        fair = _fair(db, request)
        producer = db.get(Producer, path_id(request, "producer_id"))
        if producer is None or producer.network_id != fair.network_id:
            raise NotFound("there is no such producer in this fair's network")
        join_fair(db, fair, producer, _text(form, "stall", 32))
        code, slug = producer.code, fair.slug
    return _done(f"/backoffice/fairs/{slug}/producers", done=f"joined:{code}")


# -- products ----------------------------------------------------------------------------


def _products_page(
    request: Request, form: dict[str, str], error: FeriaError | None = None
) -> Response:
    chosen = _row_id(request.query_params, "producer")
    with read_session(app_state(request).engine) as db:
        fair = _fair(db, request)
        producers = list(
            db.scalars(
                select(Producer)
                .where(Producer.network_id == fair.network_id)
                .order_by(Producer.code)
            )
        )
        query = (
            select(Product, Producer.code)
            .join(Producer, Producer.id == Product.producer_id)
            .where(Producer.network_id == fair.network_id)
            .order_by(Producer.code, Product.sort_name)
        )
        if chosen is not None:
            query = query.where(Product.producer_id == chosen)
        products = db.execute(query.limit(1000)).all()
    return _render(
        request,
        "backoffice/products.html",
        {
            "current": fair,
            "producers": producers,
            "producer_choices": [("", "—")] + [(p.id, f"{p.code} · {p.name}") for p in producers],
            "products": products,
            "chosen": chosen,
            "units": UNITS,
            "values": form,
            "error": error,
            "done": request.query_params.get("done"),
        },
        _refused(error) if error else 200,
    )


@organizer_only
def products(request: Request, form: dict[str, str]) -> Response:
    return _products_page(request, form)


@organizer_only
def add_product_post(request: Request, form: dict[str, str]) -> Response:
    _, format_locale = _page_locale(request)
    try:
        with write_session(app_state(request).engine) as db:
            fair = _fair(db, request)
            producer_id = _row_id(form, "producer")
            producer = db.get(Producer, producer_id) if producer_id else None
            if producer is None or producer.network_id != fair.network_id:
                raise InvalidForm(N_("Choose the producer."), field="producer")
            product = add_product(
                db,
                producer,
                sku=_text(form, "sku", 64),
                name=_text(form, "name"),
                price=_amount(form.get("price", ""), fair.currency, format_locale, "price"),
                currency_code=fair.currency,
                unit=_text(form, "unit", 8) or "piece",
                barcode=_text(form, "barcode", 14) or None,
                stock=_text(form, "stock", 32) or None,
                category=_text(form, "category", 100),
                description=_text(form, "description", MAX_FIELD),
            )
            sku, slug = product.sku, fair.slug
    except FeriaError as exc:
        return _products_page(request, form, exc)
    return _done(f"/backoffice/fairs/{slug}/products", done=f"product:{sku}")


# -- rules ---------------------------------------------------------------------------------


def _rules_page(
    request: Request, form: dict[str, str], error: FeriaError | None = None
) -> Response:
    with read_session(app_state(request).engine) as db:
        fair = _fair(db, request)
        versions = list(
            db.scalars(
                select(RuleVersion)
                .where(RuleVersion.fair_id == fair.id)
                .order_by(RuleVersion.version.desc())
            )
        )
        try:
            in_force = rule_in_force(db, fair.id, utcnow()).id
        except NoRuleInForce:
            in_force = None
        used = dict(
            db.execute(
                select(Sale.rule_version_id, func.count())
                .where(Sale.fair_id == fair.id)
                .group_by(Sale.rule_version_id)
            ).all()
        )
    offered = payment_methods(app_state(request).pm, fair)
    fee_methods = sorted(set(offered) | {m for v in versions for m in (v.fees or {})})
    latest = versions[0] if versions else None
    return _render(
        request,
        "backoffice/rules.html",
        {
            "current": fair,
            "versions": versions,
            "in_force": in_force,
            "used": used,
            "fee_methods": fee_methods,
            "methods": {code: m.name or code for code, m in offered.items()},
            "latest": latest,
            "rates_text": "\n".join(f"{c} = {r}" for c, r in sorted((latest.rates or {}).items()))
            if latest
            else "",
            "values": form,
            "error": error,
            "done": request.query_params.get("done"),
        },
        _refused(error) if error else 200,
    )


@organizer_only
def rules(request: Request, form: dict[str, str]) -> Response:
    return _rules_page(request, form)


@organizer_only
def add_rule_post(request: Request, form: dict[str, str]) -> Response:
    _, format_locale = _page_locale(request)
    user = require_role(request, ORGANIZER)
    try:
        with write_session(app_state(request).engine) as db:
            fair = _fair(db, request)
            fees = {}
            for key in form:
                if not key.startswith("fee_bp."):
                    continue
                method = key.removeprefix("fee_bp.")[:32]
                bp = _percent_bp(form.get(key, ""), f"fees.{method}.bp")
                fixed = _amount(
                    form.get(f"fee_fixed.{method}", ""),
                    fair.currency,
                    format_locale,
                    f"fees.{method}.fixed",
                    required=False,
                )
                if bp or fixed:
                    fees[method] = {"bp": bp, "fixed": fixed}
            rule = add_rule_version(
                db,
                fair,
                solidarity_bp=_percent_bp(form.get("solidarity", ""), "solidarity_bp"),
                fees=fees,
                rates=_rates(form.get("rates", "")),
                effective_at=_local_datetime(
                    form.get("effective_at", ""), fair.timezone, "effective_at"
                ),
                note=_text(form, "note", 2000),
                user_id=user.id,
            )
            version, slug = rule.version, fair.slug
    except FeriaError as exc:
        return _rules_page(request, form, exc)
    return _done(f"/backoffice/fairs/{slug}/rules", done=f"version:{version}")


# -- users --------------------------------------------------------------------------------


def _users_page(
    request: Request, form: dict[str, str], error: FeriaError | None = None
) -> Response:
    with read_session(app_state(request).engine) as db:
        users = db.execute(
            select(User, Producer.code)
            .outerjoin(Producer, Producer.id == User.producer_id)
            .order_by(User.role, User.username)
        ).all()
        producers = db.execute(
            select(Producer.id, Producer.code, Producer.name, Network.name, Network.id)
            .join(Network, Network.id == Producer.network_id)
            .order_by(Network.name, Producer.code)
        ).all()
    return _render(
        request,
        "backoffice/users.html",
        {
            "users": users,
            "producers": producers,
            "roles": ROLES,
            "producer_options": [("", "—")]
            + [(pid, f"{code} · {name} ({net})") for pid, code, name, net, _ in producers],
            "values": form,
            "error": error,
            "done": request.query_params.get("done"),
        },
        _refused(error) if error else 200,
    )


@organizer_only
def users(request: Request, form: dict[str, str]) -> Response:
    return _users_page(request, form)


@organizer_only
def add_user_post(request: Request, form: dict[str, str]) -> Response:
    try:
        with write_session(app_state(request).engine) as db:
            role = _text(form, "role", 16)
            producer_code, network_id = None, None
            if role == "producer":
                producer_id = _row_id(form, "producer")
                producer = db.get(Producer, producer_id) if producer_id else None
                if producer is None:
                    raise InvalidForm(
                        N_("Choose the producer this person speaks for."), field="producer"
                    )
                producer_code, network_id = producer.code, producer.network_id
            user = add_user(
                db,
                _text(form, "username", 64),
                form.get("password", ""),
                role,
                producer_code=producer_code,
                display_name=_text(form, "display_name"),
                email=_text(form, "email"),
                network_id=network_id,
            )
            username = user.username
    except FeriaError as exc:
        form.pop("password", None)  # never sent back into a page
        return _users_page(request, form, exc)
    return _done("/backoffice/users", done=f"user:{username}")


# -- cash sessions ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MovementRow:
    """Cash put into (``paid_in``) or taken out of (``paid_out``) a session's drawer: part
    of the cash the close expects, so it is what explains many a discrepancy."""

    id: int
    session_id: int
    kind: str
    amount: int
    currency: str
    reason: str
    by: str
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A cash session as the organizers review it."""

    id: int
    till: str
    cashier: str
    currency: str
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    float_amount: int
    sales: int
    expected: dict[str, int]
    counted: dict[str, int]
    discrepancy: dict[str, int]
    close_seq: int | None
    movements: tuple[MovementRow, ...] = ()

    @property
    def off(self) -> bool:
        return any(v != 0 for v in self.discrepancy.values())

    @property
    def moved(self) -> dict[str, int]:
        """What the paid-ins and paid-outs added to the drawer, by currency (negative when
        more went out than came in)."""
        net: dict[str, int] = defaultdict(int)
        for mv in self.movements:
            net[mv.currency] += mv.amount if mv.kind == "paid_in" else -mv.amount
        return dict(net)


def _movements(db: Session, fair_id: int) -> dict[int, list[MovementRow]]:
    """Every paid-in and paid-out of the fair's sessions, by session, oldest first."""
    by_session: dict[int, list[MovementRow]] = defaultdict(list)
    for mv, display, username in db.execute(
        select(CashMovement, User.display_name, User.username)
        .join(CashSession, CashSession.id == CashMovement.session_id)
        .join(User, User.id == CashMovement.user_id)
        .where(CashSession.fair_id == fair_id)
        .order_by(CashMovement.session_id, CashMovement.at, CashMovement.id)
    ):
        by_session[mv.session_id].append(
            MovementRow(
                id=mv.id,
                session_id=mv.session_id,
                kind=mv.kind,
                amount=mv.amount,
                currency=mv.currency,
                reason=mv.reason,
                by=display or username,
                at=mv.at,
            )
        )
    return by_session


@organizer_only
def sessions(request: Request, form: dict[str, str]) -> Response:
    with read_session(app_state(request).engine) as db:
        fair = _fair(db, request)
        counts = dict(
            db.execute(
                select(Sale.session_id, func.count())
                .where(Sale.fair_id == fair.id, Sale.kind == "sale")
                .group_by(Sale.session_id)
            ).all()
        )
        movements = _movements(db, fair.id)
        rows = [
            SessionRow(
                id=cs.id,
                till=till_code,
                cashier=display or username,
                currency=cs.currency,
                opened_at=cs.opened_at,
                closed_at=cs.closed_at,
                float_amount=cs.float_amount,
                sales=counts.get(cs.id, 0),
                expected=dict(cs.expected or {}),
                counted=dict(cs.counted or {}),
                discrepancy=dict(cs.discrepancy or {}),
                close_seq=cs.close_seq,
                movements=tuple(movements.get(cs.id, ())),
            )
            for cs, till_code, display, username in db.execute(
                select(CashSession, Till.code, User.display_name, User.username)
                .join(Till, Till.id == CashSession.till_id)
                .join(User, User.id == CashSession.cashier_id)
                .where(CashSession.fair_id == fair.id)
                .order_by(CashSession.closed_at.is_not(None), CashSession.id.desc())
            )
        ]
    return _render(
        request,
        "backoffice/sessions.html",
        {"current": fair, "sessions": rows, "off": [r for r in rows if r.off]},
    )


# -- settlement and payouts -----------------------------------------------------------------


def _settlement_page(
    request: Request, form: dict[str, str], error: FeriaError | None = None
) -> Response:
    with read_session(app_state(request).engine) as db:
        fair = _fair(db, request)
        settlement = settlement_now(request, db, fair.id)
    owed = [p for p in settlement.producers if p.balance.amount > 0]
    return _render(
        request,
        "backoffice/settlement.html",
        {
            "current": fair,
            "settlement": settlement,
            "codes": {p.producer_id: p.code for p in settlement.producers},
            "owed": owed,
            "currencies": sorted({p.currency for p in settlement.producers} | {fair.currency}),
            "values": form,
            "error": error,
            "done": request.query_params.get("done"),
        },
        _refused(error) if error else 200,
    )


@organizer_only
def settlement_page(request: Request, form: dict[str, str]) -> Response:
    return _settlement_page(request, form)


@organizer_only
def record_payout_post(request: Request, form: dict[str, str]) -> Response:
    _, format_locale = _page_locale(request)
    user = require_role(request, ORGANIZER)
    try:
        with read_session(app_state(request).engine) as db:
            fair = _fair(db, request)
        producer_id = _row_id(form, "producer")
        if producer_id is None:
            raise InvalidForm(N_("Choose the producer."), field="producer")
        code = _text(form, "currency", 8).upper() or fair.currency
        payout = record_payout(
            app_state(request).engine,
            fair_id=fair.id,
            producer_id=producer_id,
            currency=code,
            amount=_amount(form.get("amount", ""), code, format_locale, "amount"),
            method=_text(form, "method", 32),
            reference=_text(form, "reference"),
            user_id=user.id,
            note=_text(form, "note", 2000),
        )
    except FeriaError as exc:
        return _settlement_page(request, form, exc)
    return _done(f"/backoffice/fairs/{fair.slug}/settlement", done=f"payout:{payout.id}")


@organizer_only
def settlement_csv(request: Request, form: dict[str, str]) -> Response:
    _, format_locale = _page_locale(request)
    with read_session(app_state(request).engine) as db:
        fair = _fair(db, request)
        settlement = settlement_now(request, db, fair.id)
    name = f"settlement-{fair.slug}-{settlement.as_of.seq}.csv"
    return Response(
        settlement.to_csv(format_locale).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


@organizer_only
def settlement_sheet(request: Request, form: dict[str, str]) -> Response:
    """A producer's settlement on paper, to sign: figures, members, payouts, the rules that
    applied, and the digest and journal entry that let anyone check the printout later."""
    raw_as_of = request.query_params.get("as_of", "")
    with read_session(app_state(request).engine) as db:
        fair = _fair(db, request)
        producer = db.get(Producer, path_id(request, "producer_id"))
        if producer is None or producer.network_id != fair.network_id:
            raise NotFound("there is no such producer in this fair's network")
        if raw_as_of.isdigit() and len(raw_as_of) < 19:
            whole = settle(db, fair.id, as_of=int(raw_as_of))
        else:
            whole = settlement_now(request, db, fair.id)
        head = journal.head(db)
        stall = db.scalar(
            select(Participation.stall).where(
                Participation.fair_id == fair.id, Participation.producer_id == producer.id
            )
        )
    mine = whole.for_producer(producer.id)
    return _render(
        request,
        "backoffice/sheet.html",
        {
            "current": fair,
            "producer": producer,
            "stall": stall or "",
            "settlement": mine,
            "digest": mine.digest(),
            "head": head,
            "printed_at": utcnow(),
        },
    )


@hookimpl
def feria_menu_items(user):
    """The ways in: the back office, a producer's own page, and checking a sale. Listed
    among feria's default plugins, this module puts them in the main menu."""
    items = [MenuItem("storefront", N_("Check a sale"), "/verify")]
    if user is not None and user.role == ORGANIZER:
        items.insert(0, MenuItem("backoffice", N_("Back office"), "/backoffice", (ORGANIZER,)))
    if user is not None and user.role == "producer":
        items.insert(0, MenuItem("producer", N_("My sales"), "/producer", ("producer",)))
    return items


routes = [
    Route("/backoffice", overview, methods=["GET"], name="bo_overview"),
    Route("/backoffice/fairs", create_fair_post, methods=["POST"], name="bo_create_fair"),
    Route("/backoffice/users", users, methods=["GET"], name="bo_users"),
    Route("/backoffice/users", add_user_post, methods=["POST"], name="bo_add_user"),
    Route("/backoffice/fairs/{slug}/producers", producers, methods=["GET"], name="bo_producers"),
    Route("/backoffice/fairs/{slug}/producers", add_producer_post, methods=["POST"]),
    Route(
        "/backoffice/fairs/{slug}/producers/{producer_id:int}/join",
        join_fair_post,
        methods=["POST"],
        name="bo_join_fair",
    ),
    Route("/backoffice/fairs/{slug}/products", products, methods=["GET"], name="bo_products"),
    Route("/backoffice/fairs/{slug}/products", add_product_post, methods=["POST"]),
    Route("/backoffice/fairs/{slug}/rules", rules, methods=["GET"], name="bo_rules"),
    Route("/backoffice/fairs/{slug}/rules", add_rule_post, methods=["POST"]),
    Route("/backoffice/fairs/{slug}/sessions", sessions, methods=["GET"], name="bo_sessions"),
    Route(
        "/backoffice/fairs/{slug}/settlement",
        settlement_page,
        methods=["GET"],
        name="bo_settlement",
    ),
    Route(
        "/backoffice/fairs/{slug}/settlement.csv",
        settlement_csv,
        methods=["GET"],
        name="bo_settlement_csv",
    ),
    Route("/backoffice/fairs/{slug}/payouts", record_payout_post, methods=["POST"]),
    Route(
        "/backoffice/fairs/{slug}/settlement/{producer_id:int}",
        settlement_sheet,
        methods=["GET"],
        name="bo_settlement_sheet",
    ),
]
