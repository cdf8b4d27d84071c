"""Member accounts: opening them, their limits, PIN and member card, and payments
between members."""

from __future__ import annotations

import datetime as dt
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, func, select, update

from feria import journal
from feria.catalogue.models import Producer
from feria.db import write_session
from feria_social_currency import tokens
from feria_social_currency.errors import (
    InvalidAmount,
    InvalidCurrency,
    NotAllowed,
    UnknownAccount,
)
from feria_social_currency.ledger import (
    account,
    append_entry,
    check_limits,
    currency_row,
    limit_value,
    move,
    positive_amount,
    require_organizer,
)
from feria_social_currency.models import (
    Account,
    utcnow,
)

_pin_hasher = PasswordHasher()


def use_pin_hasher(hasher: PasswordHasher) -> None:
    """Replace the argon2 parameters for PINs (test suites use cheap ones)."""
    global _pin_hasher
    _pin_hasher = hasher


MAX_PIN_FAILURES = 5


PIN_FAILURE_WINDOW = dt.timedelta(minutes=15)


def _check_pin_text(pin: str) -> str:
    if not isinstance(pin, str) or not pin.isdigit() or not 4 <= len(pin) <= 12:
        raise InvalidAmount("a PIN is 4 to 12 digits", field="pin")
    return pin


def open_account(
    engine: Engine,
    *,
    code: str,
    name: str,
    user_id: int,
    producer_id: int | None = None,
    pin: str | None = None,
    debit_limit: int | None = None,
    credit_limit: int | None = None,
    use_defaults: bool = True,
    now: dt.datetime | None = None,
) -> Account:
    """Open a member account (a consumer's, or producer ``producer_id``'s) and return it.

    Limits default to the currency's; ``pin`` (4–12 digits) is stored as an argon2 hash.
    """
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise InvalidCurrency("name: expected 1 to 200 characters", field="name")
    if pin is not None:
        _check_pin_text(pin)
    now = now or utcnow()
    with write_session(engine) as db:
        require_organizer(db, user_id, "open an account")
        journal.lock_head(db)
        cur = currency_row(db, code)
        if producer_id is not None and db.get(Producer, producer_id) is None:
            raise UnknownAccount(f"there is no producer {producer_id}", field="producer")
        if use_defaults:
            debit = cur.default_debit_limit if debit_limit is None else debit_limit
            credit = cur.default_credit_limit if credit_limit is None else credit_limit
        else:
            debit, credit = debit_limit, credit_limit
        debit = limit_value(debit, "debit_limit")
        credit = limit_value(credit, "credit_limit")
        if debit is None:
            raise InvalidAmount("a member account needs a debit limit (0: never below zero)")
        count = db.scalar(
            select(func.count(Account.id)).where(Account.code == cur.code, Account.role == "member")
        )
        number = f"{cur.code}-{count + 1:04d}"
        appended = append_entry(
            db,
            "account",
            {
                "currency": cur.code,
                "account": number,
                "name": name,
                "producer": producer_id,
                "debit_limit": debit,
                "credit_limit": credit,
                "user": user_id,
            },
            at=now,
        )
        acct = Account(
            code=cur.code,
            number=number,
            name=name,
            role="member",
            producer_id=producer_id,
            debit_limit=debit,
            credit_limit=credit,
            pin_hash=_pin_hasher.hash(pin) if pin is not None else None,
            card_no=0,
            active=True,
            seq=appended.seq,
            created_at=now,
        )
        db.add(acct)
        db.flush()
        return acct


_UNCHANGED: Any = object()


def _change_account(
    engine: Engine, number: str, user_id: int, what: str, change: str, apply
) -> Account:
    now = utcnow()
    with write_session(engine) as db:
        require_organizer(db, user_id, what)
        journal.lock_head(db)
        acct = account(db, number)
        if acct.role != "member":
            raise NotAllowed(f"{acct.number} is a system account", field="account")
        values, event = apply(acct)
        db.execute(update(Account).where(Account.id == acct.id).values(**values))
        append_entry(
            db,
            "account_change",
            {"account": acct.number, "change": change, **event, "user": user_id},
            at=now,
        )
        db.refresh(acct)
        return acct


def set_limits(
    engine: Engine,
    *,
    number: str,
    user_id: int,
    debit_limit: int | None = _UNCHANGED,
    credit_limit: int | None = _UNCHANGED,
) -> Account:
    """Change an account's limits. A limit the balance is already past stops further
    payments in that direction; it takes nothing back."""

    def apply(acct: Account):
        debit = acct.debit_limit if debit_limit is _UNCHANGED else limit_value(debit_limit, "debit")
        credit = (
            acct.credit_limit if credit_limit is _UNCHANGED else limit_value(credit_limit, "credit")
        )
        if debit is None:
            raise InvalidAmount("a member account needs a debit limit (0: never below zero)")
        return (
            {"debit_limit": debit, "credit_limit": credit},
            {"debit_limit": debit, "credit_limit": credit},
        )

    return _change_account(engine, number, user_id, "change limits", "limits", apply)


def set_pin(engine: Engine, *, number: str, pin: str, user_id: int) -> Account:
    """Set a member's PIN (kept only as an argon2 hash; the journal says that it changed)."""
    _check_pin_text(pin)
    return _change_account(
        engine,
        number,
        user_id,
        "set a PIN",
        "pin",
        lambda acct: ({"pin_hash": _pin_hasher.hash(pin)}, {}),
    )


def set_active(engine: Engine, *, number: str, active: bool, user_id: int) -> Account:
    """Block (or unblock) an account: a blocked account cannot pay at the till."""
    return _change_account(
        engine,
        number,
        user_id,
        "block or unblock an account",
        "active" if active else "blocked",
        lambda acct: ({"active": bool(active)}, {}),
    )


def issue_card(engine: Engine, *, number: str, user_id: int) -> str:
    """Issue a new member card for an account and return its QR payload (signed). The
    previous card of the account stops working at once."""
    tokens.secret()  # refuse before writing anything

    def apply(acct: Account):
        return {"card_no": acct.card_no + 1}, {"card_no": acct.card_no + 1}

    acct = _change_account(engine, number, user_id, "issue a member card", "card", apply)
    return tokens.card_payload(acct.code, acct.number, acct.card_no)


def check_pin(acct: Account, pin: str) -> bool:
    if not acct.pin_hash or not isinstance(pin, str):
        return False
    try:
        return _pin_hasher.verify(acct.pin_hash, pin)
    except (VerificationError, InvalidHashError):
        return False


def transfer(
    engine: Engine,
    *,
    from_: str,
    to: str,
    amount: int,
    pin: str | None = None,
    user_id: int | None = None,
    note: str = "",
    now: dt.datetime | None = None,
) -> None:
    """Pay ``amount`` from one account to another in the same currency: a member with
    their PIN, or an organizer (e.g. moving the caja común's takings to the fund)."""
    now = now or utcnow()
    with write_session(engine) as db:
        journal.lock_head(db)
        payer = account(db, from_)
        payee = account(db, to, payer.code)
        positive_amount(amount, payer.code)
        if payer.id == payee.id:
            raise InvalidAmount("an account cannot pay itself", field="to")
        if pin is not None:
            if payer.role != "member" or not payer.active or not check_pin(payer, pin):
                raise NotAllowed(f"wrong PIN for account {payer.number}", field="pin")
        else:
            require_organizer(db, user_id, "move value between accounts without the payer's PIN")
        if not payee.active:
            raise NotAllowed(f"account {payee.number} is blocked", field="to")
        check_limits(db, payer, payee, amount)
        appended = append_entry(
            db,
            "transfer",
            {
                "currency": payer.code,
                "from": payer.number,
                "to": payee.number,
                "amount": amount,
                "note": note,
                "user": user_id,
            },
            at=now,
        )
        move(
            db,
            seq=appended.seq,
            kind="transfer",
            payer=payer,
            payee=payee,
            amount=amount,
            at=now,
            note=note,
        )
