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
from typing import Any

from sqlalchemy import func, or_, select, union
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
from feria_social_currency.ledger import balance, canonical, register_row
from feria_social_currency.models import Account, Movement, SocialCurrency
from feria_social_currency.statements import StatementLine, latest_lines, statement

PREFIX = "/-/plugins/social-currency"
LATEST = 10
ACCOUNTS_SHOWN = 50  # accounts of a currency listed on the live dashboard
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
    bank, the fund and the rate in force beside it; and the balances of the network's
    first accounts. Every balance of the currency sums to zero (the ledger is double
    entry)."""

    code: str
    name: str
    kind: str
    position: BankPosition
    rate_unit: int  # one unit of the currency, in its minor units
    rate: Money | None  # one unit, in the backing currency, at the rate in force
    circulating_value: Money | None  # what circulates, in the backing currency at that rate
    short: Money | None  # how much more the fund would need to back all of it, if any
    accounts: tuple[AccountBalance, ...]  # the first ACCOUNTS_SHOWN of the network's
    count: int  # how many accounts the network has in the currency
    total: int  # the sum of every balance of the currency (zero)


def _networks_of_currencies(db: Session) -> dict[str, set[int]]:
    """The networks each currency is tied to through an account of one of their producers
    or fairs (one query; a currency with no such account is in none)."""
    tied: dict[str, set[int]] = {}
    for code, network_id in db.execute(
        union(
            select(Account.code, Producer.network_id).join(
                Producer, Producer.id == Account.producer_id
            ),
            select(Account.code, Fair.network_id).join(Fair, Fair.id == Account.fair_id),
        )
    ):
        tied.setdefault(code, set()).add(network_id)
    return tied


def _in_network(network_id: int) -> Any:
    """An account of ``network_id``: not linked to another network's producer or fair (a
    member without a producer, or a system account, belongs to every network's view)."""
    return or_(Account.producer_id.is_(None), Producer.network_id == network_id) & or_(
        Account.fair_id.is_(None), Fair.network_id == network_id
    )


def _balances_of(db: Session, ids: list[int]) -> dict[int, int]:
    """The balances of the accounts ``ids``, in two grouped queries."""
    found = dict.fromkeys(ids, 0)
    if not ids:
        return found
    for column, sign in ((Movement.to_account, 1), (Movement.from_account, -1)):
        for acct_id, total in db.execute(
            select(column, func.sum(Movement.amount)).where(column.in_(ids)).group_by(column)
        ):
            found[acct_id] += sign * int(total)
    return found


def _sum_of_balances(db: Session, code: str) -> int:
    """The sum of every balance of ``code`` (zero: every movement leaves one account and
    enters another), as two sums, without reading the accounts."""
    ids = select(Account.id).where(Account.code == code).scalar_subquery()
    received, given = (
        db.scalar(select(func.coalesce(func.sum(Movement.amount), 0)).where(column.in_(ids)))
        for column in (Movement.to_account, Movement.from_account)
    )
    return int(received or 0) - int(given or 0)


def positions(db: Session, fair: Fair) -> list[PositionView]:
    """The social currencies of ``fair``'s network with their position, and the first
    :data:`ACCOUNTS_SHOWN` of their accounts in the network, with how many there are.

    The dashboard is drawn again on every journal entry while it is open, so this reads
    only the network's accounts, and at most :data:`ACCOUNTS_SHOWN` of them: a currency
    tied (by a producer's or a fair's account) only to other networks is left out, and so
    are accounts of other networks' producers and fairs. Every account's statement stays a
    download away (``statement_url``)."""
    net = fair.network_id
    tied = _networks_of_currencies(db)
    views = []
    for cur in db.scalars(select(SocialCurrency).order_by(SocialCurrency.code)):
        if tied.get(cur.code) and net not in tied[cur.code]:
            continue  # another network's currency
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
        ours = (
            select(Account, Producer.name)
            .outerjoin(Producer, Producer.id == Account.producer_id)
            .outerjoin(Fair, Fair.id == Account.fair_id)
            .where(Account.code == cur.code, _in_network(net))
        )
        count = db.scalar(select(func.count()).select_from(ours.subquery()))
        shown = db.execute(ours.order_by(Account.id).limit(ACCOUNTS_SHOWN)).all()
        owned = _balances_of(db, [acct.id for acct, _ in shown])
        accounts = tuple(
            AccountBalance(
                acct.number,
                acct.name,
                acct.role,
                producer or "",
                owned[acct.id],
                statement_url(acct.number),
            )
            for acct, producer in shown
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
                count=int(count or 0),
                total=_sum_of_balances(db, cur.code),
            )
        )
    return views


def backoffice_panels(fair: Fair, db: Session) -> list[Panel]:
    found = positions(db, fair)
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
