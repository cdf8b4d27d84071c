"""Reading the registry: which labels are valid on a day (for the storefront, the till and
receipts, one product or a page of them at once), which products carry a label (for the
storefront's filter), and every label's history (for the public registry page).

Every answer is read from the database in the caller's session, with the rows refreshed,
so nothing outlives the request that asked: a label revoked a second ago is already gone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.strategy_options import Load

from feria.catalogue.models import Network, Producer, Product
from feria.labels import Badge, Label
from feria_pgs.models import Application, Decision, Holding, Scheme, Visit
from feria_pgs.status import status_on

PREFIX = "/-/plugins/pgs"


def registry_url(holding_id: int) -> str:
    return f"{PREFIX}/registry/{holding_id}"


def _holdings(db: Session, *where, also: Sequence[Load] = ()) -> list[Holding]:
    query = (
        select(Holding)
        .where(*where)
        .options(
            selectinload(Holding.scheme),
            selectinload(Holding.products),
            selectinload(Holding.changes),
            selectinload(Holding.decision),
            *also,
        )
        .order_by(Holding.id)
        # A long-lived session must still see a suspension recorded since it last looked.
        .execution_options(populate_existing=True)
    )
    return list(db.scalars(query))


def _valid(db: Session, on: dt.date, *where) -> list[Holding]:
    candidates = _holdings(db, Holding.valid_from <= on, Holding.valid_until >= on, *where)
    return [h for h in candidates if status_on(h, h.changes, on) == "valid"]


def _one_per_scheme(holdings: Iterable[Holding]) -> list[Holding]:
    # A renewal may overlap the grant it renews: show the label once, with the later end.
    best: dict[int, Holding] = {}
    for h in holdings:
        if h.scheme_id not in best or h.valid_until > best[h.scheme_id].valid_until:
            best[h.scheme_id] = h
    return sorted(best.values(), key=lambda h: (h.scheme.name, h.id))


def valid_holdings(
    db: Session, *, producer_id: int, product_id: int | None = None, on: dt.date
) -> list[Holding]:
    """The labels valid on ``on`` for the producer as a whole or, with ``product_id``, for
    that product (its own grants and its producer's)."""
    found = _valid(db, on, Holding.producer_id == producer_id)
    if product_id is None:
        found = [h for h in found if not h.products]
    else:
        found = [h for h in found if not h.products or product_id in {p.id for p in h.products}]
    return _one_per_scheme(found)


def all_valid_holdings(db: Session, producer_id: int, on: dt.date) -> list[Holding]:
    """Every label of the producer valid on ``on``, whole-producer and product grants."""
    found = _valid(db, on, Holding.producer_id == producer_id)
    return sorted(found, key=lambda h: (bool(h.products), h.scheme.name, h.id))


def as_label(holding: Holding) -> Label:
    return Label(
        scheme=holding.scheme.code,
        name=holding.scheme.name,
        granted_by=holding.decision.committee,
        valid_until=holding.valid_until,
        url=registry_url(holding.id),
        logo_url=holding.scheme.logo,
    )


def as_badge(holding: Holding) -> Badge:
    return Badge(
        text=holding.scheme.name,
        title=f"{holding.decision.committee}, {holding.valid_until.isoformat()}",
        url=registry_url(holding.id),
        css_class=f"label label-{holding.scheme.code}",
    )


def labels(
    db: Session, producer: Producer | None, product: Product | None, on: dt.date
) -> list[Label]:
    if product is not None:
        found = valid_holdings(db, producer_id=product.producer_id, product_id=product.id, on=on)
    elif producer is not None:
        found = valid_holdings(db, producer_id=producer.id, on=on)
    else:
        return []
    return [as_label(h) for h in found]


def labels_of_products(
    db: Session, products: Iterable[Product], on: dt.date
) -> dict[int, list[Label]]:
    """What :func:`labels` answers for each of ``products``, by product id, read at once:
    the valid labels of all their producers in one query (and one per related table),
    however many products the till's search or a receipt asks about."""
    owners = {p.id: p.producer_id for p in products}
    if not owners:
        return {}
    found = _valid(db, on, Holding.producer_id.in_(set(owners.values())))
    by_producer: dict[int, list[Holding]] = {}
    for h in found:
        by_producer.setdefault(h.producer_id, []).append(h)
    out: dict[int, list[Label]] = {}
    for product_id, producer_id in owners.items():
        mine = [
            h
            for h in by_producer.get(producer_id, ())
            if not h.products or product_id in {p.id for p in h.products}
        ]
        out[product_id] = [as_label(h) for h in _one_per_scheme(mine)]
    return out


def products_with_label(
    db: Session, code: str, product_ids: Iterable[int], on: dt.date
) -> set[int] | None:
    """Of ``product_ids``, those carrying scheme ``code`` on ``on``; ``None`` if no network
    has a scheme with that code (another plugin may know it)."""
    scheme_ids = list(db.scalars(select(Scheme.id).where(Scheme.code == code)))
    if not scheme_ids:
        return None
    ids = list(dict.fromkeys(product_ids))
    if not ids:
        return set()
    owners = {
        pid: owner
        for pid, owner in db.execute(
            select(Product.id, Product.producer_id).where(Product.id.in_(ids))
        )
    }
    found = _valid(
        db,
        on,
        Holding.scheme_id.in_(scheme_ids),
        Holding.producer_id.in_(set(owners.values())),
    )
    whole = {h.producer_id for h in found if not h.products}
    some = {p.id for h in found for p in h.products}
    return {pid for pid, owner in owners.items() if owner in whole or pid in some}


def label_filters(db: Session, network_id: int, on: dt.date) -> list[tuple[str, str]]:
    """``(code, name)`` of the network's schemes that someone holds on ``on``."""
    held = _valid(
        db, on, Holding.scheme_id.in_(select(Scheme.id).where(Scheme.network_id == network_id))
    )
    schemes = {h.scheme.code: h.scheme.name for h in held}
    return sorted(schemes.items(), key=lambda item: item[1])


# -- the public registry -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One granted label as the registry lists it, with where it stands today."""

    holding: Holding
    status: str

    @property
    def visit(self) -> Visit | None:
        return self.holding.decision.visit


def registry(
    db: Session,
    on: dt.date,
    *,
    producer_code: str | None = None,
    network_slug: str | None = None,
) -> list[Entry]:
    """Every label ever granted (of one producer, when asked), valid ones first."""
    where = []
    if producer_code or network_slug:
        producers = select(Producer.id)
        if producer_code:
            producers = producers.where(Producer.code == producer_code.strip().upper())
        if network_slug:
            network = select(Network.id).where(Network.slug == network_slug)
            producers = producers.where(Producer.network_id.in_(network))
        where.append(Holding.producer_id.in_(producers))
    also = (selectinload(Holding.producer), selectinload(Holding.decision, Decision.visit))
    entries = [Entry(h, status_on(h, h.changes, on)) for h in _holdings(db, *where, also=also)]
    return sorted(
        entries,
        key=lambda e: (
            e.status != "valid",
            e.holding.scheme.name,
            e.holding.producer.name,
            -e.holding.id,
        ),
    )


@dataclass(frozen=True, slots=True)
class History:
    """Everything recorded about one label, from the application to today."""

    holding: Holding
    status: str
    application: Application
    visits: Sequence[Visit]
    decision: Decision


def history(db: Session, holding_id: int, on: dt.date) -> History | None:
    also = (selectinload(Holding.producer), selectinload(Holding.decision, Decision.members))
    holding = next(iter(_holdings(db, Holding.id == holding_id, also=also)), None)
    if holding is None:
        return None
    application = db.get(Application, holding.decision.application_id)
    visits = db.scalars(
        select(Visit)
        .where(Visit.application_id == application.id)
        .options(selectinload(Visit.visitors))
        .order_by(Visit.visited_on, Visit.id)
    ).all()
    return History(
        holding=holding,
        status=status_on(holding, holding.changes, on),
        application=application,
        visits=visits,
        decision=holding.decision,
    )
