"""Re-deriving every movement from the journal: the accounts' share of ``feria verify``."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from feria import journal
from feria.cashbox.models import Payout
from feria_social_currency.ledger import (
    METHOD,
    PLUGIN,
    canonical,
    fmt,
    producer_account,
    register_row,
)
from feria_social_currency.models import (
    Account,
    Movement,
    SocialCurrency,
)


def verify_ledger(db: Session) -> int:
    """Check the chain, then re-derive every movement from the journal entries and compare
    with the movement rows, in both directions. Raises
    :class:`feria.journal.JournalTampered` naming the first entry that differs; returns how
    many movements were checked. (``feria verify`` checks the chain and the core's tables;
    this is the same promise for the accounts.)"""
    import json
    from collections import Counter

    journal.verify_chain(db)
    codes = {c.code: c for c in db.scalars(select(SocialCurrency))}
    for c in codes.values():
        register_row(c)
    numbers = dict(db.execute(select(Account.id, Account.number)).all())
    members = {a.number: a for a in db.scalars(select(Account).where(Account.role == "member"))}
    expected: Counter = Counter()

    def want(seq, code, payer, payee, amount, backing=None):
        expected[(seq, payer, payee, amount, backing)] += 1

    def refund_payee(code: str, number: str) -> str:
        acct = members.get(canonical(number))
        return acct.number if acct is not None and acct.code == code else f"{code}-SUSPENSE"

    payout_refs = {
        p.seq: p
        for p in db.scalars(select(Payout).where(Payout.method == METHOD))
        if p.currency in codes
    }
    for seq, kind, raw, _prev, _hash in journal.iter_raw(db):
        if not (kind.startswith(f"{PLUGIN}.") or kind in ("sale", "refund", "void", "payout")):
            continue
        body = json.loads(raw)
        code = body.get("currency")
        if kind == f"{PLUGIN}.issue":
            want(seq, code, f"{code}-ISSUER", body["to"], body["amount"], body["backing"])
        elif kind == f"{PLUGIN}.redeem":
            want(seq, code, body["from"], f"{code}-ISSUER", body["amount"], body["backing"])
        elif kind == f"{PLUGIN}.transfer":
            want(seq, code, body["from"], body["to"], body["amount"])
        elif kind == f"{PLUGIN}.vouchers":
            total = body["amount"] * len(body["serials"])
            backing = body["backing"] if body["from"] == f"{code}-ISSUER" else None
            want(seq, code, body["from"], f"{code}-VOUCHERS", total, backing)
        elif kind == f"{PLUGIN}.demurrage":
            for number, charge in body["charges"]:
                want(seq, code, number, body["to"], charge)
        elif kind in ("sale", "refund", "void"):
            for t in body["tenders"]:
                if t["method"] != METHOD or t["currency"] not in codes:
                    continue
                code, data = t["currency"], t["data"] or {}
                caja = f"{code}-FAIR{body['fair']}"
                if kind == "sale":
                    payer = f"{code}-VOUCHERS" if data.get("voucher") else data.get("account")
                    want(seq, code, payer, caja, t["applied"])
                elif t["applied"] < 0:
                    want(
                        seq, code, caja, refund_payee(code, data.get("account", "")), -t["applied"]
                    )
        elif kind == "payout" and seq in payout_refs:
            p = payout_refs[seq]
            acct = members.get(canonical(p.reference))
            if acct is None or acct.code != p.currency or acct.producer_id != p.producer_id:
                acct = producer_account(db, p.producer_id, p.currency)
            payee = acct.number if acct is not None else f"{p.currency}-SUSPENSE"
            want(seq, p.currency, f"{p.currency}-FAIR{p.fair_id}", payee, p.amount)
    actual: Counter = Counter()
    for m in db.scalars(select(Movement).order_by(Movement.seq, Movement.id)):
        actual[(m.seq, numbers[m.from_account], numbers[m.to_account], m.amount, m.backing)] += 1
    missing = expected - actual
    extra = actual - expected
    if missing or extra:
        # Payouts and refunds are mirrored after their entry is committed: a pending one is
        # not tampering, as long as reconcile() has not run since.
        first = min([*missing, *extra])
        what = (
            "has no movement row" if first in missing else "has a movement row it does not record"
        )
        seq, payer, payee, amount, _ = first
        raise journal.JournalTampered(
            seq, f"{what}: {fmt(amount, _code_of(payer))} from {payer} to {payee}"
        )
    return sum(actual.values())


def _code_of(number: str) -> str:
    return number.split("-", 1)[0]
