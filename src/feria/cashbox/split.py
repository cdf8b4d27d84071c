"""How one sale's money is divided among its producers. Pure functions, no database, so
the rule can be read, tested and re-computed by anyone checking a receipt.

For every tender (what it kept after change, in its own currency):

1. its amount is allocated among the sale's producers in proportion to their line totals
   (largest remainder, :func:`feria.money.allocate`), giving each producer's *gross*;
2. the solidarity fund withholds ``solidarity_bp`` basis points of each gross, rounded
   half away from zero;
3. the tender's fee (the provider's stated fee, or the fair rule's) is allocated among the
   producers by the same weights;
4. *net* = gross − withheld − fee.

So, per sale and currency, Σ net + Σ withheld + Σ fee = Σ tenders kept, exactly.
A cooperative's net is then divided among its members by their agreed shares.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from feria.money import allocate

BP_WHOLE = 10_000


def basis_points(amount: int, bp: int) -> int:
    """``amount × bp / 10000`` rounded half away from zero (symmetric for refunds)."""
    sign = -1 if amount < 0 else 1
    return sign * ((abs(amount) * bp + BP_WHOLE // 2) // BP_WHOLE)


@dataclass(frozen=True, slots=True)
class TenderShare:
    tender_no: int
    currency: str
    applied: int
    fee: int


@dataclass(frozen=True, slots=True)
class SplitRow:
    tender_no: int
    producer_id: int
    currency: str
    gross: int
    withheld: int
    fee: int
    net: int


def split_sale(
    weights: Mapping[int, int], tenders: Sequence[TenderShare], solidarity_bp: int
) -> list[SplitRow]:
    """Split every tender among producers weighted by ``weights`` (producer id → line total).

    Producers are taken in ascending id order, so the same sale always splits the same way.
    A producer whose part of a tender is zero in every column gets no row.
    """
    producers = sorted(weights)
    w = [weights[p] for p in producers]
    rows: list[SplitRow] = []
    for t in tenders:
        grosses = allocate(t.applied, w)
        fees = allocate(t.fee, w) if t.fee else [0] * len(w)
        for pid, gross, fee in zip(producers, grosses, fees, strict=True):
            if gross == 0 and fee == 0:
                continue
            withheld = basis_points(gross, solidarity_bp)
            rows.append(
                SplitRow(t.tender_no, pid, t.currency, gross, withheld, fee, gross - withheld - fee)
            )
    return rows


def split_members(
    net_by_producer_currency: Mapping[tuple[int, str], int],
    shares: Mapping[int, Sequence[tuple[int, int]]],
) -> list[tuple[int, int, str, int]]:
    """Divide each cooperative's net (per currency) among its members by share.

    ``shares`` maps a cooperative's producer id to ``(member id, share in bp)`` pairs.
    Returns ``(producer id, member id, currency, amount)`` rows.
    """
    rows = []
    for (pid, cur), net in sorted(net_by_producer_currency.items()):
        members = shares.get(pid)
        if not members or net == 0:
            continue
        parts = allocate(net, [s for _, s in members])
        rows.extend((pid, mid, cur, amt) for (mid, _), amt in zip(members, parts, strict=True))
    return rows
