"""The demo's community currency: the *Luca* of the network's community bank, backed by
pesos at 1,000 CLP per luca, with member accounts for two shoppers and three demo producers,
a payment from one member to a producer, a member card and a sheet of vouchers.

Like feria's demo it is idempotent (a second call changes nothing) and its PIN is public on
purpose: never use the demo's accounts at a real fair.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

import pluggy
from sqlalchemy import Engine, select

from feria.accounts import User
from feria.catalogue.models import Fair, Producer
from feria.db import read_session
from feria_social_currency import accounts, currencies, tokens, vouchers
from feria_social_currency.currencies import BankPosition
from feria_social_currency.errors import InvalidCurrency
from feria_social_currency.models import Account, Movement, Redemption, SocialCurrency, Voucher
from feria_social_currency.vouchers import IssuedVoucher

DEMO_CODE = "LUCA"
DEMO_PIN = "1234"
"""The PIN of every demo account. Public on purpose; never use it at a real fair."""
DEMO_RATE = "1000"  # CLP per luca
DEMO_MEMBERS: tuple[tuple[str, str | None, int], ...] = (
    # name, producer code (None: a consumer), luca issued to it
    ("Sofía Ramírez", None, 20_000),
    ("Comedor Popular Yungay", None, 50_000),
    ("Miel Los Quillayes", "P01", 0),
    ("Panadería El Horno Colectivo", "P03", 0),
    ("Cooperativa Textil La Esperanza", "P07", 0),
)
DEMO_VOUCHERS = (5, 1_000)  # five vouchers of 10.00 luca
DEMO_TRANSFERS: tuple[tuple[str, str, int, str], ...] = (
    # payer, payee (member names), luca, note: the community kitchen pays the honey
    # producer directly, so the demo producer (``productor``) finds a balance and a
    # movement in their account on their own page
    ("Comedor Popular Yungay", "Miel Los Quillayes", 3_600, "Miel de ulmo para el comedor"),
)


@dataclass(frozen=True, slots=True)
class DemoAccount:
    number: str
    name: str
    producer_code: str | None
    pin: str


@dataclass(frozen=True, slots=True)
class DemoCurrency:
    """What the demo currency holds, to print beside the demo's logins."""

    code: str
    rate: str
    accounts: tuple[DemoAccount, ...]
    card: str  # the first shopper's member card payload
    vouchers: tuple[IssuedVoucher, ...]
    position: BankPosition
    note: str = ""


def load_demo_currency(engine: Engine, pm: pluggy.PluginManager, fair_slug: str) -> DemoCurrency:
    """Create (once) the demo's LUCA at fair ``fair_slug`` and return what it holds.

    Vouchers and cards are signed: without ``FERIA_SOCIAL_CURRENCY_SECRET`` the demo makes
    up a random secret for this process (and says so in ``note``); the demo's vouchers are
    re-signed on every call, so they are valid for as long as this process runs.
    """
    note = ""
    if not tokens.has_secret():
        os.environ[tokens.SECRET_ENV] = secrets.token_urlsafe(32)
        note = (
            f"{tokens.SECRET_ENV} was not set: this demo signs its vouchers and cards with a "
            "random secret that lasts as long as this process"
        )
    with read_session(engine) as db:
        fair = db.scalar(select(Fair).where(Fair.slug == fair_slug))
        if fair is None:
            raise InvalidCurrency(f"there is no fair {fair_slug!r}", field="fair")
        organizer = db.scalar(
            select(User.id)
            .where(User.role == "organizer", User.active.is_(True))
            .order_by(User.id)
            .limit(1)
        )
        if organizer is None:
            raise InvalidCurrency("the demo needs an organizer user", field="user")
        exists = db.get(SocialCurrency, DEMO_CODE) is not None
        has_rate = exists and currencies.rate_at(db, DEMO_CODE) is not None
        producers = {
            code: pid
            for code, pid in db.execute(
                select(Producer.code, Producer.id).where(Producer.network_id == fair.network_id)
            )
        }
    if not exists:
        currencies.create_currency(
            engine,
            code=DEMO_CODE,
            name="Luca",
            decimals=2,
            kind="community_bank",
            backing_currency=fair.currency,
            user_id=organizer,
        )
    if not has_rate:
        currencies.set_rate(
            engine,
            code=DEMO_CODE,
            rate=DEMO_RATE,
            user_id=organizer,
            fairs=[fair_slug] if fair.currency == "CLP" else [],
            note="the community bank's founding rate",
        )
    members = []
    for name, producer_code, issued in DEMO_MEMBERS:
        producer_id = producers.get(producer_code) if producer_code else None
        if producer_code and producer_id is None:
            continue
        with read_session(engine) as db:
            acct = db.scalar(
                select(Account).where(
                    Account.code == DEMO_CODE, Account.name == name, Account.role == "member"
                )
            )
        if acct is None:
            acct = accounts.open_account(
                engine,
                code=DEMO_CODE,
                name=name,
                user_id=organizer,
                producer_id=producer_id,
                pin=DEMO_PIN,
            )
        if issued:
            with read_session(engine) as db:
                given = db.scalar(
                    select(Movement.id).where(
                        Movement.to_account == acct.id, Movement.kind == "issue"
                    )
                )
            if given is None:
                currencies.issue(
                    engine, code=DEMO_CODE, amount=issued, to=acct.number, user_id=organizer
                )
        members.append(DemoAccount(acct.number, name, producer_code, DEMO_PIN))
    _ensure_transfers(engine, {m.name: m.number for m in members})
    shopper = members[0].number
    with read_session(engine) as db:
        card_no = db.scalar(select(Account.card_no).where(Account.number == shopper))
        serials = list(
            db.scalars(
                select(Voucher.serial).where(Voucher.code == DEMO_CODE).order_by(Voucher.serial)
            )
        )
    if not card_no:
        card = accounts.issue_card(engine, number=shopper, user_id=organizer)
    else:
        card = tokens.card_payload(DEMO_CODE, shopper, card_no)
    if not serials:
        count, amount = DEMO_VOUCHERS
        printed = vouchers.make_vouchers(
            engine, code=DEMO_CODE, count=count, amount=amount, user_id=organizer
        )
    else:
        with read_session(engine) as db:
            printed = vouchers.voucher_payloads(db, serials)
    with read_session(engine) as db:
        position = currencies.bank_position(db, DEMO_CODE)
    return DemoCurrency(DEMO_CODE, DEMO_RATE, tuple(members), card, tuple(printed), position, note)


def _ensure_transfers(engine: Engine, numbers: dict[str, str]) -> None:
    """The demo's payments between members (:data:`DEMO_TRANSFERS`), each made once: one
    already in the ledger (same payer, payee and note) is not made again."""
    for payer, payee, amount, note in DEMO_TRANSFERS:
        if payer not in numbers or payee not in numbers:
            continue  # a demo without that producer
        with read_session(engine) as db:
            ids = dict(
                db.execute(
                    select(Account.number, Account.id).where(
                        Account.number.in_((numbers[payer], numbers[payee]))
                    )
                ).all()
            )
            made = db.scalar(
                select(Movement.id).where(
                    Movement.from_account == ids[numbers[payer]],
                    Movement.to_account == ids[numbers[payee]],
                    Movement.kind == "transfer",
                    Movement.note == note,
                )
            )
        if made is None:
            accounts.transfer(
                engine,
                from_=numbers[payer],
                to=numbers[payee],
                amount=amount,
                pin=DEMO_PIN,
                note=note,
            )


def till_notes(engine: Engine, demo: DemoCurrency) -> list[str]:
    """How the demo's cashier pays in the demo currency, for the terminal beside the demo's
    logins: the first shopper's account and PIN, and the vouchers not spent yet (their QR
    payloads, to scan or paste at the till)."""
    shopper = next(a for a in demo.accounts if a.producer_code is None)
    with read_session(engine) as db:
        spent = set(db.scalars(select(Redemption.serial)))
    lines = [
        f"{demo.code}, the demo's community currency, at the till (/pos, Social currency):",
        f"  account {shopper.number} ({shopper.name}), PIN {shopper.pin}",
    ]
    unspent = [v for v in demo.vouchers if v.serial not in spent]
    if unspent:
        lines.append("  vouchers to scan (or paste), each spent whole and once:")
        lines += [f"    {v.payload}" for v in unspent]
    if demo.note:
        lines.append(f"  ({demo.note})")
    return lines
