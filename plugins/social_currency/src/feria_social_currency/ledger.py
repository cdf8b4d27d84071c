"""The ledger every social-currency operation is made of: accounts, movements between them,
balances and limits. The operations themselves live in :mod:`.currencies` (the community
bank), :mod:`.accounts`, :mod:`.vouchers`, :mod:`.demurrage` and :mod:`.caja`.

**Double entry, so the balances of a currency always sum to zero.** A movement takes a
positive amount from one account and gives it to another. A community bank *issues* by moving
value out of its issuer account (whose balance is then minus everything in circulation) and
records what entered its backing fund beside it; it *redeems* by moving value back. Mutual
credit is never issued: a member's payment takes their balance below zero, within the debit
limit the network granted them, and the receiver's above zero, within their credit limit.

**Every movement is in feria's journal.** The plugin's own events (issuance, redemption,
transfers, vouchers, demurrage, account changes) are journal entries of kinds
``social_currency.*``; a payment at the till is the sale's own entry (its tender names the
account or voucher); a payout to a producer is the core's payout entry. Each movement row
names the entry that records it (``seq``), so ``feria verify`` covers the chain and
:func:`~feria_social_currency.verify.verify_ledger` re-derives the rows from it.

**Who may do what.** Creating currencies, setting rates and limits, issuing, redeeming,
printing vouchers and applying demurrage are for an organizer (``user_id`` must be one).
A member pays another with their PIN.

**Rates.** The network sets a community-bank currency's rate (a versioned row: units of the
backing currency per unit, from ``effective_at`` on; see
:func:`~feria_social_currency.currencies.set_rate`). Issuance and redemption use it. The till
converts tenders with the *fair's* rule version (``rates``), as for any foreign currency,
because a sale must name the one rule it was split by; so a new network rate reaches a
fair's tills when the organizer adds a rule version: ``set_rate(..., fairs=["slug"])`` does
both in one transaction.

All writes take the journal's append lock first, so limits are checked against balances no
other till can change before this transaction commits (also on PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import case, func, insert, select
from sqlalchemy.orm import Session

from feria import journal
from feria.accounts import User
from feria.catalogue.models import Fair
from feria.money import Currency, Money, register_currency
from feria_social_currency.errors import (
    InvalidAmount,
    LimitExceeded,
    NotAllowed,
    UnknownAccount,
    UnknownCurrency,
)
from feria_social_currency.models import (
    Account,
    Movement,
    SocialCurrency,
    utcnow,
)

METHOD = "social_currency"
"""The payment method's code, stored on every tender paid in a social currency."""

PLUGIN = "social_currency"
ENTRY_KINDS = tuple(
    f"{PLUGIN}.{event}"
    for event in (
        "currency",
        "rate",
        "account",
        "account_change",
        "issue",
        "redeem",
        "transfer",
        "vouchers",
        "demurrage_rule",
        "demurrage",
    )
)
for _kind in ENTRY_KINDS:  # declared once, like the tables: the journal refuses other kinds
    journal.register_entry_kind(_kind)

_known: dict[str, Currency] = {}


def known_currencies() -> list[Currency]:
    """The social currencies this process has read from a database and registered."""
    return list(_known.values())


def register_row(row: SocialCurrency) -> Currency:
    cur = Currency(row.code, row.decimals, row.name)
    if _known.get(row.code) != cur:
        register_currency(cur)
        _known[row.code] = cur
    return cur


def load_currencies(db: Session) -> list[Currency]:
    """Register every social currency of the database with :mod:`feria.money`, so tills,
    settlements and receipts can handle their amounts. Called at start and whenever the
    plugin reads a currency."""
    return [register_row(row) for row in db.scalars(select(SocialCurrency))]


def fmt(amount: int, code: str) -> str:
    return str(Money(amount, code))


def canonical(value: str) -> str:
    return (value or "").strip().upper()


def append_entry(
    db: Session, event: str, body: dict[str, Any], *, at: dt.datetime
) -> journal.Appended:
    """Append a ``social_currency.<event>`` entry in the caller's transaction (which took
    the append lock before checking anything the entry depends on)."""
    return journal.append(db, f"{PLUGIN}.{event}", body, fair_id=None, at=at)


def require_organizer(db: Session, user_id: int | None, what: str) -> User:
    user = db.get(User, user_id) if user_id is not None else None
    if user is None or not user.active or user.role != "organizer":
        raise NotAllowed(f"only an organizer can {what}", field="user")
    return user


def currency_row(db: Session, code: str) -> SocialCurrency:
    """The configured social currency ``code`` (registered with :mod:`feria.money`)."""
    row = db.get(SocialCurrency, canonical(code))
    if row is None:
        raise UnknownCurrency(
            f"{code!r} is not a social currency of this network", field="currency"
        )
    register_row(row)
    return row


def positive_amount(amount: int, code: str, name: str = "amount") -> int:
    if type(amount) is not int or amount <= 0:
        raise InvalidAmount(f"expected a positive amount of {code} minor units", field=name)
    return amount


def limit_value(value: int | None, name: str) -> int | None:
    if value is None:
        return None
    if type(value) is not int or value < 0:
        raise InvalidAmount("expected a limit of zero or more minor units, or none", field=name)
    return value


SYSTEM_NAMES = {
    "issuer": "Community bank (issued)",
    "vouchers": "Vouchers outstanding",
    "fund": "Community fund",
    "suspense": "Suspense (to be assigned)",
}


def system_account(db: Session, cur: SocialCurrency, role: str, fair_id: int | None = None):
    """The currency's system account for ``role`` (created the first time it is needed;
    system accounts have no limits and hold no PIN)."""
    number = f"{cur.code}-FAIR{fair_id}" if role == "fair" else f"{cur.code}-{role.upper()}"
    acct = db.scalar(select(Account).where(Account.number == number))
    if acct is None:
        name = SYSTEM_NAMES.get(role, "")
        if role == "fair":
            fair = db.get(Fair, fair_id)
            name = f"Caja común, {fair.name if fair else f'fair {fair_id}'}"
        acct = Account(
            code=cur.code,
            number=number,
            name=name,
            role=role,
            fair_id=fair_id,
            debit_limit=None,
            credit_limit=None,
            card_no=0,
            active=True,
            created_at=utcnow(),
        )
        db.add(acct)
        db.flush()
    return acct


def account(db: Session, number: str, code: str | None = None) -> Account:
    """The account numbered ``number`` (in currency ``code`` when given)."""
    acct = db.scalar(select(Account).where(Account.number == canonical(number)))
    if acct is None or (code is not None and acct.code != canonical(code)):
        where = f" in {canonical(code)}" if code else ""
        raise UnknownAccount(f"there is no account {canonical(number)!r}{where}", field="account")
    return acct


def producer_account(db: Session, producer_id: int, code: str) -> Account | None:
    """The member account of producer ``producer_id`` in ``code``, if it has one."""
    return db.scalar(
        select(Account)
        .where(
            Account.producer_id == producer_id,
            Account.code == canonical(code),
            Account.role == "member",
        )
        .order_by(Account.id)
        .limit(1)
    )


def balance(db: Session, account_id: int) -> int:
    """An account's balance in minor units: what it received minus what it gave."""
    signed = case((Movement.to_account == account_id, Movement.amount), else_=-Movement.amount)
    value = db.scalar(
        select(func.coalesce(func.sum(signed), 0)).where(
            (Movement.to_account == account_id) | (Movement.from_account == account_id)
        )
    )
    return int(value or 0)


def balance_of(db: Session, number: str) -> Money:
    acct = account(db, number)
    currency_row(db, acct.code)
    return Money(balance(db, acct.id), acct.code)


def balances(db: Session, code: str) -> dict[str, int]:
    """Every account's balance in ``code``, by number (system accounts included)."""
    cur = currency_row(db, code)
    out = {n: 0 for n in db.scalars(select(Account.number).where(Account.code == cur.code))}
    ids = dict(db.execute(select(Account.id, Account.number).where(Account.code == cur.code)).all())
    for acct_id, total in db.execute(
        select(Movement.to_account, func.sum(Movement.amount))
        .where(Movement.code == cur.code)
        .group_by(Movement.to_account)
    ):
        out[ids[acct_id]] += int(total)
    for acct_id, total in db.execute(
        select(Movement.from_account, func.sum(Movement.amount))
        .where(Movement.code == cur.code)
        .group_by(Movement.from_account)
    ):
        out[ids[acct_id]] -= int(total)
    return out


def check_limits(db: Session, payer: Account, payee: Account, amount: int) -> None:
    """Refuse (:class:`LimitExceeded`) a movement that takes ``payer`` below its debit limit
    or ``payee`` above its credit limit, saying by how much."""
    code = payer.code
    if payer.debit_limit is not None:
        have = balance(db, payer.id)
        if have - amount < -payer.debit_limit:
            floor = (
                "may not go below zero"
                if payer.debit_limit == 0
                else f"may not go below {fmt(-payer.debit_limit, code)} (its debit limit)"
            )
            raise LimitExceeded(
                f"account {payer.number} ({payer.name}) has {fmt(have, code)} and {floor}: "
                f"a payment of {fmt(amount, code)} would leave it at "
                f"{fmt(have - amount, code)}",
                field="amount",
                account=payer.number,
                balance=have,
                limit=-payer.debit_limit,
            )
    if payee.credit_limit is not None:
        have = balance(db, payee.id)
        if have + amount > payee.credit_limit:
            raise LimitExceeded(
                f"account {payee.number} ({payee.name}) has {fmt(have, code)} and may hold at "
                f"most {fmt(payee.credit_limit, code)} (its credit limit): receiving "
                f"{fmt(amount, code)} would take it to {fmt(have + amount, code)}",
                field="amount",
                account=payee.number,
                balance=have,
                limit=payee.credit_limit,
            )


def move(
    db: Session,
    *,
    seq: int,
    kind: str,
    payer: Account,
    payee: Account,
    amount: int,
    at: dt.datetime,
    **extra: Any,
) -> None:
    """Write one movement row (the caller has appended the entry ``seq`` that records it)."""
    db.execute(
        insert(Movement).values(
            seq=seq,
            code=payer.code,
            kind=kind,
            from_account=payer.id,
            to_account=payee.id,
            amount=amount,
            at=at,
            note=extra.pop("note", "") or "",
            **extra,
        )
    )
