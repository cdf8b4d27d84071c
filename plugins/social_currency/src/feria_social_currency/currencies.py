"""Currencies and the community bank: configuring a currency, the network's rate,
issuing and redeeming against the backing fund, and the bank's position."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from feria import journal
from feria.catalogue.models import Fair
from feria.db import write_session
from feria.money import Currency, Money, MoneyError, convert, register_currency
from feria.money import currency as currency_of
from feria_social_currency.errors import (
    BackingShort,
    InvalidAmount,
    InvalidCurrency,
    NoRate,
    NotIssuable,
)
from feria_social_currency.ledger import (
    account,
    append_entry,
    balance,
    balances,
    canonical,
    check_limits,
    currency_row,
    fmt,
    limit_value,
    move,
    positive_amount,
    register_row,
    require_organizer,
    system_account,
)
from feria_social_currency.models import (
    KINDS,
    Account,
    Movement,
    Rate,
    SocialCurrency,
    utcnow,
)


def create_currency(
    engine: Engine,
    *,
    code: str,
    name: str,
    decimals: int,
    kind: str,
    user_id: int,
    backing_currency: str | None = None,
    debit_limit: int = 0,
    credit_limit: int | None = None,
    now: dt.datetime | None = None,
) -> SocialCurrency:
    """Configure a social currency. Its code and decimals never change afterwards.

    ``kind`` is ``community_bank`` (needs an ISO ``backing_currency``: what its fund holds),
    ``mutual_credit`` or ``barter``. ``debit_limit``/``credit_limit`` are the defaults for
    new member accounts (how far below / above zero a balance may go; credit ``None``: no cap).
    """
    code = canonical(code)
    if kind not in KINDS:
        raise InvalidCurrency(f"kind: expected one of {', '.join(KINDS)}", field="kind")
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise InvalidCurrency("name: expected 1 to 100 characters", field="name")
    if kind == "community_bank":
        if not backing_currency:
            raise InvalidCurrency(
                "a community-bank currency needs the national currency its fund holds",
                field="backing_currency",
            )
        backing_currency = canonical(backing_currency)
        try:
            currency_of(backing_currency)
        except MoneyError as exc:
            raise InvalidCurrency(str(exc), field="backing_currency") from exc
    elif backing_currency:
        raise InvalidCurrency(
            f"a {kind.replace('_', ' ')} currency has no backing fund", field="backing_currency"
        )
    debit_limit = limit_value(debit_limit, "debit_limit") or 0
    credit_limit = limit_value(credit_limit, "credit_limit")
    now = now or utcnow()
    with write_session(engine) as db:
        require_organizer(db, user_id, "create a currency")
        journal.lock_head(db)
        if db.get(SocialCurrency, code) is not None:
            raise InvalidCurrency(f"currency {code} already exists", field="code")
        try:
            register_currency(Currency(code, decimals, name))
        except MoneyError as exc:
            raise InvalidCurrency(str(exc), field="code") from exc
        appended = append_entry(
            db,
            "currency",
            {
                "currency": code,
                "name": name,
                "decimals": decimals,
                "currency_kind": kind,
                "backing_currency": backing_currency,
                "debit_limit": debit_limit,
                "credit_limit": credit_limit,
                "user": user_id,
            },
            at=now,
        )
        row = SocialCurrency(
            code=code,
            name=name,
            decimals=decimals,
            kind=kind,
            backing_currency=backing_currency,
            default_debit_limit=debit_limit,
            default_credit_limit=credit_limit,
            seq=appended.seq,
            created_at=now,
        )
        db.add(row)
        db.flush()
        register_row(row)
        return row


def rate_at(db: Session, code: str, at: dt.datetime | None = None) -> Rate | None:
    """The network's rate for ``code`` in force at ``at`` (now), or ``None``."""
    return db.scalar(
        select(Rate)
        .where(Rate.code == canonical(code), Rate.effective_at <= (at or utcnow()))
        .order_by(Rate.effective_at.desc(), Rate.id.desc())
        .limit(1)
    )


def set_rate(
    engine: Engine,
    *,
    code: str,
    rate: Decimal | str | int,
    user_id: int,
    effective_at: dt.datetime | None = None,
    fairs: Sequence[str] = (),
    note: str = "",
) -> Rate:
    """Record the network's new rate for a community-bank currency (units of its backing
    currency per unit), and, for each fair slug in ``fairs``, a new rule version of that fair
    with the same rate, so its tills convert tenders at it. One transaction: the network's
    rate and the fairs' rules never disagree half-way."""
    from feria.catalogue.rules import add_rule_version, rule_in_force

    if isinstance(rate, float):
        raise InvalidAmount("rate: expected a decimal number, not a float", field="rate")
    try:
        value = Decimal(str(rate))
    except InvalidOperation as exc:
        raise InvalidAmount("rate: expected a decimal number", field="rate") from exc
    if not value.is_finite() or value <= 0:
        raise InvalidAmount("rate: expected a positive number", field="rate")
    now = utcnow()
    effective_at = effective_at or now
    with write_session(engine) as db:
        require_organizer(db, user_id, "set a rate")
        journal.lock_head(db)
        cur = currency_row(db, code)
        if cur.kind != "community_bank":
            raise NotIssuable(
                f"{cur.code} is {cur.kind.replace('_', ' ')}: it has no rate to a national "
                "currency (a fair may still state one in its rules)",
                field="currency",
            )
        fair_rows = []
        for slug in fairs:
            fair = db.scalar(select(Fair).where(Fair.slug == slug))
            if fair is None:
                raise InvalidCurrency(f"there is no fair {slug!r}", field="fairs")
            if fair.currency != cur.backing_currency:
                raise InvalidCurrency(
                    f"{fair.name} sells in {fair.currency}, {cur.code} is backed by "
                    f"{cur.backing_currency}: state its rate in the fair's rules by hand",
                    field="fairs",
                )
            fair_rows.append(fair)
        appended = append_entry(
            db,
            "rate",
            {
                "currency": cur.code,
                "rate": str(value),
                "effective_at": effective_at.isoformat(timespec="microseconds"),
                "fairs": [f.id for f in fair_rows],
                "note": note,
                "user": user_id,
            },
            at=now,
        )
        row = Rate(
            code=cur.code,
            rate=str(value),
            effective_at=effective_at,
            note=note,
            seq=appended.seq,
            created_at=now,
        )
        db.add(row)
        for fair in fair_rows:
            current = rule_in_force(db, fair.id, effective_at)
            add_rule_version(
                db,
                fair,
                solidarity_bp=current.solidarity_bp,
                fees=dict(current.fees or {}),
                rates={**(current.rates or {}), cur.code: str(value)},
                effective_at=effective_at,
                note=f"{cur.code} at {value} {cur.backing_currency} (network rate)",
                user_id=user_id,
            )
        db.flush()
        return row


def backing_at_rate(db: Session, cur: SocialCurrency, amount: int, at: dt.datetime) -> tuple:
    rate = rate_at(db, cur.code, at)
    if rate is None:
        raise NoRate(
            f"the network has set no rate for {cur.code} yet: set one (feria currency rate) "
            "or state the backing amount",
            field="backing",
        )
    return convert(Money(amount, cur.code), rate.rate, cur.backing_currency).amount, rate.rate


def require_bank(cur: SocialCurrency, what: str) -> None:
    if cur.kind != "community_bank":
        raise NotIssuable(
            f"{cur.code} is {cur.kind.replace('_', ' ')}: it is created by members trading "
            f"within their limits, never {what} by the network",
            field="currency",
        )


def issue(
    engine: Engine,
    *,
    code: str,
    amount: int,
    to: str,
    user_id: int,
    backing: int | None = None,
    note: str = "",
    now: dt.datetime | None = None,
) -> Money:
    """Issue ``amount`` of a community-bank currency into account ``to``.

    ``backing`` is what entered the bank's fund for it, in the backing currency's minor
    units (default: ``amount`` at the network's rate; ``0`` for unbacked community credit,
    which the position then shows). Returns the new circulating amount.
    """
    now = now or utcnow()
    with write_session(engine) as db:
        require_organizer(db, user_id, "issue currency")
        journal.lock_head(db)
        cur = currency_row(db, code)
        require_bank(cur, "issued")
        positive_amount(amount, cur.code)
        rate = None
        if backing is None:
            backing, rate = backing_at_rate(db, cur, amount, now)
        elif type(backing) is not int or backing < 0:
            raise InvalidAmount("backing: expected zero or more minor units", field="backing")
        payee = account(db, to, cur.code)
        issuer = system_account(db, cur, "issuer")
        check_limits(db, issuer, payee, amount)
        appended = append_entry(
            db,
            "issue",
            {
                "currency": cur.code,
                "to": payee.number,
                "amount": amount,
                "backing": backing,
                "backing_currency": cur.backing_currency,
                "rate": rate,
                "note": note,
                "user": user_id,
            },
            at=now,
        )
        move(
            db,
            seq=appended.seq,
            kind="issue",
            payer=issuer,
            payee=payee,
            amount=amount,
            at=now,
            backing=backing,
            note=note,
        )
        return bank_position(db, cur.code).circulating


def redeem(
    engine: Engine,
    *,
    code: str,
    amount: int,
    from_: str,
    user_id: int,
    now: dt.datetime | None = None,
    note: str = "",
) -> Money:
    """Redeem ``amount`` of a community-bank currency from account ``from_``: it leaves
    circulation and the bank pays its value at the network's rate out of the backing fund.
    Returns what is paid out, in the backing currency."""
    now = now or utcnow()
    with write_session(engine) as db:
        require_organizer(db, user_id, "redeem currency")
        journal.lock_head(db)
        cur = currency_row(db, code)
        require_bank(cur, "redeemed")
        positive_amount(amount, cur.code)
        payer = account(db, from_, cur.code)
        paid, rate = backing_at_rate(db, cur, amount, now)
        fund = bank_position(db, cur.code).backing
        if paid > fund.amount:
            raise BackingShort(
                f"redeeming {fmt(amount, cur.code)} pays {fmt(paid, fund.currency)}; the "
                f"backing fund holds {fund}",
                field="amount",
            )
        issuer = system_account(db, cur, "issuer")
        check_limits(db, payer, issuer, amount)
        appended = append_entry(
            db,
            "redeem",
            {
                "currency": cur.code,
                "from": payer.number,
                "amount": amount,
                "backing": -paid,
                "backing_currency": cur.backing_currency,
                "rate": rate,
                "note": note,
                "user": user_id,
            },
            at=now,
        )
        move(
            db,
            seq=appended.seq,
            kind="redeem",
            payer=payer,
            payee=issuer,
            amount=amount,
            at=now,
            backing=-paid,
            note=note,
        )
        return Money(paid, cur.backing_currency)


@dataclass(frozen=True, slots=True)
class BankPosition:
    """What circulates of a currency, always shown beside what backs it.

    ``circulating`` is, for a community bank, everything issued and not redeemed (minus the
    issuer account's balance): in member accounts, at the fairs' cajas, in the fund and in
    vouchers not yet spent (``vouchers``). For mutual credit and barter it is the sum of the
    positive balances (equal to the sum of the debts). ``backing`` is the fund in the
    backing currency (``None`` for mutual credit and barter); ``coverage_bp`` the fund's
    value against ``circulating`` at the network's rate, in basis points (10000 = fully
    backed), when both are known.
    """

    code: str
    kind: str
    circulating: Money
    backing: Money | None
    vouchers: Money
    rate: str | None = None
    coverage_bp: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "currency": self.code,
            "kind": self.kind,
            "circulating": self.circulating.amount,
            "backing": None if self.backing is None else self.backing.amount,
            "backing_currency": None if self.backing is None else self.backing.currency,
            "vouchers": self.vouchers.amount,
            "rate": self.rate,
            "coverage_bp": self.coverage_bp,
        }


def bank_position(db: Session, code: str) -> BankPosition:
    """The circulating amount of ``code`` and, next to it, its backing fund."""
    cur = currency_row(db, code)
    by_role: dict[str, int] = {}
    for role, acct_id in db.execute(
        select(Account.role, Account.id).where(
            Account.code == cur.code, Account.role.in_(("issuer", "vouchers"))
        )
    ):
        by_role[role] = balance(db, acct_id)
    vouchers = Money(by_role.get("vouchers", 0), cur.code)
    if cur.kind == "community_bank":
        circulating = Money(-by_role.get("issuer", 0), cur.code)
        fund = db.scalar(
            select(func.coalesce(func.sum(Movement.backing), 0)).where(
                Movement.code == cur.code, Movement.backing.is_not(None)
            )
        )
        backing = Money(int(fund or 0), cur.backing_currency)
        rate = rate_at(db, cur.code)
        coverage = None
        if rate is not None and circulating.amount > 0:
            value = convert(circulating, rate.rate, cur.backing_currency).amount
            coverage = backing.amount * 10_000 // value if value else None
        return BankPosition(
            cur.code,
            cur.kind,
            circulating,
            backing,
            vouchers,
            rate.rate if rate else None,
            coverage,
        )
    positive = sum(b for b in balances(db, cur.code).values() if b > 0)
    return BankPosition(cur.code, cur.kind, Money(positive, cur.code), None, vouchers)
