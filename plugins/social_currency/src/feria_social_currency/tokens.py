"""Signed payloads for the QR codes of printed vouchers and member cards.

A voucher's or card's QR carries its facts and an HMAC-SHA256 over them, keyed with a secret
from the configuration (``FERIA_SOCIAL_CURRENCY_SECRET``), never stored in the database nor
in the code: a copy of the database, or of the journal, is not enough to print a voucher
that the till accepts, and changing a digit of an amount breaks the signature. (The seeds
recall counterfeit notes injected into a community currency in Argentina.)

Payloads use only upper-case letters, digits and ``:`` so the QR code stays in its compact
alphanumeric mode and a hand-held scanner types it back exactly::

    FSCV1:LUCA:LUCA000042:1000:<signature>      a voucher of 10.00 LUCA, serial LUCA000042
    FSCC1:LUCA:LUCA-0007:3:<signature>          member card no. 3 of account LUCA-0007

A signature proves who printed the paper, not that it is unspent: the till also checks the
voucher against the database and spends it once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from dataclasses import dataclass

from feria_social_currency.errors import SecretMissing

SECRET_ENV = "FERIA_SOCIAL_CURRENCY_SECRET"
MIN_SECRET_LENGTH = 32

VOUCHER_PREFIX = "FSCV1"
CARD_PREFIX = "FSCC1"
_VOUCHER = re.compile(r"FSCV1:([A-Z][A-Z0-9]{2,7}):([A-Z0-9]{1,32}):([0-9]{1,18}):([A-Z2-7]{52})")
_CARD = re.compile(r"FSCC1:([A-Z][A-Z0-9]{2,7}):([A-Z0-9-]{1,32}):([0-9]{1,9}):([A-Z2-7]{52})")


def secret() -> bytes:
    """The signing secret from the configuration; refuses to go on without a strong one."""
    raw = os.environ.get(SECRET_ENV, "")
    if len(raw) < MIN_SECRET_LENGTH:
        raise SecretMissing(
            f"vouchers and member cards are signed with a secret: set {SECRET_ENV} to at least "
            f"{MIN_SECRET_LENGTH} random characters (e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`), the same on "
            "every till of the network, and keep it out of version control"
        )
    return raw.encode("utf-8")


def has_secret() -> bool:
    return len(os.environ.get(SECRET_ENV, "")) >= MIN_SECRET_LENGTH


def _sign(purpose: str, message: str) -> str:
    # One key per purpose, derived from the secret, so a card's signature can never be
    # passed off as a voucher's.
    key = hmac.new(secret(), f"feria-social-currency/{purpose}".encode(), hashlib.sha256)
    mac = hmac.new(key.digest(), message.encode("ascii"), hashlib.sha256).digest()
    return base64.b32encode(mac).decode("ascii").rstrip("=")


@dataclass(frozen=True, slots=True)
class VoucherFacts:
    code: str
    serial: str
    amount: int


@dataclass(frozen=True, slots=True)
class CardFacts:
    code: str
    account: str
    card_no: int


class BadSignature(ValueError):
    """The payload is not one this network signed: forged, altered, or not a payload."""


def voucher_payload(code: str, serial: str, amount: int) -> str:
    message = f"{VOUCHER_PREFIX}:{code}:{serial}:{amount}"
    return f"{message}:{_sign('voucher', message)}"


def card_payload(code: str, account: str, card_no: int) -> str:
    message = f"{CARD_PREFIX}:{code}:{account}:{card_no}"
    return f"{message}:{_sign('card', message)}"


def _check(purpose: str, payload: str, sig: str) -> None:
    message = payload[: -(len(sig) + 1)]
    if not hmac.compare_digest(_sign(purpose, message), sig):
        raise BadSignature(f"the {purpose}'s signature does not match: it was forged or altered")


def read_voucher(payload: str) -> VoucherFacts:
    """The facts of a voucher payload whose signature is right; :class:`BadSignature` else."""
    m = _VOUCHER.fullmatch((payload or "").strip().upper())
    if m is None:
        raise BadSignature("this is not a voucher of this network (unreadable QR)")
    _check("voucher", m.group(0), m.group(4))
    return VoucherFacts(m.group(1), m.group(2), int(m.group(3)))


def read_card(payload: str) -> CardFacts:
    """The facts of a member card payload whose signature is right; :class:`BadSignature`."""
    m = _CARD.fullmatch((payload or "").strip().upper())
    if m is None:
        raise BadSignature("this is not a member card of this network (unreadable QR)")
    _check("card", m.group(0), m.group(4))
    return CardFacts(m.group(1), m.group(2), int(m.group(3)))


def peek_voucher_serial(payload: str) -> str:
    """The serial a voucher payload claims, unverified (to name it in a refusal or a log)."""
    parts = (payload or "").strip().upper().split(":")
    return parts[2][:32] if len(parts) >= 3 and parts[0] == VOUCHER_PREFIX else ""


def peek_card_account(payload: str) -> str:
    """The account a card payload claims, unverified (to name it in a refusal or a log)."""
    parts = (payload or "").strip().upper().split(":")
    return parts[2][:32] if len(parts) >= 3 and parts[0] == CARD_PREFIX else ""
