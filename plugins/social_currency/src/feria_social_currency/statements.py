"""An account's statement: its movements with a running balance, and as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from feria.csvsafe import text_cell
from feria.money import Money
from feria_social_currency.ledger import account, balance, currency_row
from feria_social_currency.models import (
    Account,
    Movement,
)


@dataclass(frozen=True, slots=True)
class StatementLine:
    at: dt.datetime
    seq: int
    kind: str
    counterparty: str  # a member by name, a system account by number
    reference: str
    amount: Money  # signed: positive received, negative paid
    balance: Money
    sale_id: int | None = None
    payout_id: int | None = None


@dataclass(frozen=True, slots=True)
class Statement:
    """An account's movements between two times, with opening and closing balances."""

    number: str
    name: str
    code: str
    opening: Money
    closing: Money
    lines: list[StatementLine] = field(default_factory=list)

    def to_csv(self) -> str:
        """The statement as CSV (amounts in major units with a ``.`` decimal point).

        The counterparty and the reference (which carries a movement's free-text note) go
        through :func:`feria.csvsafe.text_cell`, so a spreadsheet shows them as text
        instead of running them as a formula; amounts stay numbers."""
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(
            ["date", "entry", "kind", "counterparty", "reference", "amount", "balance", "currency"]
        )
        w.writerow(["", "", "opening", "", "", "", str(self.opening.decimal), self.code])
        for ln in self.lines:
            w.writerow(
                [
                    ln.at.isoformat(sep=" ", timespec="seconds"),
                    ln.seq,
                    ln.kind,
                    text_cell(ln.counterparty),
                    text_cell(ln.reference),
                    str(ln.amount.decimal),
                    str(ln.balance.decimal),
                    self.code,
                ]
            )
        w.writerow(["", "", "closing", "", "", "", str(self.closing.decimal), self.code])
        return out.getvalue()


def statement(
    db: Session,
    number: str,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> Statement:
    """Account ``number``'s statement from ``since`` to ``until`` (both optional)."""
    acct = account(db, number)
    cur = currency_row(db, acct.code)
    names = _counterparties(db, cur.code)
    q = (
        select(Movement)
        .where((Movement.to_account == acct.id) | (Movement.from_account == acct.id))
        .order_by(Movement.seq, Movement.id)
    )
    running = 0
    lines = []
    opening = 0
    for m in db.scalars(q):
        signed = m.amount if m.to_account == acct.id else -m.amount
        if since is not None and m.at < since:
            opening += signed
            running += signed
            continue
        if until is not None and m.at >= until:
            break
        running += signed
        lines.append(_line(m, acct.id, names, cur.code, running))
    return Statement(
        acct.number, acct.name, cur.code, Money(opening, cur.code), Money(running, cur.code), lines
    )


def latest_lines(db: Session, acct: Account, limit: int) -> list[StatementLine]:
    """The last ``limit`` lines of ``acct``'s statement, newest first, with their running
    balance.

    A page that shows a member their latest movements is drawn again on every journal
    entry while it is open: this reads the balance and ``limit`` movements, and works the
    running balance back from the balance, instead of reading the whole history as
    :func:`statement` does."""
    names = _counterparties(db, acct.code)
    running = balance(db, acct.id)
    lines = []
    for m in db.scalars(
        select(Movement)
        .where((Movement.to_account == acct.id) | (Movement.from_account == acct.id))
        .order_by(Movement.seq.desc(), Movement.id.desc())
        .limit(limit)
    ):
        line = _line(m, acct.id, names, acct.code, running)
        lines.append(line)
        running -= line.amount.amount
    return lines


def _counterparties(db: Session, code: str) -> dict[int, str]:
    """How a statement names each account of currency ``code`` as a counterparty.

    A member's account by its holder's name, never its number: a member's number and PIN
    pay at the till, so a statement, which its holder may print or pass on, must not hand
    out other members' numbers (the CSV neither). A system account (the caja común, the
    issuer, the fund) by its number, which pays nothing (it holds no PIN) and reads the same
    in every language."""
    return {
        id_: name if role == "member" else number
        for id_, role, number, name in db.execute(
            select(Account.id, Account.role, Account.number, Account.name).where(
                Account.code == code
            )
        )
    }


def _line(
    m: Movement, account_id: int, names: dict[int, str], code: str, running: int
) -> StatementLine:
    """Movement ``m`` as a line of the statement of account ``account_id``, leaving it at
    ``running``; the counterparty as :func:`_counterparties` names it."""
    signed = m.amount if m.to_account == account_id else -m.amount
    other = names[m.from_account if m.to_account == account_id else m.to_account]
    ref = (
        f"sale {m.sale_id}"
        if m.sale_id is not None
        else f"payout {m.payout_id}"
        if m.payout_id is not None
        else ""
    )
    if m.voucher:
        ref = f"{ref} voucher {m.voucher}".strip()
    if m.note:
        ref = f"{ref} {m.note}".strip()
    return StatementLine(
        m.at,
        m.seq,
        m.kind,
        other,
        ref,
        Money(signed, code),
        Money(running, code),
        sale_id=m.sale_id,
        payout_id=m.payout_id,
    )
