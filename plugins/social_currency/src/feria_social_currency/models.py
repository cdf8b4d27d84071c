"""The plugin's tables, all prefixed ``social_currency_`` and created by its own Alembic branch.

Money moves only as rows of :class:`Movement`, each a transfer of a positive amount from one
account to another, so the balances of every currency always sum to zero: value is never
created except by an explicit issuance, which moves it out of the bank's *issuer* account
(whose balance is therefore minus what circulates). Every movement names the journal entry
that records it (``seq``). The tables where money moves are append-only: the database
refuses updates and deletes (triggers in the migration).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

KINDS = ("community_bank", "mutual_credit", "barter")
"""A *community bank* issues notes and credits against a fund in a national currency and
redeems them at the network's rate; *mutual credit* and *barter* credits are created by the
members themselves, trading within their limits, and are never issued nor redeemed."""

ROLES = ("member", "issuer", "vouchers", "fund", "fair", "suspense")
"""What an account is: a member's (a consumer, or a producer linked by ``producer_id``), or
one of a currency's system accounts: the bank's *issuer*, the *vouchers* outstanding, the
community *fund* (demurrage goes there), one *fair*'s caja común (what shoppers paid there,
until it is paid out to producers), and *suspense* (a refund whose account could not be
found, waiting for an organizer to move it on)."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    """The plugin's own metadata: feria's core migrations never see these tables."""


class SocialCurrency(Base):
    """A currency as the network configured it. Its code and decimals never change."""

    __tablename__ = "social_currency_currencies"
    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    decimals: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    backing_currency: Mapped[str | None] = mapped_column(String(8), nullable=True)
    default_debit_limit: Mapped[int] = mapped_column(BigInteger, default=0)
    default_credit_limit: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Rate(Base):
    """The network's rate for a community-bank currency: units of the backing currency one
    unit of the community currency is worth (decimal text), from ``effective_at`` on."""

    __tablename__ = "social_currency_rates"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(ForeignKey("social_currency_currencies.code"), index=True)
    rate: Mapped[str] = mapped_column(String(32))
    effective_at: Mapped[dt.datetime] = mapped_column(DateTime)
    note: Mapped[str] = mapped_column(Text, default="")
    seq: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Account(Base):
    """An account in one currency.

    ``debit_limit`` is how far below zero the balance may go (0: never negative; ``None``:
    no limit, only for system accounts); ``credit_limit`` how far above zero it may go
    (``None``: no cap). ``card_no`` is the number of the member card in force (0: none);
    issuing a new card makes the old one's token worthless. The PIN is kept only as an
    argon2 hash. Rows are never deleted; changes are journal entries too.
    """

    __tablename__ = "social_currency_accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(ForeignKey("social_currency_currencies.code"), index=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default="member")
    # References producers.id and fairs.id (foreign keys in the migration; the core's tables
    # are not in this plugin's metadata).
    producer_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    fair_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    debit_limit: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    credit_limit: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    pin_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    card_no: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Movement(Base):
    """``amount`` (> 0) minor units moved from one account to another, recorded by journal
    entry ``seq``: a sale, refund or void of the caja común (``sale_id``, ``tender_no``), a
    payout to a producer (``payout_id``), or one of this plugin's own entries. ``backing`` is
    what an issuance added to (positive) or a redemption took from (negative) the bank's
    backing fund, in the currency's backing currency."""

    __tablename__ = "social_currency_movements"
    __table_args__ = (
        UniqueConstraint("sale_id", "tender_no"),
        UniqueConstraint("payout_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    code: Mapped[str] = mapped_column(ForeignKey("social_currency_currencies.code"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    from_account: Mapped[int] = mapped_column(ForeignKey("social_currency_accounts.id"), index=True)
    to_account: Mapped[int] = mapped_column(ForeignKey("social_currency_accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    backing: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    sale_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tender_no: Mapped[int | None] = mapped_column(Integer, nullable=True)
    payout_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    voucher: Mapped[str | None] = mapped_column(String(32), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime)


class Voucher(Base):
    """A printed voucher (note) of ``amount``; its QR payload is signed, never stored."""

    __tablename__ = "social_currency_vouchers"
    serial: Mapped[str] = mapped_column(String(32), primary_key=True)
    code: Mapped[str] = mapped_column(ForeignKey("social_currency_currencies.code"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(BigInteger)
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime)


class Redemption(Base):
    """A voucher spent at the till. The serial is the primary key: a voucher is spent once."""

    __tablename__ = "social_currency_redemptions"
    serial: Mapped[str] = mapped_column(
        ForeignKey("social_currency_vouchers.serial"), primary_key=True
    )
    sale_id: Mapped[int] = mapped_column(Integer)
    tender_no: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[dt.datetime] = mapped_column(DateTime)


class RefusedAttempt(Base):
    """A payment refused at the till for a reason someone should look at: a forged, altered
    or already spent voucher, a wrong PIN, a tampered or replaced member card, a limit.

    ``subject`` is the voucher serial or account number as presented (never a PIN). The row
    is written in its own transaction after the sale rolled back, so it survives the
    refusal."""

    __tablename__ = "social_currency_refused"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    code: Mapped[str | None] = mapped_column(String(8), nullable=True)
    what: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(64), default="")
    reason: Mapped[str] = mapped_column(Text)
    fair_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sale_key: Mapped[str | None] = mapped_column(String(128), nullable=True)


class DemurrageRule(Base):
    """A periodic charge of ``bp`` basis points of every positive member balance, moved to
    the community fund; the rule with the latest ``effective_at`` not after a period wins."""

    __tablename__ = "social_currency_demurrage_rules"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(ForeignKey("social_currency_currencies.code"), index=True)
    bp: Mapped[int] = mapped_column(Integer)
    period: Mapped[str] = mapped_column(String(8))
    effective_at: Mapped[dt.datetime] = mapped_column(DateTime)
    seq: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class DemurrageRun(Base):
    """A period's demurrage, charged once: (currency, period) is unique."""

    __tablename__ = "social_currency_demurrage_runs"
    __table_args__ = (UniqueConstraint("code", "period"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(ForeignKey("social_currency_currencies.code"))
    period: Mapped[str] = mapped_column(String(16))
    bp: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[dt.datetime] = mapped_column(DateTime)


APPEND_ONLY_TABLES = (
    "social_currency_currencies",
    "social_currency_rates",
    "social_currency_movements",
    "social_currency_vouchers",
    "social_currency_redemptions",
    "social_currency_refused",
    "social_currency_demurrage_rules",
    "social_currency_demurrage_runs",
)
NO_DELETE_TABLES = ("social_currency_accounts",)
