"""Printed vouchers (notes): issuing a sheet of them and reprinting their signed payloads.
Spending one at the till is in :mod:`.till`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session

from feria import journal
from feria.db import write_session
from feria.money import Money
from feria_social_currency import tokens
from feria_social_currency.currencies import backing_at_rate, require_bank
from feria_social_currency.errors import (
    InvalidAmount,
    UnknownAccount,
)
from feria_social_currency.ledger import (
    account,
    append_entry,
    canonical,
    check_limits,
    currency_row,
    move,
    positive_amount,
    require_organizer,
    system_account,
)
from feria_social_currency.models import (
    Voucher,
    utcnow,
)


@dataclass(frozen=True, slots=True)
class IssuedVoucher:
    """A voucher as printed: its serial, value and the signed QR payload."""

    serial: str
    amount: Money
    payload: str


def make_vouchers(
    engine: Engine,
    *,
    code: str,
    count: int,
    amount: int,
    user_id: int,
    from_: str | None = None,
    backing: int | None = None,
    now: dt.datetime | None = None,
) -> list[IssuedVoucher]:
    """Print ``count`` vouchers of ``amount`` each.

    A community bank issues them (their value leaves the issuer account, backed at the
    network's rate unless ``backing`` says otherwise); in mutual credit or barter they are
    bought from a member account ``from_`` (whose limits apply). Either way their value sits
    in the currency's *vouchers* account until each is spent at a till. The signed payloads
    are returned for printing and never stored (reprint with :func:`voucher_payloads`).
    """
    tokens.secret()
    if type(count) is not int or not 1 <= count <= 10_000:
        raise InvalidAmount("count: expected 1 to 10000 vouchers", field="count")
    now = now or utcnow()
    with write_session(engine) as db:
        require_organizer(db, user_id, "print vouchers")
        journal.lock_head(db)
        cur = currency_row(db, code)
        positive_amount(amount, cur.code)
        total = amount * count
        rate = None
        if from_ is None:
            require_bank(cur, "issued as vouchers")
            payer = system_account(db, cur, "issuer")
            if backing is None:
                backing, rate = backing_at_rate(db, cur, total, now)
            elif type(backing) is not int or backing < 0:
                raise InvalidAmount("backing: expected zero or more minor units", field="backing")
        else:
            if backing is not None:
                raise InvalidAmount("vouchers bought from an account have no backing")
            payer = account(db, from_, cur.code)
        held = system_account(db, cur, "vouchers")
        check_limits(db, payer, held, total)
        start = db.scalar(select(func.count(Voucher.serial)).where(Voucher.code == cur.code))
        serials = [f"{cur.code}{start + i + 1:06d}" for i in range(count)]
        appended = append_entry(
            db,
            "vouchers",
            {
                "currency": cur.code,
                "from": payer.number,
                "amount": amount,
                "serials": serials,
                "backing": backing,
                "backing_currency": cur.backing_currency if from_ is None else None,
                "rate": rate,
                "user": user_id,
            },
            at=now,
        )
        db.execute(
            insert(Voucher),
            [
                {
                    "serial": s,
                    "code": cur.code,
                    "amount": amount,
                    "seq": appended.seq,
                    "issued_at": now,
                }
                for s in serials
            ],
        )
        move(
            db,
            seq=appended.seq,
            kind="vouchers",
            payer=payer,
            payee=held,
            amount=total,
            at=now,
            backing=backing if from_ is None else None,
        )
        return [
            IssuedVoucher(s, Money(amount, cur.code), tokens.voucher_payload(cur.code, s, amount))
            for s in serials
        ]


def voucher_payloads(db: Session, serials: Iterable[str]) -> list[IssuedVoucher]:
    """The signed payloads of vouchers already issued (to reprint a damaged sheet)."""
    out = []
    for serial in serials:
        v = db.get(Voucher, canonical(serial))
        if v is None:
            raise UnknownAccount(f"there is no voucher {serial!r}", field="serial")
        currency_row(db, v.code)
        out.append(
            IssuedVoucher(
                v.serial,
                Money(v.amount, v.code),
                tokens.voucher_payload(v.code, v.serial, v.amount),
            )
        )
    return out
