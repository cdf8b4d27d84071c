"""The caja común's side of the ledger: refunds, voids and payouts recorded by the core's
own entries, mirrored into the accounts exactly once; and the start-up check."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from feria import journal
from feria.cashbox.models import Payout, Sale, Tender
from feria.db import read_session, write_session
from feria_social_currency import tokens
from feria_social_currency.errors import (
    UnknownAccount,
)
from feria_social_currency.ledger import (
    METHOD,
    canonical,
    check_limits,
    currency_row,
    load_currencies,
    move,
    producer_account,
    register_row,
    system_account,
)
from feria_social_currency.models import (
    Account,
    Movement,
    SocialCurrency,
    Voucher,
)


def give_back(
    db: Session,
    *,
    sale_id: int,
    kind: str,
    seq: int,
    fair_id: int,
    at: dt.datetime,
    tender_no: int,
    code: str,
    applied: int,
    data: dict[str, Any],
    strict: bool,
) -> None:
    """Mirror a refund or void tender paid back in a social currency: from the fair's caja
    común to the account the tender names. Written once per tender (keyed by sale and tender).

    A correction is never refused by a credit limit: it undoes a payment that was within
    limits. With ``strict`` an unknown account refuses the refund; otherwise (mirroring an
    entry already committed) the amount goes to the currency's suspense account, for an
    organizer to move on."""
    exists = db.scalar(
        select(Movement.id).where(Movement.sale_id == sale_id, Movement.tender_no == tender_no)
    )
    if exists is not None or applied >= 0:
        return
    cur = currency_row(db, code)
    caja = system_account(db, cur, "fair", fair_id)
    number = canonical(str(data.get("account") or ""))
    payee = db.scalar(select(Account).where(Account.number == number, Account.code == cur.code))
    note = ""
    if payee is None or payee.role != "member":
        if strict:
            raise UnknownAccount(
                f"there is no member account {number!r} in {cur.code} to pay back to",
                field=f"tenders[{tender_no - 1}].data.account",
            )
        payee = system_account(db, cur, "suspense")
        note = f"for account {number!r}, not found"
    move(
        db,
        seq=seq,
        kind=kind,
        payer=caja,
        payee=payee,
        amount=-applied,
        at=at,
        sale_id=sale_id,
        tender_no=tender_no,
        note=note,
    )


def pay_producer(
    engine: Engine,
    *,
    fair_id: int,
    producer_id: int,
    code: str,
    amount: int,
    user_id: int,
    now: dt.datetime | None = None,
):
    """Pay a producer what the fair owes them in a social currency into their member
    account: the core's payout entry (method ``social_currency``, reference the account
    number) is the record, and the movement from the fair's caja común is derived from it.
    Returns the core :class:`~feria.cashbox.models.Payout`."""
    from feria.settlement import record_payout

    with read_session(engine) as db:
        cur = currency_row(db, code)
        acct = producer_account(db, producer_id, cur.code)
        if acct is None:
            raise UnknownAccount(
                f"producer {producer_id} has no {cur.code} account: open one first",
                field="producer",
            )
        caja = db.scalar(select(Account).where(Account.number == f"{cur.code}-FAIR{fair_id}"))
        if caja is not None:
            check_limits(db, caja, acct, amount)
    payout = record_payout(
        engine,
        fair_id=fair_id,
        producer_id=producer_id,
        currency=cur.code,
        amount=amount,
        method=METHOD,
        reference=acct.number,
        user_id=user_id,
        now=now,
    )
    reconcile(engine)
    return payout


def _mirror_payout(db: Session, p: Payout) -> None:
    cur = db.get(SocialCurrency, p.currency)
    if cur is None:
        return
    register_row(cur)
    caja = system_account(db, cur, "fair", p.fair_id)
    payee = db.scalar(
        select(Account).where(Account.number == canonical(p.reference), Account.code == cur.code)
    )
    note = ""
    if payee is None or payee.role != "member" or payee.producer_id != p.producer_id:
        payee = producer_account(db, p.producer_id, cur.code)
    if payee is None:
        payee = system_account(db, cur, "suspense")
        note = f"for producer {p.producer_id}, no account"
    move(
        db,
        seq=p.seq,
        kind="payout",
        payer=caja,
        payee=payee,
        amount=p.amount,
        at=p.at,
        payout_id=p.id,
        note=note,
    )


def reconcile(engine: Engine) -> int:
    """Write the movements of committed refunds, voids and payouts in a social currency that
    have none yet (they are recorded by the core's own entries; this mirrors them into the
    accounts exactly once). Returns how many were written. Safe to run at any time."""
    written = 0
    with write_session(engine) as db:
        journal.lock_head(db)
        codes = set(db.scalars(select(SocialCurrency.code)))
        if not codes:
            return 0
        load_currencies(db)
        pending = db.execute(
            select(
                Sale.id,
                Sale.kind,
                Sale.seq,
                Sale.fair_id,
                Sale.at,
                Tender.tender_no,
                Tender.currency,
                Tender.applied,
                Tender.data,
            )
            .join(Tender, Tender.sale_id == Sale.id)
            .outerjoin(
                Movement,
                (Movement.sale_id == Sale.id) & (Movement.tender_no == Tender.tender_no),
            )
            .where(
                Sale.refers_to.is_not(None),
                Tender.method == METHOD,
                Tender.currency.in_(codes),
                Movement.id.is_(None),
            )
            .order_by(Sale.id, Tender.tender_no)
        ).all()
        for r in pending:
            give_back(
                db,
                sale_id=r.id,
                kind=r.kind,
                seq=r.seq,
                fair_id=r.fair_id,
                at=r.at,
                tender_no=r.tender_no,
                code=r.currency,
                applied=r.applied,
                data=r.data or {},
                strict=False,
            )
            written += 1
        payouts = db.scalars(
            select(Payout)
            .outerjoin(Movement, Movement.payout_id == Payout.id)
            .where(Payout.method == METHOD, Payout.currency.in_(codes), Movement.id.is_(None))
            .order_by(Payout.id)
        ).all()
        for p in payouts:
            _mirror_payout(db, p)
            written += 1
    return written


def uses_secret(db: Session) -> bool:
    """Whether vouchers or member cards exist, so the signing secret must be configured."""
    return bool(
        db.scalar(select(func.count(Voucher.serial)))
        or db.scalar(select(func.count(Account.id)).where(Account.card_no > 0))
    )


def check_configuration(engine: Engine) -> None:
    """At start: register the currencies, refuse to run without the signing secret when
    vouchers or cards are in use, and mirror anything committed while the app was down."""
    with read_session(engine) as db:
        load_currencies(db)
        if uses_secret(db):
            tokens.secret()  # raises SecretMissing, saying how to set it
    reconcile(engine)
