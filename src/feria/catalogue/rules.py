"""Fair rules as data: which version is in force, and adding a new one.

The assembly decides; feria records. A new version is a journal entry and a new row, in
force from its ``effective_at``; it never touches a sale already recorded, because every
sale names the version it was split by.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.orm import Session

from feria import journal
from feria.cashbox.errors import NoRuleInForce
from feria.catalogue.models import Fair, RuleVersion, utcnow
from feria.db import connection_of
from feria.errors import FeriaError
from feria.money import MoneyError, currency
from feria.prepared import Prepared


class InvalidRule(FeriaError):
    code = "invalid_rule"


_IN_FORCE = Prepared(
    select(RuleVersion.__table__)
    .where(RuleVersion.fair_id == bindparam("fair"), RuleVersion.effective_at <= bindparam("at"))
    .order_by(RuleVersion.effective_at.desc(), RuleVersion.version.desc())
    .limit(1)
)


def rule_in_force(db: Session | Connection, fair_id: int, at: dt.datetime):
    """The rule version in force at ``at`` (a row with the RuleVersion columns)."""
    rule = _IN_FORCE.first(connection_of(db), {"fair": fair_id, "at": at})
    if rule is None:
        raise NoRuleInForce(
            f"fair {fair_id} has no rule version in force at {at:%Y-%m-%d %H:%M}; "
            "add one in the back office or with the API"
        )
    return rule


def validate_rule(
    fair: Fair, solidarity_bp: int, fees: dict[str, Any], rates: dict[str, str]
) -> tuple[int, dict[str, dict[str, int]], dict[str, str]]:
    """Check a proposed rule and return it normalized; refuse with the field at fault."""
    if type(solidarity_bp) is not int or not 0 <= solidarity_bp <= 10_000:
        raise InvalidRule("expected basis points between 0 and 10000", field="solidarity_bp")
    clean_fees: dict[str, dict[str, int]] = {}
    for method, fee in (fees or {}).items():
        if not isinstance(fee, dict):
            raise InvalidRule("expected {bp, fixed}", field=f"fees.{method}")
        bp, fixed = fee.get("bp", 0), fee.get("fixed", 0)
        if type(bp) is not int or not 0 <= bp <= 10_000:
            raise InvalidRule(
                "expected basis points between 0 and 10000", field=f"fees.{method}.bp"
            )
        if type(fixed) is not int or fixed < 0:
            raise InvalidRule(
                f"expected a non-negative amount in {fair.currency} minor units",
                field=f"fees.{method}.fixed",
            )
        clean_fees[str(method)] = {"bp": bp, "fixed": fixed}
    clean_rates: dict[str, str] = {}
    for code, rate in (rates or {}).items():
        try:
            currency(code)
        except MoneyError as exc:
            raise InvalidRule(str(exc), field=f"rates.{code}") from exc
        try:
            value = Decimal(str(rate))
        except InvalidOperation as exc:
            raise InvalidRule("expected a decimal number", field=f"rates.{code}") from exc
        if not value.is_finite() or value <= 0:
            raise InvalidRule("expected a positive rate", field=f"rates.{code}")
        clean_rates[code] = str(value)
    return solidarity_bp, clean_fees, clean_rates


def rule_row_from_body(body: dict[str, Any], at: dt.datetime) -> dict[str, Any]:
    """The ``rule_versions`` row a ``rule_version`` entry records (shared with verify)."""
    return {
        "id": body["rule"],
        "fair_id": body["fair"],
        "version": body["version"],
        "effective_at": dt.datetime.fromisoformat(body["effective_at"]),
        "solidarity_bp": body["solidarity_bp"],
        "fees": body["fees"],
        "rates": body["rates"],
        "rounding": body["rounding"],
        "note": body["note"],
        "created_at": at,
    }


def add_rule_version(
    db: Session,
    fair: Fair,
    *,
    solidarity_bp: int,
    fees: dict[str, Any] | None = None,
    rates: dict[str, str] | None = None,
    effective_at: dt.datetime | None = None,
    note: str = "",
    user_id: int | None = None,
) -> RuleVersion:
    """Record a new version of ``fair``'s rules (a journal entry and a row)."""
    bp, clean_fees, clean_rates = validate_rule(fair, solidarity_bp, fees or {}, rates or {})
    now = utcnow()
    effective_at = effective_at or now
    locked = journal.lock_head(db)
    version = (
        db.scalar(select(func.max(RuleVersion.version)).where(RuleVersion.fair_id == fair.id)) or 0
    ) + 1
    body = {
        "fair": fair.id,
        "rule": (db.scalar(select(func.max(RuleVersion.id))) or 0) + 1,
        "version": version,
        "effective_at": effective_at.isoformat(timespec="microseconds"),
        "solidarity_bp": bp,
        "fees": clean_fees,
        "rates": clean_rates,
        "rounding": "half_up",
        "note": note,
        "user": user_id,
    }
    journal.append(db, "rule_version", body, fair_id=fair.id, at=now, locked=locked)
    rule = RuleVersion(**rule_row_from_body(body, now))
    db.add(rule)
    db.flush()
    return rule
