"""The settlement (liquidación): what the caja común owes every producer of a fair, and the
payouts that settle it.

A settlement is computed, never stored: it is a handful of ``GROUP BY`` queries over the rows
derived from the journal (``feria verify`` proves those rows are what the entries say), so
anyone can recompute it and must get the same bytes. It is taken *as of* one journal entry
(the head when it is computed, or an earlier entry on request): only sales and payouts
recorded up to that entry count, so the figures do not move under a concurrent sale and an
old settlement can be reproduced exactly.

Per producer and currency it shows gross sales, refunds (voids included), what the
solidarity fund withheld and the fees (both net of refunds), the net owed, what was paid
and the balance. Per currency it checks the caja común's promise:

    Σ paid + Σ withheld + Σ fees + Σ balances = Σ collected

where *collected* is every tender kept by the fair's sales, refunds paid back negative.

A payout is a journal entry (``payout``) and a ``payouts`` row; the producer acknowledges it
with a second entry (``payout_ack``) that fills the row's acknowledgement columns once.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from babel.numbers import get_decimal_symbol
from sqlalchemy import Engine, case, func, insert, select, update
from sqlalchemy.orm import Session

from feria import journal
from feria.accounts import User
from feria.cashbox.errors import NotAllowed, UnknownProducer
from feria.cashbox.models import MemberSplit, Payout, Sale, Split, Tender
from feria.catalogue.models import Fair, Member, Participation, Producer, RuleVersion, utcnow
from feria.csvsafe import text_cell
from feria.db import write_session
from feria.errors import Conflict, FeriaError, NotFound
from feria.money import Money, MoneyError, allocate
from feria.money import currency as currency_of

__all__ = [
    "AppliedRule",
    "CurrencyTotals",
    "MemberSettlement",
    "PayoutRecord",
    "ProducerSettlement",
    "Settlement",
    "acknowledge_payout",
    "balance_owed",
    "fair_by_slug",
    "payout_ack_values",
    "payout_row_from_body",
    "producer_by_code",
    "record_payout",
    "settle",
]

REFUND_KINDS = ("refund", "void")


# -- refusals ------------------------------------------------------------------------------


class FairNotFound(NotFound):
    code = "fair_not_found"


class InvalidPayout(FeriaError):
    code = "invalid_payout"


class PayoutExceedsBalance(FeriaError):
    code = "payout_exceeds_balance"
    status = 422


class PayoutNotFound(NotFound):
    code = "payout_not_found"


class PayoutAlreadyAcknowledged(Conflict):
    code = "payout_already_acknowledged"


class SettlementUnbalanced(FeriaError):
    """The figures do not add up to what was collected: the derived tables disagree with
    each other. Run ``feria verify`` to find the entry at fault."""

    code = "settlement_unbalanced"
    status = 500


# -- the settlement --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SettledFair:
    id: int
    slug: str
    name: str
    currency: str
    locale: str


@dataclass(frozen=True, slots=True)
class MemberSettlement:
    """A cooperative member's part: their share of the net (as split sale by sale), of
    what was paid to the cooperative (allocated by the agreed shares), and the balance."""

    member_id: int
    name: str
    share_bp: int
    net: Money
    paid: Money
    balance: Money

    def to_json(self) -> dict[str, Any]:
        return {
            "member": self.member_id,
            "name": self.name,
            "share_bp": self.share_bp,
            "net": self.net.amount,
            "paid": self.paid.amount,
            "balance": self.balance.amount,
        }


@dataclass(frozen=True, slots=True)
class ProducerSettlement:
    """One producer's figures in one currency.

    ``refunds`` is negative (the gross of refunds and voids); ``withheld`` and ``fees`` are
    net of refunds; ``net = gross + refunds − withheld − fees`` and ``balance = net − paid``.
    """

    producer_id: int
    code: str
    name: str
    kind: str
    currency: str
    gross: Money
    refunds: Money
    withheld: Money
    fees: Money
    net: Money
    paid: Money
    balance: Money
    rule_ids: tuple[int, ...] = ()
    members: tuple[MemberSettlement, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "producer": self.producer_id,
            "code": self.code,
            "name": self.name,
            "kind": self.kind,
            "currency": self.currency,
            "gross": self.gross.amount,
            "refunds": self.refunds.amount,
            "withheld": self.withheld.amount,
            "fees": self.fees.amount,
            "net": self.net.amount,
            "paid": self.paid.amount,
            "balance": self.balance.amount,
            "rules": list(self.rule_ids),
            "members": [m.to_json() for m in self.members],
        }


@dataclass(frozen=True, slots=True)
class CurrencyTotals:
    """The sums of one currency, and what the tenders say was collected in it."""

    currency: str
    gross: Money
    refunds: Money
    withheld: Money
    fees: Money
    net: Money
    paid: Money
    balance: Money
    collected: Money

    @property
    def accounted(self) -> Money:
        """Σ paid + Σ withheld + Σ fees + Σ balances: where the collected money went."""
        return self.paid + self.withheld + self.fees + self.balance

    @property
    def balanced(self) -> bool:
        return self.accounted == self.collected

    def to_json(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "gross": self.gross.amount,
            "refunds": self.refunds.amount,
            "withheld": self.withheld.amount,
            "fees": self.fees.amount,
            "net": self.net.amount,
            "paid": self.paid.amount,
            "balance": self.balance.amount,
            "collected": self.collected.amount,
            "accounted": self.accounted.amount,
            "balanced": self.balanced,
        }


@dataclass(frozen=True, slots=True)
class AppliedRule:
    """A rule version some of the settled sales were split by."""

    rule_id: int
    version: int
    effective_at: dt.datetime
    solidarity_bp: int
    fees: dict[str, Any]
    rates: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule_id,
            "version": self.version,
            "effective_at": self.effective_at.isoformat(timespec="microseconds"),
            "solidarity_bp": self.solidarity_bp,
            "fees": self.fees,
            "rates": self.rates,
        }


@dataclass(frozen=True, slots=True)
class PayoutRecord:
    """A payout as the settlement lists it (acknowledged only if the acknowledgement is
    part of the settled journal)."""

    payout_id: int
    producer_id: int
    amount: Money
    method: str
    reference: str
    at: dt.datetime
    seq: int
    acknowledged_at: dt.datetime | None
    ack_seq: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "payout": self.payout_id,
            "producer": self.producer_id,
            "currency": self.amount.currency,
            "amount": self.amount.amount,
            "method": self.method,
            "reference": self.reference,
            "at": self.at.isoformat(timespec="microseconds"),
            "seq": self.seq,
            "acknowledged_at": (
                self.acknowledged_at.isoformat(timespec="microseconds")
                if self.acknowledged_at
                else None
            ),
            "ack_seq": self.ack_seq,
        }


@dataclass(frozen=True, slots=True)
class Settlement:
    """The liquidación of one fair as of one journal entry (``as_of``).

    ``producer_id`` is set on a producer's view (:meth:`for_producer`): it holds only that
    producer's rows and payouts, and its totals are the producer's own (there, *collected*
    is the producer's part of the tenders: gross + refunds).
    """

    fair: SettledFair
    as_of: journal.Head
    producers: tuple[ProducerSettlement, ...]
    totals: tuple[CurrencyTotals, ...]
    rules: tuple[AppliedRule, ...]
    payouts: tuple[PayoutRecord, ...] = ()
    producer_id: int | None = None

    @property
    def balanced(self) -> bool:
        return all(t.balanced for t in self.totals)

    def check(self) -> None:
        """Raise :class:`SettlementUnbalanced` unless every currency adds up."""
        for t in self.totals:
            if not t.balanced:
                raise SettlementUnbalanced(
                    f"{self.fair.name}, {t.currency}: paid + withheld + fees + balances = "
                    f"{t.accounted}, but {t.collected} was collected "
                    f"(difference {t.accounted - t.collected}); run `feria verify`",
                    field="totals",
                    currency=t.currency,
                )

    def for_producer(self, producer_id: int) -> Settlement:
        """Only ``producer_id``'s rows, payouts and rules, with totals recomputed for them."""
        rows = tuple(p for p in self.producers if p.producer_id == producer_id)
        if not rows:
            raise UnknownProducer(
                f"producer {producer_id} has nothing to settle at {self.fair.name}",
                field="producer",
            )
        used = {r for p in rows for r in p.rule_ids}
        return replace(
            self,
            producers=rows,
            totals=_totals(rows, None),
            rules=tuple(r for r in self.rules if r.rule_id in used),
            payouts=tuple(p for p in self.payouts if p.producer_id == producer_id),
            producer_id=producer_id,
        )

    # -- output ------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """Plain data (ints of minor units, lists in a fixed order): dumped with sorted keys
        it is byte for byte the same every time the same journal is settled."""
        f = self.fair
        return {
            "fair": {
                "id": f.id,
                "slug": f.slug,
                "name": f.name,
                "currency": f.currency,
                "locale": f.locale,
            },
            "as_of": {"seq": self.as_of.seq, "hash": self.as_of.hash},
            "producer": self.producer_id,
            "producers": [p.to_json() for p in self.producers],
            "totals": [t.to_json() for t in self.totals],
            "rules": [r.to_json() for r in self.rules],
            "payouts": [p.to_json() for p in self.payouts],
            "balanced": self.balanced,
        }

    def to_json_bytes(self) -> bytes:
        """The canonical bytes of :meth:`to_json` (the journal's serialization)."""
        return journal.canonical_bytes(self.to_json())

    def digest(self) -> str:
        """SHA-256 of the canonical bytes: what a producer signs, and can recompute."""
        return hashlib.sha256(self.to_json_bytes()).hexdigest()

    def to_csv(self, locale: str = "es") -> str:
        """A spreadsheet of the rows, for ``locale``'s spreadsheet programs.

        Amounts are in major units with the currency's decimals and the locale's decimal
        mark, without thousands separators (so spreadsheets read them as numbers). Where the
        decimal mark is a comma the separator is ``;``. The text starts with a byte-order
        mark, so a spreadsheet opens it as UTF-8. Headers are in Spanish, Portuguese or
        English depending on ``locale``. Cooperative members follow their cooperative, then
        one TOTAL row per currency. Codes and names go through
        :func:`feria.csvsafe.text_cell`, so a name cannot run as a spreadsheet formula;
        amounts are written as they are and stay numbers.
        """
        mark = get_decimal_symbol(locale.replace("-", "_"))
        out = io.StringIO()
        out.write("\ufeff")
        writer = csv.writer(out, delimiter=";" if mark == "," else ",", lineterminator="\r\n")
        writer.writerow(_csv_header(locale))

        def amounts(*values: Money) -> list[str]:
            return [_plain_amount(v, mark) for v in values]

        for p in self.producers:
            writer.writerow(
                [text_cell(p.code), text_cell(p.name), "", p.currency]
                + amounts(p.gross, p.refunds, p.withheld, p.fees, p.net, p.paid, p.balance)
            )
            for m in p.members:
                writer.writerow(
                    [text_cell(p.code), text_cell(p.name), text_cell(m.name), p.currency]
                    + ["", "", "", ""]
                    + amounts(m.net, m.paid, m.balance)
                )
        for t in self.totals:
            writer.writerow(
                ["TOTAL", "", "", t.currency]
                + amounts(t.gross, t.refunds, t.withheld, t.fees, t.net, t.paid, t.balance)
            )
        return out.getvalue()

    def to_table(self, locale: str | None = None) -> str:
        """A text table for a terminal or a printout, amounts formatted for ``locale``
        (default: the fair's)."""
        loc = locale or self.fair.locale
        head = [
            "producer",
            "currency",
            "gross",
            "refunds",
            "withheld",
            "fees",
            "net",
            "paid",
            "balance",
        ]
        rows: list[list[str]] = []
        for p in self.producers:
            figures = (p.gross, p.refunds, p.withheld, p.fees, p.net, p.paid, p.balance)
            rows.append([f"{p.code} {p.name}", p.currency, *(m.format(loc) for m in figures)])
            for m in p.members:
                share = f"{m.share_bp / 100:g}%"
                rows.append(
                    [f"    {m.name} ({share})", p.currency, "", "", "", ""]
                    + [x.format(loc) for x in (m.net, m.paid, m.balance)]
                )
        for t in self.totals:
            figures = (t.gross, t.refunds, t.withheld, t.fees, t.net, t.paid, t.balance)
            rows.append(["TOTAL", t.currency, *(m.format(loc) for m in figures)])
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

        def line(cells: list[str]) -> str:
            first = cells[0].ljust(widths[0])
            rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
            return "  ".join([first, *rest]).rstrip()

        who = ""
        if self.producer_id is not None and self.producers:
            who = f" — {self.producers[0].code} {self.producers[0].name}"
        out = [
            f"Settlement of {self.fair.name} ({self.fair.slug}){who}",
            f"as of journal entry {self.as_of.seq} ({self.as_of.hash})",
            "",
            line(head),
            line(["-" * w for w in widths]),
        ]
        out += [line(r) for r in rows]
        out.append("")
        for t in self.totals:
            state = "balanced" if t.balanced else "NOT BALANCED"
            out.append(
                f"{t.currency}: collected {t.collected.format(loc)} = paid {t.paid.format(loc)}"
                f" + withheld {t.withheld.format(loc)} + fees {t.fees.format(loc)}"
                f" + balances {t.balance.format(loc)}: {state}"
            )
        if self.payouts:
            codes = {p.producer_id: p.code for p in self.producers}
            out.append("")
            out.append("payouts:")
            for p in self.payouts:
                ack = (
                    f"acknowledged {p.acknowledged_at:%Y-%m-%d %H:%M}"
                    if p.acknowledged_at
                    else "not acknowledged yet"
                )
                ref = f" {p.reference}" if p.reference else ""
                out.append(
                    f"  #{p.payout_id} {p.at:%Y-%m-%d %H:%M} {codes.get(p.producer_id, '?')} "
                    f"{p.amount.format(loc)} {p.method}{ref} (entry {p.seq}), {ack}"
                )
        if self.rules:
            out.append("")
            out.append("rules applied:")
            for r in self.rules:
                fees = ", ".join(
                    f"{m} {f.get('bp', 0) / 100:g}% + {f.get('fixed', 0)}"
                    for m, f in sorted(r.fees.items())
                )
                out.append(
                    f"  version {r.version} (from {r.effective_at:%Y-%m-%d %H:%M}): solidarity "
                    f"fund {r.solidarity_bp / 100:g}%" + (f"; fees {fees}" if fees else "")
                )
        out.append("")
        out.append(f"sha256 of this settlement's JSON: {self.digest()}")
        return "\n".join(out) + "\n"


_CSV_HEADERS = {
    "es": [
        "Código",
        "Productor",
        "Socio/a",
        "Moneda",
        "Ventas brutas",
        "Devoluciones",
        "Fondo solidario",
        "Comisiones",
        "Neto",
        "Pagado",
        "Saldo",
    ],
    "pt": [
        "Código",
        "Produtor",
        "Sócio/a",
        "Moeda",
        "Vendas brutas",
        "Devoluções",
        "Fundo solidário",
        "Taxas",
        "Líquido",
        "Pago",
        "Saldo",
    ],
    "en": [
        "Code",
        "Producer",
        "Member",
        "Currency",
        "Gross sales",
        "Refunds",
        "Solidarity fund",
        "Fees",
        "Net",
        "Paid",
        "Balance",
    ],
}


def _csv_header(locale: str) -> list[str]:
    language = locale.replace("-", "_").split("_")[0].lower()
    return _CSV_HEADERS.get(language, _CSV_HEADERS["en"])


def _plain_amount(money: Money, mark: str) -> str:
    return str(money.decimal).replace(".", mark)


# -- computing it ----------------------------------------------------------------------------


def _fair(db: Session, fair_id: int) -> Fair:
    fair = db.get(Fair, fair_id)
    if fair is None:
        raise FairNotFound(f"there is no fair {fair_id}", field="fair")
    return fair


def fair_by_slug(db: Session, slug: str) -> Fair:
    fair = db.scalar(select(Fair).where(Fair.slug == slug))
    if fair is None:
        raise FairNotFound(f"there is no fair {slug!r}", field="fair")
    return fair


def producer_by_code(db: Session, fair: Fair, code: str) -> Producer:
    """The producer of ``fair``'s network with ``code`` (as a cashier types it)."""
    producer = db.scalar(
        select(Producer).where(
            Producer.network_id == fair.network_id,
            func.upper(Producer.code) == (code or "").strip().upper(),
        )
    )
    if producer is None:
        raise UnknownProducer(f"no producer has code {code!r}", field="producer")
    return producer


def _as_of(db: Session, as_of: int | None) -> journal.Head:
    if as_of is None:
        return journal.head(db)
    digest = db.scalar(select(journal.JournalEntry.hash).where(journal.JournalEntry.seq == as_of))
    if digest is None:
        raise NotFound(f"there is no journal entry {as_of}", field="as_of")
    return journal.Head(as_of, digest)


def settle(db: Session, fair_id: int, *, as_of: int | None = None) -> Settlement:
    """The settlement of fair ``fair_id`` as of journal entry ``as_of`` (default: the head).

    Raises :class:`SettlementUnbalanced` if the figures of some currency do not add up to
    what its tenders collected.
    """
    fair = _fair(db, fair_id)
    head = _as_of(db, as_of)
    in_fair = (Sale.fair_id == fair_id, Sale.seq <= head.seq)

    # (producer, currency) -> [gross, refunds, withheld, fees, net]; and the rules used.
    # Few grouping keys, the sale/refund distinction inside the sums: SQLite sorts every
    # split to group them, and the narrower the sort the faster a million lines settle.
    is_sale = Sale.kind == "sale"
    figures: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    rules_of: dict[tuple[int, str], set[int]] = defaultdict(set)
    for pid, cur, rule_id, gross, refunds, withheld, fee, net in db.execute(
        select(
            Split.producer_id,
            Split.currency,
            Sale.rule_version_id,
            func.sum(case((is_sale, Split.gross), else_=0)),
            func.sum(case((is_sale, 0), else_=Split.gross)),
            func.sum(Split.withheld),
            func.sum(Split.fee),
            func.sum(Split.net),
        )
        .join(Sale, Sale.id == Split.sale_id)
        .where(*in_fair)
        .group_by(Split.producer_id, Split.currency, Sale.rule_version_id)
    ):
        row = figures[(pid, cur)]
        for i, value in enumerate((gross, refunds, withheld, fee, net)):
            row[i] += int(value)
        rules_of[(pid, cur)].add(rule_id)

    member_net: dict[tuple[int, str], dict[int, int]] = defaultdict(dict)
    for pid, mid, cur, amount in db.execute(
        select(
            MemberSplit.producer_id,
            MemberSplit.member_id,
            MemberSplit.currency,
            func.sum(MemberSplit.amount),
        )
        .join(Sale, Sale.id == MemberSplit.sale_id)
        .where(*in_fair)
        .group_by(MemberSplit.producer_id, MemberSplit.member_id, MemberSplit.currency)
    ):
        member_net[(pid, cur)][mid] = int(amount)

    collected = _collected(db, in_fair, sorted({cur for _, cur in figures} | {fair.currency}))

    payouts = [
        PayoutRecord(
            payout_id=p.id,
            producer_id=p.producer_id,
            amount=Money(int(p.amount), p.currency),
            method=p.method,
            reference=p.reference,
            at=p.at,
            seq=p.seq,
            acknowledged_at=p.acknowledged_at if _acked(p.ack_seq, head) else None,
            ack_seq=p.ack_seq if _acked(p.ack_seq, head) else None,
        )
        for p in db.execute(
            select(
                Payout.id,
                Payout.producer_id,
                Payout.currency,
                Payout.amount,
                Payout.method,
                Payout.reference,
                Payout.at,
                Payout.seq,
                Payout.acknowledged_at,
                Payout.ack_seq,
            )
            .where(Payout.fair_id == fair_id, Payout.seq <= head.seq)
            .order_by(Payout.id)
        )
    ]
    paid: dict[tuple[int, str], int] = defaultdict(int)
    for p in payouts:
        paid[(p.producer_id, p.amount.currency)] += p.amount.amount

    # Every participant appears, in the fair currency at least, so a producer who sold
    # nothing still sees a settlement of zero rather than no settlement.
    participants = set(
        db.scalars(select(Participation.producer_id).where(Participation.fair_id == fair_id))
    )
    keys = set(figures) | set(paid) | {(pid, fair.currency) for pid in participants}
    producer_ids = sorted({pid for pid, _ in keys})
    producers = {
        p.id: p
        for p in db.execute(
            select(Producer.id, Producer.code, Producer.name, Producer.kind).where(
                Producer.id.in_(producer_ids)
            )
        )
    }
    members_of: dict[int, list[tuple[int, str, int]]] = defaultdict(list)
    for pid, mid, name, share in db.execute(
        select(Member.producer_id, Member.id, Member.name, Member.share_bp)
        .where(Member.producer_id.in_(producer_ids))
        .order_by(Member.producer_id, Member.id)
    ):
        members_of[pid].append((mid, name, share))

    rows = []
    for pid, cur in keys:
        p = producers[pid]
        gross, refunds, withheld, fees, net = figures.get((pid, cur), [0, 0, 0, 0, 0])
        owed = Money(net, cur)
        payout = Money(paid.get((pid, cur), 0), cur)
        members = _member_figures(
            members_of.get(pid, []), member_net.get((pid, cur), {}), payout, p.kind
        )
        rows.append(
            ProducerSettlement(
                producer_id=pid,
                code=p.code,
                name=p.name,
                kind=p.kind,
                currency=cur,
                gross=Money(gross, cur),
                refunds=Money(refunds, cur),
                withheld=Money(withheld, cur),
                fees=Money(fees, cur),
                net=owed,
                paid=payout,
                balance=owed - payout,
                rule_ids=tuple(sorted(rules_of.get((pid, cur), ()))),
                members=members,
            )
        )
    rows.sort(key=lambda r: (r.code, r.currency, r.producer_id))

    used_rules = sorted({r for ids in rules_of.values() for r in ids})
    rules = tuple(
        AppliedRule(
            rule_id=r.id,
            version=r.version,
            effective_at=r.effective_at,
            solidarity_bp=r.solidarity_bp,
            fees=dict(r.fees or {}),
            rates=dict(r.rates or {}),
        )
        for r in db.scalars(
            select(RuleVersion)
            .where(RuleVersion.id.in_(used_rules))
            .order_by(RuleVersion.version, RuleVersion.id)
        )
    )
    settlement = Settlement(
        fair=SettledFair(fair.id, fair.slug, fair.name, fair.currency, fair.locale),
        as_of=head,
        producers=tuple(rows),
        totals=_totals(rows, collected),
        rules=rules,
        payouts=tuple(payouts),
    )
    settlement.check()
    return settlement


def _collected(db: Session, in_fair: tuple, codes: list[str]) -> dict[str, int]:
    """Σ tenders kept per currency. One pass with a sum per expected currency (no GROUP BY,
    so SQLite does not sort every tender); a tender in any other currency, which no split
    mentions, sends it to the plain GROUP BY so it is counted all the same."""
    sums = [func.coalesce(func.sum(case((Tender.currency == c, Tender.applied))), 0) for c in codes]
    others = func.count(case((Tender.currency.not_in(codes), 1)))
    *totals, unexpected = db.execute(
        select(*sums, others)
        .select_from(Tender)
        .join(Sale, Sale.id == Tender.sale_id)
        .where(*in_fair)
    ).one()
    if not unexpected:
        return {c: int(t) for c, t in zip(codes, totals, strict=True)}
    return {
        cur: int(total)
        for cur, total in db.execute(
            select(Tender.currency, func.sum(Tender.applied))
            .join(Sale, Sale.id == Tender.sale_id)
            .where(*in_fair)
            .group_by(Tender.currency)
        )
    }


def _acked(ack_seq: int | None, head: journal.Head) -> bool:
    return ack_seq is not None and ack_seq <= head.seq


def _member_figures(
    members: list[tuple[int, str, int]],
    net_by_member: dict[int, int],
    paid: Money,
    kind: str,
) -> tuple[MemberSettlement, ...]:
    """Each member's net (the sum of their parts, sale by sale) and their part of what was
    paid to the cooperative, allocated by the agreed shares so the parts sum exactly."""
    if kind != "cooperative" and not net_by_member:
        return ()
    known = {mid for mid, _, _ in members}
    # A member removed since still has their recorded parts: list them, with no share.
    everyone = members + [(mid, f"member {mid}", 0) for mid in sorted(set(net_by_member) - known)]
    if not everyone:
        return ()
    parts = allocate(paid.amount, [share for _, _, share in everyone])
    out = []
    for (mid, name, share), part in zip(everyone, parts, strict=True):
        net = Money(net_by_member.get(mid, 0), paid.currency)
        got = Money(part, paid.currency)
        out.append(MemberSettlement(mid, name, share, net, got, net - got))
    return tuple(out)


def _totals(
    rows: Iterable[ProducerSettlement], collected: dict[str, int] | None
) -> tuple[CurrencyTotals, ...]:
    """Totals per currency; ``collected`` from the tenders, or (for a producer's view) the
    rows' own gross + refunds."""
    sums: dict[str, list[int]] = defaultdict(lambda: [0] * 7)
    for r in rows:
        s = sums[r.currency]
        for i, m in enumerate((r.gross, r.refunds, r.withheld, r.fees, r.net, r.paid, r.balance)):
            s[i] += m.amount
    codes = set(sums) | set(collected or {})
    out = []
    for cur in sorted(codes):
        g, rf, w, fe, n, pd, b = sums.get(cur, [0] * 7)
        got = collected.get(cur, 0) if collected is not None else g + rf
        m = [Money(x, cur) for x in (g, rf, w, fe, n, pd, b, got)]
        out.append(CurrencyTotals(cur, *m))
    return tuple(out)


# -- payouts ---------------------------------------------------------------------------------


def payout_row_from_body(body: dict[str, Any], seq: int, at: dt.datetime) -> dict[str, Any]:
    """The ``payouts`` row a ``payout`` entry records (shared with ``feria verify``)."""
    return {
        "id": body["payout"],
        "fair_id": body["fair"],
        "producer_id": body["producer"],
        "currency": body["currency"],
        "amount": body["amount"],
        "method": body["method"],
        "reference": body["reference"],
        "user_id": body["user"],
        "at": at,
        "seq": seq,
        "note": body["note"],
    }


def payout_ack_values(body: dict[str, Any], seq: int, at: dt.datetime) -> dict[str, Any]:
    """The acknowledgement columns a ``payout_ack`` entry fills (shared with verify)."""
    return {"acknowledged_at": at, "acknowledged_by": body["user"], "ack_seq": seq}


def balance_owed(db: Session, fair_id: int, producer_id: int, code: str) -> Money:
    """What the fair still owes the producer in ``code``: Σ net of its splits − Σ payouts."""
    net = db.scalar(
        select(func.coalesce(func.sum(Split.net), 0))
        .join(Sale, Sale.id == Split.sale_id)
        .where(Sale.fair_id == fair_id, Split.producer_id == producer_id, Split.currency == code)
    )
    paid = db.scalar(
        select(func.coalesce(func.sum(Payout.amount), 0)).where(
            Payout.fair_id == fair_id, Payout.producer_id == producer_id, Payout.currency == code
        )
    )
    return Money(int(net) - int(paid), code)


def _text(value: str | None, name: str, max_len: int, *, required: bool = False) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InvalidPayout(f"{name}: expected a value", field=name)
    if len(text) > max_len:
        raise InvalidPayout(f"{name}: expected at most {max_len} characters", field=name)
    return text


def record_payout(
    engine: Engine,
    *,
    fair_id: int,
    producer_id: int,
    currency: str,
    amount: int,
    method: str,
    reference: str,
    user_id: int,
    note: str = "",
    now: dt.datetime | None = None,
) -> Payout:
    """Record that ``amount`` minor units of ``currency`` were handed to a producer of the
    fair, against their balance. Only an organizer pays out, and never more than the
    balance owed in that currency (checked under the journal lock, so two payouts recorded
    at once cannot both spend the same balance)."""
    code = currency  # the parameter's name is the API's; the module function is currency_of
    if type(amount) is not int or amount <= 0:
        raise InvalidPayout("amount: expected more than zero minor units", field="amount")
    try:
        currency_of(code)
    except MoneyError as exc:
        raise InvalidPayout(str(exc), field="currency") from exc
    method = _text(method, "method", 32, required=True)
    reference = _text(reference, "reference", 200)
    note = (note or "").strip()
    now = now or utcnow()
    with write_session(engine) as db:
        fair = _fair(db, fair_id)
        producer = db.get(Producer, producer_id)
        if producer is None or producer.network_id != fair.network_id:
            raise UnknownProducer(f"there is no producer {producer_id}", field="producer")
        joined = db.scalar(
            select(Participation.id).where(
                Participation.fair_id == fair.id, Participation.producer_id == producer.id
            )
        )
        if joined is None:
            raise UnknownProducer(
                f"producer {producer.code} ({producer.name}) does not take part in {fair.name}",
                field="producer",
            )
        user = db.get(User, user_id)
        if user is None or not user.active or user.role != "organizer":
            raise NotAllowed("only an organizer can record a payout", field="user")
        locked = journal.lock_head(db)
        owed = balance_owed(db, fair.id, producer.id, code)
        asked = Money(amount, code)
        if asked > owed:
            what = (
                f"is owed {owed.format(fair.locale)}"
                if owed.amount > 0
                else f"is owed nothing (balance {owed.format(fair.locale)})"
            )
            raise PayoutExceedsBalance(
                f"{producer.code} ({producer.name}) {what} in {code} at {fair.name}; a payout "
                f"of {asked.format(fair.locale)} is more than that",
                field="amount",
                balance=owed.amount,
                currency=code,
            )
        payout_id = (db.scalar(select(func.max(Payout.id))) or 0) + 1
        body = {
            "payout": payout_id,
            "fair": fair.id,
            "producer": producer.id,
            "currency": code,
            "amount": amount,
            "method": method,
            "reference": reference,
            "user": user.id,
            "note": note,
        }
        appended = journal.append(db, "payout", body, fair_id=fair.id, at=now, locked=locked)
        db.connection().execute(
            insert(Payout).values(payout_row_from_body(body, appended.seq, now))
        )
        return db.get(Payout, payout_id)


def acknowledge_payout(
    engine: Engine, *, payout_id: int, user_id: int, now: dt.datetime | None = None
) -> Payout:
    """The producer confirms a payout reached them. Only a user of that producer may, and
    only once: the acknowledgement is a journal entry and the row is frozen after it."""
    now = now or utcnow()
    with write_session(engine) as db:
        locked = journal.lock_head(db)  # taken first: two acknowledgements cannot interleave
        payout = db.get(Payout, payout_id)
        if payout is None:
            raise PayoutNotFound(f"there is no payout {payout_id}", field="payout")
        user = db.get(User, user_id)
        if (
            user is None
            or not user.active
            or user.role != "producer"
            or user.producer_id != payout.producer_id
        ):
            raise NotAllowed(
                f"only a user of the producer that received payout {payout_id} can acknowledge it",
                field="user",
            )
        if payout.ack_seq is not None:
            raise PayoutAlreadyAcknowledged(
                f"payout {payout_id} was already acknowledged on "
                f"{payout.acknowledged_at:%Y-%m-%d %H:%M} (journal entry {payout.ack_seq})",
                field="payout",
            )
        body = {
            "payout": payout.id,
            "fair": payout.fair_id,
            "producer": payout.producer_id,
            "user": user.id,
        }
        appended = journal.append(
            db, "payout_ack", body, fair_id=payout.fair_id, at=now, locked=locked
        )
        done = db.connection().execute(
            update(Payout)
            .where(Payout.id == payout.id, Payout.ack_seq.is_(None))
            .values(payout_ack_values(body, appended.seq, now))
        )
        if done.rowcount != 1:  # the lock makes this unreachable; never write twice
            raise PayoutAlreadyAcknowledged(
                f"payout {payout_id} was already acknowledged", field="payout"
            )
        db.refresh(payout)
        return payout
