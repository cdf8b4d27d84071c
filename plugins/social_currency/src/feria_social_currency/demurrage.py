"""Demurrage: an optional, periodic charge on positive balances, paid to the community
fund; the rule is data and each period is charged once."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, select

from feria import journal
from feria.db import write_session
from feria_social_currency.errors import (
    InvalidAmount,
)
from feria_social_currency.ledger import (
    append_entry,
    balance,
    currency_row,
    move,
    require_organizer,
    system_account,
)
from feria_social_currency.models import (
    Account,
    DemurrageRule,
    DemurrageRun,
    utcnow,
)

PERIODS = ("month", "week")


def set_demurrage(
    engine: Engine,
    *,
    code: str,
    bp: int,
    user_id: int,
    period: str = "month",
    effective_at: dt.datetime | None = None,
) -> DemurrageRule:
    """Decide a demurrage rule: every ``period`` (month or week) ``bp`` basis points of each
    positive member balance move to the community fund. ``bp=0`` ends demurrage."""
    if type(bp) is not int or not 0 <= bp <= 10_000:
        raise InvalidAmount("bp: expected basis points between 0 and 10000", field="bp")
    if period not in PERIODS:
        raise InvalidAmount(f"period: expected {' or '.join(PERIODS)}", field="period")
    now = utcnow()
    effective_at = effective_at or now
    with write_session(engine) as db:
        require_organizer(db, user_id, "set demurrage")
        journal.lock_head(db)
        cur = currency_row(db, code)
        appended = append_entry(
            db,
            "demurrage_rule",
            {
                "currency": cur.code,
                "bp": bp,
                "period": period,
                "effective_at": effective_at.isoformat(timespec="microseconds"),
                "user": user_id,
            },
            at=now,
        )
        rule = DemurrageRule(
            code=cur.code,
            bp=bp,
            period=period,
            effective_at=effective_at,
            seq=appended.seq,
            created_at=now,
        )
        db.add(rule)
        db.flush()
        return rule


def period_of(at: dt.datetime, period: str) -> str:
    """The name of the period containing ``at``: ``2026-12`` or ``2026-W49``."""
    if period == "week":
        year, week, _ = at.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{at.year}-{at.month:02d}"


def apply_demurrage(
    engine: Engine, code: str, at: dt.datetime, *, user_id: int | None = None
) -> DemurrageRun | None:
    """Charge the demurrage of the period containing ``at`` (the rule in force then), once.

    Every active member account with a positive balance pays ``bp`` basis points of it
    (rounded half up) to the community fund, in one journal entry. Applying the same
    period again returns the first run and charges nothing; with no rule (or 0 bp) it
    returns ``None``.
    """
    from feria.cashbox.split import basis_points

    with write_session(engine) as db:
        journal.lock_head(db)
        cur = currency_row(db, code)
        rule = db.scalar(
            select(DemurrageRule)
            .where(DemurrageRule.code == cur.code, DemurrageRule.effective_at <= at)
            .order_by(DemurrageRule.effective_at.desc(), DemurrageRule.id.desc())
            .limit(1)
        )
        if rule is None or rule.bp == 0:
            return None
        name = period_of(at, rule.period)
        done = db.scalar(
            select(DemurrageRun).where(DemurrageRun.code == cur.code, DemurrageRun.period == name)
        )
        if done is not None:
            return done
        fund = system_account(db, cur, "fund")
        charges = []
        members = db.scalars(
            select(Account)
            .where(Account.code == cur.code, Account.role == "member", Account.active.is_(True))
            .order_by(Account.id)
        )
        for acct in members:
            have = balance(db, acct.id)
            charge = basis_points(have, rule.bp) if have > 0 else 0
            if charge > 0:
                charges.append((acct, charge))
        now = utcnow()
        appended = append_entry(
            db,
            "demurrage",
            {
                "currency": cur.code,
                "period": name,
                "bp": rule.bp,
                "to": fund.number,
                "charges": [[a.number, c] for a, c in charges],
                "user": user_id,
            },
            at=now,
        )
        for acct, charge in charges:
            move(
                db,
                seq=appended.seq,
                kind="demurrage",
                payer=acct,
                payee=fund,
                amount=charge,
                at=now,
                note=name,
            )
        run = DemurrageRun(code=cur.code, period=name, bp=rule.bp, seq=appended.seq, at=now)
        db.add(run)
        db.flush()
        return run
