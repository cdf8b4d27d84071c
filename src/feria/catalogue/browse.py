"""The network's catalogue as shoppers browse it: a page of products at a time, filtered by
producer, category, fair, certification label or a search, each product with who made it
and the labels it carries today.

A network may list tens of thousands of products, so a page costs a fixed number of
queries whatever its size: one count, one page (over ``ix_products_active_sort_name``), and the
labels of *that page's* products only, asked of the certification plugins once per label
scheme (``feria_products_with_label``), never once per product.

Labels come only from the certification hooks, which answer only with labels valid on the
day asked: an expired or revoked label disappears from the shop at once.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal

import pluggy
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from feria import labels as labelling
from feria.catalogue.models import Fair, Participation, Producer, Product, name_sort_key
from feria.labels import Badge, Label
from feria.money import Money

PAGE_SIZE = 24
MAX_PAGE_SIZE = 100
MAX_QUERY = 100


@dataclass(frozen=True, slots=True)
class Browse:
    """What a shopper asked to see. Empty strings mean "any"."""

    q: str = ""
    producer: str = ""
    """A producer's code."""
    category: str = ""
    label: str = ""
    """A label scheme's code, as the certification plugins name it."""
    fair: str = ""
    """A fair's slug: only producers who sell there."""
    page: int = 1
    per_page: int = PAGE_SIZE

    def without(self, **changes) -> dict[str, str]:
        """The query parameters of this browse with ``changes``, for links (page 1 unless
        the page is what changes)."""
        params = {
            "q": self.q,
            "producer": self.producer,
            "category": self.category,
            "label": self.label,
            "fair": self.fair,
            "page": "",
        }
        params.update({k: "" if v is None else str(v) for k, v in changes.items()})
        return {k: v for k, v in params.items() if v and not (k == "page" and v == "1")}

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.producer or self.category or self.label or self.fair)


@dataclass(frozen=True, slots=True)
class LabelMark:
    """A label a product carries today, as the listing shows it."""

    code: str
    name: str


@dataclass(frozen=True, slots=True)
class ProductCard:
    """One product as a page lists it, with who made it."""

    id: int
    name: str
    description: str
    category: str
    unit: str
    price: Money
    image: str
    stock: str | None
    producer_id: int
    producer_code: str
    producer_name: str
    producer_place: str
    labels: tuple[LabelMark, ...] = ()

    @property
    def sold_out(self) -> bool:
        return self.stock is not None and Decimal(self.stock) <= 0


@dataclass(slots=True)
class CataloguePage:
    products: list[ProductCard]
    browse: Browse
    total: int
    page: int
    pages: int
    labels: list[LabelMark] = field(default_factory=list)
    """The label filters on offer (only labels someone holds today)."""


@dataclass(slots=True)
class ProducerView:
    producer: Producer
    labels: list[Label]
    products: CataloguePage
    fairs: list[Fair]


@dataclass(slots=True)
class ProductView:
    product: ProductCard
    producer: Producer
    labels: list[Label]
    badges: list[Badge]
    fairs: list[Fair]


# -- the queries ------------------------------------------------------------------------------


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filtered(network_id: int, b: Browse, columns) -> Select:
    stmt = (
        select(*columns)
        .select_from(Product)
        .join(Producer, Producer.id == Product.producer_id)
        .where(
            Product.active.is_(True),
            Producer.active.is_(True),
            Producer.network_id == network_id,
        )
    )
    if b.producer:
        stmt = stmt.where(Producer.code == b.producer.strip().upper())
    if b.category:
        stmt = stmt.where(Product.category == b.category)
    if b.fair:
        stmt = stmt.where(
            Product.producer_id.in_(
                select(Participation.producer_id)
                .join(Fair, Fair.id == Participation.fair_id)
                .where(Fair.slug == b.fair, Fair.network_id == network_id)
            )
        )
    if b.q:
        pattern = _like(b.q[:MAX_QUERY])
        stmt = stmt.where(
            or_(
                func.lower(Product.name).like(pattern, escape="\\"),
                func.lower(Product.category).like(pattern, escape="\\"),
                func.lower(Producer.name).like(pattern, escape="\\"),
            )
        )
    return stmt


_CARD_COLUMNS = (
    Product.id,
    Product.name,
    Product.description,
    Product.category,
    Product.unit,
    Product.price,
    Product.currency,
    Product.image,
    Product.stock,
    Product.producer_id,
    Producer.code.label("producer_code"),
    Producer.name.label("producer_name"),
    Producer.place.label("producer_place"),
)


def _by_ids(db: Session, network_id: int, ids: list[int]) -> list:
    """The cards' rows of ``ids``, in that order, leaving out what is no longer for sale.

    Looked up by primary key alone and checked here: with the other tests in SQL, SQLite
    starts from the name index or from the network's producers and reads every product to
    find these few."""
    if not ids:
        return []
    found = {
        r.id: r
        for r in db.execute(
            select(
                *_CARD_COLUMNS,
                Product.active,
                Producer.active.label("producer_active"),
                Producer.network_id,
            )
            .join(Producer, Producer.id == Product.producer_id)
            .where(Product.id.in_(ids))
        )
        if r.active and r.producer_active and r.network_id == network_id
    }
    return [found[pid] for pid in ids if pid in found]


def _card(row, labels: tuple[LabelMark, ...] = ()) -> ProductCard:
    return ProductCard(
        id=row.id,
        name=row.name,
        description=row.description,
        category=row.category,
        unit=row.unit,
        price=Money(row.price, row.currency),
        image=row.image,
        stock=row.stock,
        producer_id=row.producer_id,
        producer_code=row.producer_code,
        producer_name=row.producer_name,
        producer_place=row.producer_place,
        labels=labels,
    )


def label_filters(db: Session, pm: pluggy.PluginManager, fair: Fair | None) -> list[LabelMark]:
    """The labels shoppers can filter by: those the plugins say someone holds today."""
    if fair is None:
        return []
    seen: dict[str, str] = {}
    for answer in pm.hook.feria_label_filters(fair=fair, db=db):
        for code, name in answer or ():
            seen.setdefault(code, name)
    return [LabelMark(code, name) for code, name in sorted(seen.items(), key=lambda i: i[1])]


def labels_of(
    db: Session,
    pm: pluggy.PluginManager,
    schemes: list[LabelMark],
    product_ids: list[int],
    on: dt.date,
) -> dict[int, tuple[LabelMark, ...]]:
    """Which of ``schemes`` each of ``product_ids`` carries on ``on``: one question to the
    plugins per scheme, for these products only."""
    marks: dict[int, list[LabelMark]] = {pid: [] for pid in product_ids}
    if not product_ids:
        return {}
    for scheme in schemes:
        holding = pm.hook.feria_products_with_label(
            code=scheme.code, product_ids=product_ids, on=on, db=db
        )
        for pid in holding or ():
            if pid in marks:
                marks[pid].append(scheme)
    return {pid: tuple(found) for pid, found in marks.items()}


def label_day(fair: Fair | None) -> dt.date:
    """The day labels must be valid on to be shown now: today where ``fair`` is (see
    :func:`feria.labels.today`), the server's date without a fair."""
    return labelling.today(fair.timezone if fair is not None else None)


def ordered_ids(db: Session, network_id: int, b: Browse) -> list[int]:
    """The ids of every product matching ``b`` (label and page aside), in catalogue order.

    Ids only, over the name index: what a caller may keep for a few seconds so that any
    page is a slice of it, instead of an ``OFFSET`` that walks every earlier product."""
    return list(db.scalars(_filtered(network_id, b, [Product.id]).order_by(*_ORDER)))


# By each name's stored sort key (accents and case aside: Bálsamo before Bufanda), the same on
# SQLite and PostgreSQL; see feria.catalogue.models.name_sort_key.
_ORDER = (Product.sort_name, Product.id)


def browse(
    db: Session,
    pm: pluggy.PluginManager,
    network_id: int,
    b: Browse,
    *,
    fair: Fair | None = None,
    on: dt.date | None = None,
    ids: list[int] | None = None,
    schemes: list[LabelMark] | None = None,
) -> CataloguePage:
    """One page of the network's catalogue as ``b`` asks, ordered by name.

    ``fair`` is the fair whose label filters are offered (the running or next one). A
    caller that keeps :func:`ordered_ids` for ``b`` passes them as ``ids``, and which label
    filters are on offer as ``schemes``; they are not asked again. The products of the page
    are always read fresh (a product withdrawn a second ago is not shown).
    """
    on = on or label_day(fair)
    per_page = max(1, min(b.per_page, MAX_PAGE_SIZE))
    schemes = label_filters(db, pm, fair) if schemes is None else schemes
    if b.label:
        # Which products carry a label is the plugins' to say: ask about every product the
        # other filters leave (ids only), then page over the answer.
        ids = ordered_ids(db, network_id, b) if ids is None else ids
        holding = pm.hook.feria_products_with_label(code=b.label, product_ids=ids, on=on, db=db)
        holding = set(holding or ())
        ids = [pid for pid in ids if pid in holding]
    if ids is not None:
        total = len(ids)
        pages = max(1, math.ceil(total / per_page))
        page = min(max(1, b.page), pages)
        wanted = ids[(page - 1) * per_page : page * per_page]
        rows = _by_ids(db, network_id, wanted)
    else:
        total = count(db, network_id, b)
        pages = max(1, math.ceil(total / per_page))
        page = min(max(1, b.page), pages)
        rows = db.execute(
            _filtered(network_id, b, _CARD_COLUMNS)
            .order_by(*_ORDER)
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).all()
    marks = labels_of(db, pm, schemes, [r.id for r in rows], on)
    return CataloguePage(
        products=[_card(r, marks.get(r.id, ())) for r in rows],
        browse=b,
        total=total,
        page=page,
        pages=pages,
        labels=schemes,
    )


def count(db: Session, network_id: int, b: Browse) -> int:
    """How many products match ``b`` (its label aside)."""
    return db.scalar(_filtered(network_id, b, [func.count()])) or 0


def categories(db: Session, network_id: int) -> list[str]:
    """The categories of the network's active products, for the category filter."""
    return list(
        db.scalars(
            select(Product.category)
            .join(Producer, Producer.id == Product.producer_id)
            .where(
                Product.active.is_(True),
                Product.category != "",
                Producer.network_id == network_id,
                Producer.active.is_(True),
            )
            .group_by(Product.category)
            .order_by(Product.category)
        )
    )


def producer_choices(db: Session, network_id: int) -> list[tuple[str, str]]:
    """``(code, name)`` of the network's active producers, by name, for the filter."""
    rows = db.execute(
        select(Producer.code, Producer.name)
        .where(Producer.network_id == network_id, Producer.active.is_(True))
        .order_by(Producer.name, Producer.id)
    ).all()
    # A network has hundreds of producers, not thousands: sorted here, as products are.
    return sorted(((code, name) for code, name in rows), key=lambda r: name_sort_key(r[1]))


def producers(db: Session, network_id: int) -> list[Producer]:
    """The network's active producers, by name (accents and case aside)."""
    found = db.scalars(
        select(Producer)
        .where(Producer.network_id == network_id, Producer.active.is_(True))
        .order_by(Producer.name, Producer.id)
    )
    return sorted(found, key=lambda p: name_sort_key(p.name))


def fairs_of(db: Session, producer_id: int) -> list[Fair]:
    return list(
        db.scalars(
            select(Fair)
            .join(Participation, Participation.fair_id == Fair.id)
            .where(Participation.producer_id == producer_id)
            .order_by(Fair.starts_on.desc(), Fair.id.desc())
        )
    )


def _labels(pm: pluggy.PluginManager, db: Session, on: dt.date, **about) -> list[Label]:
    found = []
    for answer in pm.hook.feria_labels(
        producer=about.get("producer"), product=about.get("product"), on=on, db=db
    ):
        found.extend(answer or ())
    return found


def producer_view(
    db: Session,
    pm: pluggy.PluginManager,
    network_id: int,
    code: str,
    *,
    page: int = 1,
    fair: Fair | None = None,
    on: dt.date | None = None,
) -> ProducerView | None:
    """A producer's page: story, place, the labels they hold with who granted them and until
    when, the fairs they sell at and a page of their products."""
    on = on or label_day(fair)
    producer = db.scalar(
        select(Producer).where(
            Producer.network_id == network_id,
            Producer.code == code.strip().upper(),
            Producer.active.is_(True),
        )
    )
    if producer is None:
        return None
    return ProducerView(
        producer=producer,
        labels=_labels(pm, db, on, producer=producer),
        products=browse(
            db, pm, network_id, Browse(producer=producer.code, page=page), fair=fair, on=on
        ),
        fairs=fairs_of(db, producer.id),
    )


def product_view(
    db: Session,
    pm: pluggy.PluginManager,
    network_id: int,
    product_id: int,
    *,
    fair: Fair | None = None,
    on: dt.date | None = None,
) -> ProductView | None:
    """A product's page: what it is, who made it, and its labels and badges today (where
    ``fair`` is, when given)."""
    on = on or label_day(fair)
    row = db.execute(
        _filtered(network_id, Browse(), _CARD_COLUMNS).where(Product.id == product_id)
    ).first()
    if row is None:
        return None
    product = db.get(Product, product_id)
    producer = db.get(Producer, row.producer_id)
    badges: list[Badge] = []
    for answer in pm.hook.feria_product_badges(product=product, on=on, db=db):
        badges.extend(answer or ())
    labels = _labels(pm, db, on, producer=producer, product=product)
    marks = tuple(LabelMark(lb.scheme, lb.name) for lb in labels)
    return ProductView(
        product=_card(row, marks),
        producer=producer,
        labels=labels,
        badges=badges,
        fairs=fairs_of(db, producer.id),
    )


def cart_products(db: Session, network_id: int, ids: list[int]) -> dict[int, ProductCard]:
    """The cards of the products in a cart (gone ones are left out)."""
    if not ids:
        return {}
    return {r.id: _card(r) for r in _by_ids(db, network_id, ids)}


def upcoming_fairs(db: Session, network_id: int, on: dt.date | None = None) -> list[Fair]:
    """The network's fairs that are running or still to come, soonest first."""
    on = on or dt.date.today()
    return list(
        db.scalars(
            select(Fair)
            .where(Fair.network_id == network_id, Fair.ends_on >= on)
            .order_by(Fair.starts_on, Fair.id)
        )
    )


def producer_names(db: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.execute(select(Producer.id, Producer.name).where(Producer.id.in_(ids))).all())
