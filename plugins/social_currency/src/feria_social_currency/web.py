"""The social currency on feria's pages: each member account of a producer on the
producer's own page (balance, limits, latest movements, the whole statement as CSV), and
the community bank's position on the organizers' dashboard, what circulates always beside
the fund that backs it.

Written against feria's public plugin API only: panels (``feria_producer_panels``,
``feria_backoffice_panels``) drawn by this plugin's templates, and one route of its own
for the CSV download. The download follows the producer page's rule: a producer gets the
statements of their own accounts and nothing of anyone else's (403, whether or not the
account exists); an organizer gets any.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from feria.catalogue.models import Fair, Producer
from feria.db import read_session
from feria.errors import Forbidden, NotFound
from feria.i18n import N_
from feria.money import Money, convert
from feria.panels import Panel
from feria.web.auth import require_role
from feria.web.state import app_state
from feria_social_currency.currencies import BankPosition, bank_position, rate_at
from feria_social_currency.ledger import balance, balances, canonical, register_row
from feria_social_currency.models import Account, SocialCurrency
from feria_social_currency.statements import StatementLine, latest_lines, statement

PREFIX = "/-/plugins/social-currency"
LATEST = 10
"""How many of an account's movements its producer's page shows; the CSV has them all."""

KIND_NAMES = {
    "sale": N_("Sale"),
    "refund": N_("Refund"),
    "void": N_("Void"),
    "payout": N_("Payout"),
    "issue": N_("Issued"),
    "redeem": N_("Redeemed"),
    "transfer": N_("Transfer"),
    "vouchers": N_("Vouchers"),
    "demurrage": N_("Demurrage"),
}
"""What a movement is, as a member reads it on their page (the CSV keeps the codes)."""

CURRENCY_KINDS = {
    "community_bank": N_("Community bank"),
    "mutual_credit": N_("Mutual credit"),
    "barter": N_("Barter credits"),
}


def statement_url(number: str) -> str:
    return f"{PREFIX}/accounts/{number}/statement.csv"


# -- a producer's accounts -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountView:
    """One member account as its producer's page shows it. Amounts are minor units of
    ``code``; ``debit_limit`` is how far below zero the balance may go, ``credit_limit``
    how far above (``None``: no cap)."""

    number: str
    name: str
    code: str
    currency_name: str
    active: bool
    balance: int
    debit_limit: int
    credit_limit: int | None
    latest: tuple[StatementLine, ...]
    statement_url: str


def producer_accounts(db: Session, producer_id: int) -> list[AccountView]:
    """The member accounts linked to producer ``producer_id``, in every social currency,
    with their balance, limits and latest movements."""
    rows = db.execute(
        select(Account, SocialCurrency)
        .join(SocialCurrency, SocialCurrency.code == Account.code)
        .where(Account.producer_id == producer_id, Account.role == "member")
        .order_by(Account.code, Account.number)
    ).all()
    views = []
    for acct, cur in rows:
        register_row(cur)  # its amounts are formatted like any other money
        views.append(
            AccountView(
                number=acct.number,
                name=acct.name,
                code=acct.code,
                currency_name=cur.name,
                active=acct.active,
                balance=balance(db, acct.id),
                debit_limit=acct.debit_limit or 0,
                credit_limit=acct.credit_limit,
                latest=tuple(latest_lines(db, acct, LATEST)),
                statement_url=statement_url(acct.number),
            )
        )
    return views


def producer_panels(producer: Producer, db: Session) -> list[Panel]:
    accounts = producer_accounts(db, producer.id)
    if not accounts:
        return []
    context = {"sc_accounts": accounts, "sc_kinds": KIND_NAMES}
    return [
        Panel(
            N_("Social currency"),
            "social_currency/producer_accounts.html",
            context,
            id="social-currency",
        )
    ]


# -- the bank's position -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountBalance:
    number: str
    name: str
    role: str
    producer: str
    balance: int
    statement_url: str


@dataclass(frozen=True, slots=True)
class PositionView:
    """A currency's position as the dashboard shows it: what circulates and, for a community
    bank, the fund and the rate in force beside it; and every account's balance, which sum
    to zero (the ledger is double entry)."""

    code: str
    name: str
    kind: str
    position: BankPosition
    rate_unit: int  # one unit of the currency, in its minor units
    rate: Money | None  # one unit, in the backing currency, at the rate in force
    circulating_value: Money | None  # what circulates, in the backing currency at that rate
    short: Money | None  # how much more the fund would need to back all of it, if any
    accounts: tuple[AccountBalance, ...]
    total: int


def positions(db: Session) -> list[PositionView]:
    """Every social currency of the network with its position and its accounts."""
    producers = dict(db.execute(select(Producer.id, Producer.name)).all())
    views = []
    for cur in db.scalars(select(SocialCurrency).order_by(SocialCurrency.code)):
        register_row(cur)
        position = bank_position(db, cur.code)
        rate = value = short = None
        one = Money(10**cur.decimals, cur.code)
        found = rate_at(db, cur.code) if cur.backing_currency else None
        if found is not None:
            rate = convert(one, found.rate, cur.backing_currency)
            value = convert(position.circulating, found.rate, cur.backing_currency)
            backing = position.backing.amount if position.backing is not None else 0
            if value.amount > backing:
                short = Money(value.amount - backing, cur.backing_currency)
        owned = balances(db, cur.code)
        accounts = tuple(
            AccountBalance(
                acct.number,
                acct.name,
                acct.role,
                producers.get(acct.producer_id, "") if acct.producer_id else "",
                owned.get(acct.number, 0),
                statement_url(acct.number),
            )
            for acct in db.scalars(
                select(Account).where(Account.code == cur.code).order_by(Account.id)
            )
        )
        views.append(
            PositionView(
                code=cur.code,
                name=cur.name,
                kind=cur.kind,
                position=position,
                rate_unit=one.amount,
                rate=rate,
                circulating_value=value,
                short=short,
                accounts=accounts,
                total=sum(a.balance for a in accounts),
            )
        )
    return views


def backoffice_panels(fair: Fair, db: Session) -> list[Panel]:
    found = positions(db)
    if not found:
        return []
    context = {"sc_positions": found, "sc_currency_kinds": CURRENCY_KINDS}
    return [
        Panel(
            N_("Social currencies"),
            "social_currency/bank_position.html",
            context,
            id="social-currencies",
        )
    ]


# -- the statement as CSV -------------------------------------------------------------------


def statement_csv(request: Request) -> Response:
    """An account's whole statement as CSV: a producer's own accounts, or any for an
    organizer. Anything else is a 403 even when the account does not exist, so the answer
    says nothing about other members' accounts."""
    user = require_role(request, "producer", "organizer")
    number = canonical(request.path_params["number"])
    with read_session(app_state(request).engine) as db:
        acct = db.scalar(select(Account).where(Account.number == number))
        mine = (
            acct is not None
            and acct.role == "member"
            and acct.producer_id is not None
            and acct.producer_id == user.producer_id
        )
        if user.role != "organizer" and not mine:
            raise Forbidden("a producer downloads only the statements of their own accounts")
        if acct is None:
            raise NotFound(f"there is no account {number!r}")
        text = statement(db, acct.number).to_csv()
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{acct.number}-statement.csv"'},
    )


routes = [
    Route(
        f"{PREFIX}/accounts/{{number}}/statement.csv",
        statement_csv,
        methods=["GET"],
        name="social_currency_statement_csv",
    ),
]
