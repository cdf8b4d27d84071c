"""``feria currency …``: the organizer's commands for social currencies.

Amounts are typed in major units (``12.50``); who acts is named with ``--user`` (an
organizer's username). Refusals print one line and exit 1, like every feria command.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import click
from sqlalchemy import select

from feria.accounts import User
from feria.cli import engine_from, friendly
from feria.db import read_session
from feria.money import Money, MoneyError
from feria.money import UnknownCurrency as UnknownMoneyCurrency
from feria_social_currency import (
    accounts,
    caja,
    currencies,
    demurrage,
    ledger,
    statements,
    verify,
    vouchers,
)
from feria_social_currency.errors import InvalidAmount, NotAllowed
from feria_social_currency.models import KINDS, Account

user_option = click.option(
    "--user", "username", required=True, help="The organizer who does this (username)."
)


def _engine(ctx: click.Context):
    engine = engine_from(ctx.find_root())
    caja.check_configuration(engine)
    return engine


def _user(engine, username: str) -> int:
    with read_session(engine) as db:
        user_id = db.scalar(select(User.id).where(User.username == username))
    if user_id is None:
        raise NotAllowed(f"there is no user {username!r}", field="user")
    return user_id


def _amount(engine, text: str, code: str, name: str = "amount") -> int:
    """``text`` in major units (``12.50``) as minor units of ``code``."""
    try:
        return Money.from_decimal(text.strip(), code.upper()).amount
    except UnknownMoneyCurrency:
        with read_session(engine) as db:
            ledger.currency_row(db, code)  # says it is not a social currency of the network
        raise
    except (MoneyError, TypeError) as exc:
        raise InvalidAmount(f"{name}: {exc}", field=name) from exc


def _code_of_account(engine, number: str) -> str:
    with read_session(engine) as db:
        return ledger.account(db, number).code


@click.group("currency")
def currency() -> None:
    """Social currencies: community-bank currencies, mutual credit, vouchers."""


@currency.command("create")
@click.argument("code")
@click.option("--name", required=True, help="How people call it, e.g. 'Luca'.")
@click.option("--decimals", type=int, default=2, show_default=True)
@click.option("--kind", type=click.Choice(KINDS), default="community_bank", show_default=True)
@click.option("--backing", "backing_currency", help="ISO currency of a community bank's fund.")
@click.option("--debit-limit", default="0", show_default=True, help="Default for new accounts.")
@click.option("--credit-limit", default=None, help="Default cap for new accounts (none).")
@user_option
@click.pass_context
@friendly
def create_cmd(
    ctx, code, name, decimals, kind, backing_currency, debit_limit, credit_limit, username
):
    """Configure social currency CODE (3 to 8 capital letters or digits)."""
    engine = _engine(ctx)
    factor = 10**decimals
    debit = int(Decimal(debit_limit) * factor)
    credit = None if credit_limit is None else int(Decimal(credit_limit) * factor)
    row = currencies.create_currency(
        engine,
        code=code,
        name=name,
        decimals=decimals,
        kind=kind,
        backing_currency=backing_currency,
        debit_limit=debit,
        credit_limit=credit,
        user_id=_user(engine, username),
    )
    click.echo(f"{row.code} ({row.name}, {row.kind}) created")


@currency.command("rate")
@click.argument("code")
@click.argument("rate")
@click.option("--fair", "fairs", multiple=True, help="Also add a rule version to this fair.")
@user_option
@click.pass_context
@friendly
def rate_cmd(ctx, code, rate, fairs, username):
    """Set the network's RATE for CODE (units of its backing currency per unit)."""
    engine = _engine(ctx)
    row = currencies.set_rate(
        engine, code=code, rate=rate, fairs=list(fairs), user_id=_user(engine, username)
    )
    where = f"; rule versions added to {', '.join(fairs)}" if fairs else ""
    click.echo(f"{row.code}: 1 = {row.rate} from {row.effective_at:%Y-%m-%d %H:%M}{where}")


@currency.group("account")
def account_group() -> None:
    """Member accounts: open, limits, PIN, member card."""


@account_group.command("open")
@click.argument("code")
@click.argument("name")
@click.option("--producer", "producer_code", help="Link the account to this producer (code).")
@click.option("--pin/--no-pin", default=False, help="Ask for the member's PIN.")
@user_option
@click.pass_context
@friendly
def open_cmd(ctx, code, name, producer_code, pin, username):
    """Open an account in CODE for NAME and print its number."""
    from feria.catalogue.models import Producer

    engine = _engine(ctx)
    producer_id = None
    if producer_code:
        with read_session(engine) as db:
            producer_id = db.scalar(
                select(Producer.id).where(Producer.code == producer_code.strip().upper())
            )
        if producer_id is None:
            raise NotAllowed(f"there is no producer {producer_code!r}", field="producer")
    secret = click.prompt("PIN", hide_input=True, confirmation_prompt=True) if pin else None
    acct = accounts.open_account(
        engine,
        code=code,
        name=name,
        producer_id=producer_id,
        pin=secret,
        user_id=_user(engine, username),
    )
    click.echo(acct.number)


@account_group.command("limits")
@click.argument("number")
@click.option("--debit-limit", help="How far below zero the balance may go.")
@click.option("--credit-limit", help="How far above zero it may go ('none': no cap).")
@user_option
@click.pass_context
@friendly
def limits_cmd(ctx, number, debit_limit, credit_limit, username):
    """Change the limits of account NUMBER."""
    engine = _engine(ctx)
    code = _code_of_account(engine, number)
    kwargs = {}
    if debit_limit is not None:
        kwargs["debit_limit"] = _amount(engine, debit_limit, code, "debit_limit")
    if credit_limit is not None:
        kwargs["credit_limit"] = (
            None if credit_limit.lower() == "none" else _amount(engine, credit_limit, code)
        )
    acct = accounts.set_limits(engine, number=number, user_id=_user(engine, username), **kwargs)
    credit = "none" if acct.credit_limit is None else ledger.fmt(acct.credit_limit, acct.code)
    click.echo(
        f"{acct.number}: debit limit {ledger.fmt(acct.debit_limit, acct.code)}, "
        f"credit limit {credit}"
    )


@account_group.command("pin")
@click.argument("number")
@user_option
@click.pass_context
@friendly
def pin_cmd(ctx, number, username):
    """Set the PIN of account NUMBER (asked for, never echoed)."""
    engine = _engine(ctx)
    pin = click.prompt("PIN", hide_input=True, confirmation_prompt=True)
    accounts.set_pin(engine, number=number, pin=pin, user_id=_user(engine, username))
    click.echo(f"{number.upper()}: PIN changed")


@account_group.command("card")
@click.argument("number")
@user_option
@click.pass_context
@friendly
def card_cmd(ctx, number, username):
    """Issue a new member card for NUMBER and print its QR payload (the old card stops)."""
    engine = _engine(ctx)
    click.echo(accounts.issue_card(engine, number=number, user_id=_user(engine, username)))


@currency.command("issue")
@click.argument("code")
@click.argument("amount")
@click.option("--to", "to", required=True, help="The account that receives it.")
@click.option("--backing", help="What entered the fund (default: at the network's rate).")
@user_option
@click.pass_context
@friendly
def issue_cmd(ctx, code, amount, to, backing, username):
    """Issue AMOUNT of community-bank currency CODE into an account."""
    engine = _engine(ctx)
    with read_session(engine) as db:
        backing_currency = ledger.currency_row(db, code).backing_currency
    value = _amount(engine, amount, code)
    backing_amount = None
    if backing is not None and backing_currency:
        backing_amount = _amount(engine, backing, backing_currency, "backing")
    currencies.issue(
        engine,
        code=code,
        amount=value,
        to=to,
        backing=backing_amount,
        user_id=_user(engine, username),
    )
    _print_position(engine, code, f"issued {ledger.fmt(value, code.upper())}; ")


@currency.command("redeem")
@click.argument("code")
@click.argument("amount")
@click.option("--from", "from_", required=True, help="The account that hands it in.")
@user_option
@click.pass_context
@friendly
def redeem_cmd(ctx, code, amount, from_, username):
    """Redeem AMOUNT of CODE from an account: the fund pays its value at the network rate."""
    engine = _engine(ctx)
    paid = currencies.redeem(
        engine,
        code=code,
        amount=_amount(engine, amount, code),
        from_=from_,
        user_id=_user(engine, username),
    )
    _print_position(engine, code, f"pay out {paid}; ")


@currency.command("transfer")
@click.argument("from_")
@click.argument("to")
@click.argument("amount")
@click.option("--note", default="")
@user_option
@click.pass_context
@friendly
def transfer_cmd(ctx, from_, to, amount, note, username):
    """Move AMOUNT from account FROM_ to account TO (an organizer's transfer)."""
    engine = _engine(ctx)
    code = _code_of_account(engine, from_)
    value = _amount(engine, amount, code)
    accounts.transfer(
        engine, from_=from_, to=to, amount=value, note=note, user_id=_user(engine, username)
    )
    click.echo(f"{ledger.fmt(value, code)} from {from_.upper()} to {to.upper()}")


@currency.command("vouchers")
@click.argument("code")
@click.option("--count", type=int, required=True, help="How many vouchers.")
@click.option("--amount", required=True, help="The value of each voucher.")
@click.option("--from", "from_", help="Buy them from this account (mutual credit, barter).")
@click.option("--svg", type=click.Path(dir_okay=False), help="Also draw them into this SVG.")
@user_option
@click.pass_context
@friendly
def vouchers_cmd(ctx, code, count, amount, from_, svg, username):
    """Print COUNT signed vouchers of CODE: one line per voucher, serial and QR payload."""
    engine = _engine(ctx)
    made = vouchers.make_vouchers(
        engine,
        code=code,
        count=count,
        amount=_amount(engine, amount, code),
        from_=from_,
        user_id=_user(engine, username),
    )
    for v in made:
        click.echo(f"{v.serial}\t{v.amount}\t{v.payload}")
    if svg:
        from feria_social_currency.printing import vouchers_svg

        with open(svg, "w", encoding="utf-8") as out:
            out.write(vouchers_svg(made))
        click.echo(f"drawn into {svg}", err=True)


@currency.command("statement")
@click.argument("number")
@click.option("--since", type=click.DateTime(), help="From this date (UTC).")
@click.option("--until", type=click.DateTime(), help="Up to this date (UTC).")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of a table.")
@click.pass_context
@friendly
def statement_cmd(ctx, number, since, until, as_csv):
    """Print the statement of account NUMBER."""
    engine = _engine(ctx)
    with read_session(engine) as db:
        st = statements.statement(db, number, since=since, until=until)
    if as_csv:
        click.echo(st.to_csv(), nl=False)
        return
    click.echo(f"{st.number} {st.name} ({st.code})")
    click.echo(f"{'':19}  {'opening':<10} {'':30} {st.opening.decimal:>12}")
    for ln in st.lines:
        click.echo(
            f"{ln.at:%Y-%m-%d %H:%M:%S}  {ln.kind:<10} {ln.counterparty:<30} "
            f"{ln.amount.decimal:>12} {ln.balance.decimal:>12}"
        )
    click.echo(f"{'':19}  {'closing':<10} {'':30} {st.closing.decimal:>12}")


@currency.command("position")
@click.argument("code")
@click.pass_context
@friendly
def position_cmd(ctx, code):
    """Show what circulates of CODE and, beside it, its backing fund."""
    _print_position(_engine(ctx), code)


def _print_position(engine, code: str, prefix: str = "") -> None:
    with read_session(engine) as db:
        pos = currencies.bank_position(db, code)
    backing = "no backing fund" if pos.backing is None else f"backing {pos.backing}"
    coverage = "" if pos.coverage_bp is None else f" ({pos.coverage_bp / 100:.2f}% covered)"
    click.echo(
        f"{prefix}{pos.code}: circulating {pos.circulating}, {backing}{coverage}; "
        f"vouchers outstanding {pos.vouchers}"
    )


@currency.group("demurrage")
def demurrage_group() -> None:
    """An optional periodic charge on positive balances, to the community fund."""


@demurrage_group.command("set")
@click.argument("code")
@click.argument("bp", type=int)
@click.option("--period", type=click.Choice(demurrage.PERIODS), default="month", show_default=True)
@user_option
@click.pass_context
@friendly
def demurrage_set_cmd(ctx, code, bp, period, username):
    """Charge BP basis points of positive balances of CODE every period (0 ends it)."""
    engine = _engine(ctx)
    rule = demurrage.set_demurrage(
        engine, code=code, bp=bp, period=period, user_id=_user(engine, username)
    )
    click.echo(
        f"{rule.code}: {rule.bp / 100:.2f}% a {rule.period} from {rule.effective_at:%Y-%m-%d}"
    )


@demurrage_group.command("apply")
@click.argument("code")
@click.option("--at", type=click.DateTime(), help="A moment of the period (default: now).")
@user_option
@click.pass_context
@friendly
def demurrage_apply_cmd(ctx, code, at, username):
    """Charge the demurrage of the current period (once; again does nothing)."""
    engine = _engine(ctx)
    run = demurrage.apply_demurrage(
        engine,
        code,
        at or dt.datetime.now(dt.UTC).replace(tzinfo=None),
        user_id=_user(engine, username),
    )
    if run is None:
        click.echo(f"{code.upper()} has no demurrage rule in force")
    else:
        click.echo(f"{run.code} {run.period}: charged at {run.bp / 100:.2f}% (entry {run.seq})")


@currency.command("verify")
@click.pass_context
@friendly
def verify_cmd(ctx):
    """Check the journal and re-derive every account movement from it."""
    engine = _engine(ctx)
    with read_session(engine) as db:
        count = verify.verify_ledger(db)
        accounts = db.scalar(select(Account.id).limit(1))
    click.echo(f"ok: {count} movements match the journal" + ("" if accounts else " (no accounts)"))
