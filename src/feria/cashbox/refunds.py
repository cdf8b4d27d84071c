"""Refunds and voids: corrections are new entries that refer to the original sale, never
edits of it.

* A **refund** returns whole lines of a sale (or all the lines not yet returned), paid back
  with the tenders the cashier states (cash from the drawer by default). The solidarity
  withholding is returned in the same proportion, at the rule version of the original sale;
  fees already charged are not returned (a card processor does not give them back).
* A **void** cancels a sale completely, as if it had not happened, fees included: every
  line, tender and split is negated. Only an organizer (the supervisor at a fair) may void,
  and only while the sale's cash session is still open.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import pluggy
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from feria import journal
from feria.accounts import User
from feria.cashbox.errors import (
    InvalidTender,
    NotAllowed,
    PaymentRefused,
    RefundNotAllowed,
    SaleNotFound,
    SessionClosed,
)
from feria.cashbox.models import CashSession, Sale, SaleLine
from feria.cashbox.sales import (
    RecordedSale,
    TenderRequest,
    _check_key,
    _existing,
    _next_sale_id,
    _rate,
    _value,
    commit_entry,
    fingerprint,
    payment_methods,
    public_data,
    sale_from_entry,
    splits_with_members,
)
from feria.cashbox.split import TenderShare, split_sale
from feria.catalogue.models import Fair, RuleVersion, utcnow
from feria.db import read_session, write_session
from feria.i18n import N_
from feria.money import Money, MoneyError, currency
from feria.payments import SaleInfo, TenderInfo


def _original(db: Session, sale_id: int) -> tuple[Sale, dict[str, Any]]:
    sale = db.get(Sale, sale_id)
    if sale is None or sale.kind != "sale":
        raise SaleNotFound(
            N_("there is no sale number {sale}"), params={"sale": sale_id}, field="sale"
        )
    body = json.loads(db.get(journal.JournalEntry, sale.seq).body)
    return sale, body


def _returned_lines(db: Session, sale_id: int) -> tuple[set[int], bool]:
    """Line numbers already returned, and whether the sale was voided."""
    returned: set[int] = set()
    voided = False
    for kind, refers_line in db.execute(
        select(Sale.kind, SaleLine.refers_line)
        .join(SaleLine, SaleLine.sale_id == Sale.id)
        .where(Sale.refers_to == sale_id)
    ):
        if kind == "void":
            voided = True
        if refers_line is not None:
            returned.add(refers_line)
    return returned, voided


def _run(engine, key, fp, work) -> tuple[RecordedSale, bool]:
    try:
        with write_session(engine) as db:
            existing = _existing(db, key, fp)
            if existing is not None:
                return existing, False
            return work(db), True
    except IntegrityError:
        with write_session(engine) as db:
            existing = _existing(db, key, fp)
        if existing is None:
            raise
        return existing, False


def refund_sale(
    engine: Engine,
    pm: pluggy.PluginManager,
    *,
    sale_id: int,
    key: str,
    user_id: int,
    session_id: int | None = None,
    line_nos: Sequence[int] | None = None,
    tenders: Sequence[TenderRequest] | None = None,
    reason: str = "",
    now: dt.datetime | None = None,
) -> RecordedSale:
    """Return lines of sale ``sale_id`` (all not yet returned when ``line_nos`` is None).

    ``tenders`` say how the money goes back (default: cash in the fair currency, from the
    drawer of ``session_id``); they must add up to exactly the returned amount.
    """
    _check_key(key)
    tenders = list(tenders or [])
    fp = fingerprint(
        {
            "refund": sale_id,
            "session": session_id,
            "lines": sorted(line_nos) if line_nos is not None else None,
            "tenders": [
                [t.method, t.amount, t.currency, t.reference, public_data(t.data)] for t in tenders
            ],
            "reason": reason,
        }
    )
    now = now or utcnow()
    state: dict[str, Any] = {}

    def work(db: Session) -> RecordedSale:
        # Lock first: what was already returned, and whether the session is open, must not
        # change before this entry is written (on PostgreSQL two refunds of the same line
        # could otherwise both pass the check).
        locked = journal.lock_head(db)
        sale, body = _original(db, sale_id)
        fair = db.get(Fair, sale.fair_id)
        returned, voided = _returned_lines(db, sale_id)
        if voided:
            raise RefundNotAllowed(
                N_("sale {sale} was voided"), params={"sale": sale_id}, field="sale"
            )
        lines_by_no = {ln["no"]: ln for ln in body["lines"]}
        wanted = (
            sorted(set(line_nos)) if line_nos is not None else sorted(set(lines_by_no) - returned)
        )
        if not wanted:
            raise RefundNotAllowed(
                N_("every line of sale {sale} has already been returned"),
                params={"sale": sale_id},
                field="lines",
            )
        for no in wanted:
            if no not in lines_by_no:
                raise RefundNotAllowed(
                    N_("sale {sale} has no line {line}"),
                    params={"sale": sale_id, "line": no},
                    field="lines",
                )
            if no in returned:
                raise RefundNotAllowed(
                    N_(
                        "line {line} of sale {sale} was already returned; more than was sold "
                        "cannot be refunded"
                    ),
                    params={"sale": sale_id, "line": no},
                    field="lines",
                )
        if session_id is not None:
            cs = db.get(CashSession, session_id)
            if cs is None or cs.closed_at is not None or cs.fair_id != fair.id:
                raise SessionClosed(
                    N_("cash session {session} is not open at {fair}"),
                    params={"session": session_id, "fair": fair.name},
                    field="session",
                )
        amount = sum(lines_by_no[n]["total"] for n in wanted)
        methods = payment_methods(pm, fair)
        pay_back = tenders or [TenderRequest("cash", amount)]
        rule = db.get(RuleVersion, sale.rule_version_id)
        current_rule = rule  # rates for foreign tenders: the original sale's stated rates
        body_tenders, shares, tender_infos = [], [], []
        sinfo = SaleInfo(
            fair=fair, total=Money(-amount, fair.currency), key=key, kind="refund", sale_id=sale_id
        )
        covered = 0
        for i, t in enumerate(pay_back):
            f = f"tenders[{i}]"
            method = methods.get(t.method)
            if method is None:
                raise InvalidTender(
                    N_("payment method {method} is not offered here"),
                    params={"method": repr(t.method)},
                    field=f"{f}.method",
                )
            if not method.supports_refund:
                raise RefundNotAllowed(
                    N_("{method} cannot pay money back"),
                    params={"method": method.name or method.code},
                    field=f"{f}.method",
                )
            if method.gives_change and session_id is None:
                raise SessionClosed(
                    N_("cash is paid back from a till: name the open cash session"),
                    field="session",
                )
            code = t.currency or fair.currency
            try:
                currency(code)
                money = Money(t.amount, code)
            except (MoneyError, TypeError) as exc:
                raise InvalidTender(str(exc), field=f"{f}.amount") from exc
            if money.amount <= 0:
                raise InvalidTender(N_("expected an amount greater than zero"), field=f"{f}.amount")
            rate = _rate(current_rule, fair, code, f"{f}.currency")
            value = _value(money, rate, fair)
            covered += value
            tinfo = TenderInfo(
                method=method.code, amount=money, data=dict(t.data), reference=t.reference
            )
            tender_infos.append(tinfo)
            try:
                auth = method.refund(tinfo, sinfo)
            except Exception as exc:
                raise PaymentRefused(
                    N_("{method} failed: {error}"),
                    params={"method": method.code, "error": exc},
                    field=f,
                ) from exc
            if not auth.approved:
                raise PaymentRefused(
                    N_("{method} refused: {reason}"),
                    params={
                        "method": method.name or method.code,
                        "reason": auth.reason or "no reason given",
                    },
                    field=f,
                )
            no = i + 1
            body_tenders.append(
                {
                    "no": no,
                    "method": method.code,
                    "currency": code,
                    "amount": -money.amount,
                    "change": 0,
                    "applied": -money.amount,
                    "rate": str(rate),
                    "value": -value,
                    "fee": 0,
                    "in_drawer": bool(method.gives_change),
                    "reference": auth.reference or t.reference,
                    "data": public_data({**t.data, **auth.data}),
                }
            )
            shares.append(TenderShare(no, code, -money.amount, 0))
        if covered != amount:
            raise InvalidTender(
                N_("the refund is {amount}; the tenders add up to {covered}"),
                params={
                    "amount": Money(amount, fair.currency),
                    "covered": Money(covered, fair.currency),
                },
                format_locale=fair.locale,
                field="tenders",
            )
        weights: dict[int, int] = defaultdict(int)
        for n in wanted:
            weights[lines_by_no[n]["producer"]] += lines_by_no[n]["total"]
        rows = split_sale(weights, shares, rule.solidarity_bp)
        splits, members = splits_with_members(db, rows)
        refund_body = {
            "sale": _next_sale_id(db),
            "fair": fair.id,
            "session": session_id,
            "user": user_id,
            "key": key,
            "fingerprint": fp,
            "rule": rule.id,
            "currency": fair.currency,
            "total": -amount,
            "lines": [
                {
                    **lines_by_no[n],
                    "no": i + 1,
                    "quantity": "-" + lines_by_no[n]["quantity"],
                    "total": -lines_by_no[n]["total"],
                    "refers_line": n,
                }
                for i, n in enumerate(wanted)
            ],
            "tenders": body_tenders,
            "splits": splits,
            "members": members,
            "refers_to": sale_id,
            "reason": reason,
        }
        state["fair"] = fair
        recorded = commit_entry(db, "refund", refund_body, now, locked)
        pm.hook.feria_sale_writing(db=db, sale=recorded, tenders=tender_infos)
        return recorded

    recorded, fresh = _run(engine, key, fp, work)
    if fresh:
        _after(engine, pm, recorded, sale_id, state["fair"])
    return recorded


def void_sale(
    engine: Engine,
    pm: pluggy.PluginManager,
    *,
    sale_id: int,
    key: str,
    user_id: int,
    reason: str = "",
    now: dt.datetime | None = None,
) -> RecordedSale:
    """Cancel sale ``sale_id`` entirely (supervisor only, while its session is open)."""
    _check_key(key)
    fp = fingerprint({"void": sale_id, "reason": reason})
    now = now or utcnow()
    state: dict[str, Any] = {}

    def work(db: Session) -> RecordedSale:
        user = db.get(User, user_id)
        if user is None or user.role != "organizer":
            raise NotAllowed(N_("only a supervisor (organizer) can void a sale"), field="user")
        # Lock before checking: a refund or a close must not slip in before this entry.
        locked = journal.lock_head(db)
        sale, body = _original(db, sale_id)
        fair = db.get(Fair, sale.fair_id)
        if sale.session_id is not None:
            cs = db.get(CashSession, sale.session_id)
            if cs.closed_at is not None:
                raise RefundNotAllowed(
                    N_("sale {sale}'s cash session is closed: refund it instead of voiding"),
                    params={"sale": sale_id},
                    field="sale",
                )
        returned, voided = _returned_lines(db, sale_id)
        if voided:
            raise RefundNotAllowed(
                N_("sale {sale} was already voided"), params={"sale": sale_id}, field="sale"
            )
        if returned:
            raise RefundNotAllowed(
                N_("sale {sale} already has refunded lines: refund the rest instead"),
                params={"sale": sale_id},
                field="sale",
            )
        methods = payment_methods(pm, fair)
        sinfo = SaleInfo(
            fair=fair,
            total=Money(-sale.total, fair.currency),
            key=key,
            kind="void",
            sale_id=sale_id,
        )
        tender_infos = []
        for t in body["tenders"]:
            method = methods.get(t["method"])
            money = Money(t["applied"], t["currency"])
            if method is None:
                raise PaymentRefused(
                    N_("payment method {method} is no longer offered; it cannot be voided"),
                    params={"method": repr(t["method"])},
                    field="tenders",
                )
            tinfo = TenderInfo(
                method=method.code, amount=money, data=t["data"], reference=t["reference"]
            )
            tender_infos.append(tinfo)
            auth = method.refund(tinfo, sinfo)
            if not auth.approved:
                raise PaymentRefused(
                    N_("{method} refused: {reason}"),
                    params={
                        "method": method.name or method.code,
                        "reason": auth.reason or "no reason given",
                    },
                    field="tenders",
                )
        void_body = {
            "sale": _next_sale_id(db),
            "fair": fair.id,
            "session": sale.session_id,
            "user": user_id,
            "key": key,
            "fingerprint": fp,
            "rule": body["rule"],
            "currency": body["currency"],
            "total": -body["total"],
            "lines": [
                {
                    **ln,
                    "quantity": "-" + ln["quantity"],
                    "total": -ln["total"],
                    "refers_line": ln["no"],
                }
                for ln in body["lines"]
            ],
            "tenders": [
                {
                    **t,
                    "amount": -t["applied"],
                    "change": 0,
                    "applied": -t["applied"],
                    "value": -t["value"],
                    "fee": -t["fee"],
                }
                for t in body["tenders"]
            ],
            "splits": [[s[0], s[1], s[2], -s[3], -s[4], -s[5], -s[6]] for s in body["splits"]],
            "members": [[m[0], m[1], m[2], -m[3]] for m in body["members"]],
            "refers_to": sale_id,
            "reason": reason,
        }
        state["fair"] = fair
        recorded = commit_entry(db, "void", void_body, now, locked)
        pm.hook.feria_sale_writing(db=db, sale=recorded, tenders=tender_infos)
        return recorded

    recorded, fresh = _run(engine, key, fp, work)
    if fresh:
        _after(engine, pm, recorded, sale_id, state["fair"])
    return recorded


def _stored_sale(engine: Engine, sale_id: int) -> Sale:
    """The sale row with its lines, tenders and splits loaded, for the hooks."""
    with read_session(engine) as db:
        sale = db.get(Sale, sale_id)
        _ = sale.lines, sale.tenders, sale.splits  # loaded while the session is open
        return sale


def _after(engine, pm, recorded: RecordedSale, sale_id: int, fair: Fair) -> None:
    if pm.hook.feria_sale_refunded.get_hookimpls():
        refund = sale_from_entry(recorded)
        original = _stored_sale(engine, sale_id)
        pm.hook.feria_sale_refunded(refund=refund, original=original, fair=fair)
    pm.hook.feria_journal_appended(
        entry_seq=recorded.seq, kind=recorded.body["kind"], fair_id=fair.id
    )
