"""Paying at the caja común in a social currency.

The tender names the payer one of three ways (its ``data``):

* ``{"account": "LUCA-0007", "pin": "1234"}`` — a member account and its PIN;
* ``{"card": "<QR payload>"}`` — a member card's signed token, scanned;
* ``{"voucher": "<QR payload>"}`` — a printed voucher, spent whole and once.

Its ``currency`` is the social currency's code; the fair's rule version must state a rate
for it (the till converts it like any foreign tender), and the producers' shares of it are
split in that currency like any other tender, so their settlement shows it per currency.

**When the money moves.** :meth:`SocialCurrencyPayment.authorize` only checks the tender is
complete and strips the secrets from what the journal keeps (the PIN, the card and voucher
signatures). The checks against the ledger (PIN, card number, voucher spent or not, limits)
and the movement itself happen in ``feria_sale_writing``: inside the sale's transaction,
after its journal entry is written and under the journal lock. So a sale is never recorded
without its movement, nor a movement without its sale, and two tills cannot both spend the
same balance or voucher. A refusal there rolls the whole sale back; the attempt is then
logged in its own transaction (:class:`~feria_social_currency.models.RefusedAttempt`).

The value paid goes to the fair's *caja común* account of the currency, and reaches each
producer's member account when the organizer records their payout
(:func:`~feria_social_currency.caja.pay_producer`).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import event, func, insert, select
from sqlalchemy.orm import Session

from feria.i18n import N_
from feria.payments import (
    Authorization,
    PaymentMethod,
    SaleInfo,
    TenderField,
    TenderInfo,
    TenderWay,
)
from feria_social_currency import accounts, caja, ledger, tokens
from feria_social_currency.errors import LimitExceeded, SecretMissing, TillRefused
from feria_social_currency.models import (
    Account,
    Redemption,
    RefusedAttempt,
    SocialCurrency,
    Voucher,
    utcnow,
)

log = logging.getLogger(__name__)


class SocialCurrencyPayment(PaymentMethod):
    code = ledger.METHOD
    name = N_("Social currency")
    gives_change = False  # a voucher is spent whole; change is given in the fair currency
    supports_refund = True

    def is_available(self, fair) -> bool:
        return bool(ledger.known_currencies())  # offered once a social currency exists

    def accepts_currency(self, code: str) -> bool:
        return any(c.code == code for c in ledger.known_currencies())

    def tender_ways(self, fair) -> list[TenderWay]:
        """The three ways of the module docstring, for the till to ask. A member card and a
        voucher are only offered when this till can check their signature: without the
        signing secret :meth:`authorize` would refuse them anyway, after the scan."""
        ways = [
            TenderWay(
                "account",
                N_("Account and PIN"),
                (
                    TenderField("account", N_("Account number")),
                    TenderField("pin", N_("PIN"), "secret"),
                ),
            )
        ]
        if tokens.has_secret():
            ways.append(
                TenderWay(
                    "card", N_("Member card"), (TenderField("card", N_("Scan the card"), "scan"),)
                )
            )
            ways.append(
                TenderWay(
                    "voucher",
                    N_("Voucher"),
                    (TenderField("voucher", N_("Scan the voucher"), "scan"),),
                )
            )
        return ways

    def authorize(self, tender: TenderInfo, sale: SaleInfo) -> Authorization:
        data = tender.data or {}
        ways = [k for k in ("voucher", "card", "account") if data.get(k)]
        if not ways:
            return Authorization.refuse(
                "say who pays: an account number and PIN, a member card or a voucher"
            )
        if len(ways) > 1:
            return Authorization.refuse(
                "one tender is paid one way: an account and PIN, a member card, or a voucher"
            )
        way = ways[0]
        if way in ("voucher", "card") and not tokens.has_secret():
            return Authorization.refuse(
                f"this till cannot check {way}s: {tokens.SECRET_ENV} is not configured"
            )
        if way == "voucher":
            serial = tokens.peek_voucher_serial(str(data["voucher"]))
            return Authorization.approve(reference=f"voucher {serial}".strip(), voucher=serial)
        if way == "card":
            number = tokens.peek_card_account(str(data["card"]))
            return Authorization.approve(reference=number, card="", account=number)
        if not data.get("pin"):
            return Authorization.refuse(f"the PIN of account {data['account']} is missing")
        number = str(data["account"]).strip().upper()
        return Authorization.approve(reference=number, account=number, pin="")

    def refund(self, tender: TenderInfo, sale: SaleInfo) -> Authorization:
        data = tender.data or {}
        if data.get("voucher"):
            return Authorization.refuse(
                "a spent voucher is not given back: pay the amount back to a member account "
                "or in cash"
            )
        if not data.get("account"):
            return Authorization.refuse(
                'name the member account to pay back to (data {"account": "LUCA-0001"})'
            )
        number = str(data["account"]).strip().upper()
        return Authorization.approve(reference=number, account=number)


class _Refusal(Exception):
    def __init__(self, what: str, subject: str, reason: str) -> None:
        super().__init__(reason)
        self.what, self.subject, self.reason = what, subject, reason


def write_sale(db: Session, sale: Any, tenders: list[TenderInfo]) -> None:
    """The ``feria_sale_writing`` implementation: check and write every social-currency
    tender of ``sale`` in its transaction, or refuse the whole sale."""
    body = sale.body
    ours = [
        (t, info)
        for t, info in zip(body["tenders"], tenders, strict=False)
        if t["method"] == ledger.METHOD
    ]
    if not ours:
        return
    at = dt.datetime.fromisoformat(body["at"])
    for t, info in ours:
        if body["kind"] != "sale":
            caja.give_back(
                db,
                sale_id=body["sale"],
                kind=body["kind"],
                seq=sale.seq,
                fair_id=body["fair"],
                at=at,
                tender_no=t["no"],
                code=t["currency"],
                applied=t["applied"],
                data=t["data"],
                strict=True,
            )
            continue
        try:
            _take(db, body, sale.seq, at, t, info)
        except _Refusal as r:
            _log_after_rollback(
                db,
                {
                    "at": utcnow(),
                    "code": t["currency"],
                    "what": r.what,
                    "subject": r.subject[:64],
                    "reason": r.reason,
                    "fair_id": body["fair"],
                    "sale_key": body["key"],
                },
            )
            raise TillRefused(
                f"social currency refused: {r.reason}", field=f"tenders[{t['no'] - 1}]"
            ) from None


def _take(
    db: Session, body: dict[str, Any], seq: int, at: dt.datetime, t: dict[str, Any], info
) -> None:
    code = t["currency"]
    amount = t["applied"]
    data = info.data or {}
    cur = db.get(SocialCurrency, code)
    if cur is None:
        raise _Refusal("currency", code, f"{code} is not a social currency of this network")
    caja = ledger.system_account(db, cur, "fair", body["fair"])
    common = {"seq": seq, "kind": "sale", "payee": caja, "amount": amount, "at": at}
    where = {"sale_id": body["sale"], "tender_no": t["no"]}

    if data.get("voucher"):
        payload = str(data["voucher"])
        try:
            facts = tokens.read_voucher(payload)
        except tokens.BadSignature as exc:
            raise _Refusal("voucher", tokens.peek_voucher_serial(payload), str(exc)) from None
        except SecretMissing as exc:
            raise _Refusal("voucher", "", exc.message) from None
        serial = facts.serial
        voucher = db.get(Voucher, serial)
        if voucher is None or voucher.code != facts.code or voucher.amount != facts.amount:
            raise _Refusal("voucher", serial, f"voucher {serial} was never issued")
        if facts.code != code:
            raise _Refusal(
                "voucher", serial, f"voucher {serial} is in {facts.code}, the tender in {code}"
            )
        spent = db.get(Redemption, serial)
        if spent is not None:
            raise _Refusal(
                "voucher",
                serial,
                f"voucher {serial} was already spent (sale {spent.sale_id}, "
                f"{spent.at:%Y-%m-%d %H:%M})",
            )
        if amount != voucher.amount:
            raise _Refusal(
                "voucher",
                serial,
                f"voucher {serial} is worth {ledger.fmt(voucher.amount, code)}: tender exactly "
                "that (a voucher is spent whole)",
            )
        db.execute(insert(Redemption).values(serial=serial, seq=seq, at=at, **where))
        held = ledger.system_account(db, cur, "vouchers")
        ledger.move(db, payer=held, voucher=serial, **common, **where)
        return

    if data.get("card"):
        payload = str(data["card"])
        try:
            facts = tokens.read_card(payload)
        except tokens.BadSignature as exc:
            raise _Refusal("card", tokens.peek_card_account(payload), str(exc)) from None
        except SecretMissing as exc:
            raise _Refusal("card", "", exc.message) from None
        payer = _member(db, facts.account, code, "card")
        if facts.code != code:
            raise _Refusal("card", payer.number, f"this card is for {facts.code}, not {code}")
        if facts.card_no != payer.card_no:
            raise _Refusal(
                "card",
                payer.number,
                f"card no. {facts.card_no} of account {payer.number} was replaced by card no. "
                f"{payer.card_no}: it no longer pays",
            )
    else:
        number = str(data.get("account", "")).strip().upper()
        payer = _member(db, number, code, "account")
        since = utcnow() - accounts.PIN_FAILURE_WINDOW
        failures = db.scalar(
            select(func.count(RefusedAttempt.id)).where(
                RefusedAttempt.what == "pin",
                RefusedAttempt.subject == payer.number,
                RefusedAttempt.at >= since,
            )
        )
        if failures >= accounts.MAX_PIN_FAILURES:
            raise _Refusal(
                "pin",
                payer.number,
                f"too many wrong PINs for account {payer.number}: try again in a few minutes "
                "or pay with the member card",
            )
        if not accounts.check_pin(payer, str(data.get("pin", ""))):
            raise _Refusal("pin", payer.number, f"wrong PIN for account {payer.number}")
    try:
        ledger.check_limits(db, payer, caja, amount)
    except LimitExceeded as exc:
        raise _Refusal("limit", payer.number, exc.message) from None
    ledger.move(db, payer=payer, **common, **where)


def _member(db: Session, number: str, code: str, what: str) -> Account:
    payer = db.scalar(select(Account).where(Account.number == number))
    if payer is None or payer.role != "member":
        raise _Refusal(what, number, f"there is no member account {number!r}")
    if payer.code != code:
        raise _Refusal(what, number, f"account {number} is in {payer.code}, the tender in {code}")
    if not payer.active:
        raise _Refusal(what, number, f"account {number} is blocked")
    return payer


def _log_after_rollback(db: Session, row: dict[str, Any]) -> None:
    """Record a refused attempt once the sale's transaction has rolled back, in a
    transaction of its own: written inside the sale's, it would be rolled back with it (and
    on SQLite a second connection cannot write while the sale holds the lock)."""
    engine = db.get_bind().engine  # the Session may be bound to the sale's connection

    def write(_session: Session) -> None:
        try:
            with engine.connect() as conn, conn.begin():
                conn.execute(insert(RefusedAttempt).values(**row))
        except Exception:  # the refusal itself must reach the cashier whatever happens here
            log.exception("could not log a refused social-currency payment: %s", row)

    event.listen(db, "after_rollback", write, once=True)
