"""Participatory certification labels, as plugins report them to the core, and how the core
reads them for many products at once (the till's search, receipts).

Labels are never stored by the core nor kept between requests: each answer comes from the
plugins on the day asked (:func:`today`, in the fair's timezone), so a label that expires or
is revoked disappears from the shop, the till and the next receipt at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pluggy
from sqlalchemy import select
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from feria.catalogue.models import Product


@dataclass(frozen=True, slots=True)
class Label:
    """A label held right now by a producer or a product.

    ``url`` leads to the public registry page that says who granted it, after which visit,
    and until when; ``valid_until`` is shown to shoppers beside the label.
    """

    scheme: str
    name: str
    granted_by: str
    valid_until: dt.date | None
    url: str = ""
    logo_url: str = ""


@dataclass(frozen=True, slots=True)
class Badge:
    """A short mark shown beside a product in the storefront and the till's search."""

    text: str
    title: str = ""
    url: str = ""
    css_class: str = ""


@dataclass(frozen=True, slots=True)
class ProductField:
    """An extra field a plugin adds to products (stored in the product's ``extra`` data)."""

    name: str
    label: str
    help: str = ""


# -- reading labels for many products at once -----------------------------------------------

clock: Callable[[dt.tzinfo | None], dt.datetime] = dt.datetime.now
"""The clock labels are valid against (``datetime.now``). Every place that shows labels
asks :func:`today`, so a test that moves this clock sees a label expire everywhere."""


def today(timezone: str | None = None) -> dt.date:
    """The day a label must be valid on to be shown now: today where the fair is.

    A fair in Santiago at 22:00 on the 31st is already on the 1st in UTC; a label that ends
    on the 31st is still shown there until midnight. Without a (known) ``timezone``, the
    server's own date."""
    zone: dt.tzinfo | None = None
    if timezone:
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            zone = None
    return clock(zone).date()


def labels_of_products(
    pm: pluggy.PluginManager, db: Session, products: Sequence[Product], on: dt.date
) -> dict[int, list[Label]]:
    """The labels shown beside each of ``products`` on ``on``, by product id.

    One question for the whole list to the plugins that implement the batch hook
    ``feria_labels_of_products``; a plugin written before it (``feria_labels`` only) is
    asked once per product, so it keeps working, only slower. Nothing is kept between
    calls: an expired or revoked label is gone from the next answer.
    """
    out: dict[int, list[Label]] = {p.id: [] for p in products}
    if not out:
        return out
    batch = pm.hook.feria_labels_of_products
    answered = [impl.plugin for impl in batch.get_hookimpls()]
    for answer in batch(products=list(products), on=on, db=db):
        for product_id, found in (answer or {}).items():
            if product_id in out:
                out[product_id].extend(found or ())
    single = pm.subset_hook_caller("feria_labels", remove_plugins=answered)
    if single.get_hookimpls():
        from feria.catalogue.models import Producer

        for product in products:
            producer = db.get(Producer, product.producer_id)
            for answer in single(producer=producer, product=product, on=on, db=db):
                out[product.id].extend(answer or ())
    return out


def labels_of_product_ids(
    pm: pluggy.PluginManager, db: Session, product_ids: Iterable[int], on: dt.date
) -> dict[int, list[Label]]:
    """:func:`labels_of_products` for ids (unknown ids are left out): one query for the
    products, then one question to the plugins."""
    from feria.catalogue.models import Product

    ids = list(dict.fromkeys(product_ids))
    if not ids:
        return {}
    products = list(db.scalars(select(Product).where(Product.id.in_(ids)).order_by(Product.id)))
    return labels_of_products(pm, db, products, on)


def labels_of_producer(pm: pluggy.PluginManager, db: Session, producer, on: dt.date) -> list[Label]:
    """The labels ``producer`` (a catalogue row) holds as a whole on ``on``."""
    found: list[Label] = []
    for answer in pm.hook.feria_labels(producer=producer, product=None, on=on, db=db):
        found.extend(answer or ())
    return found


@dataclass(frozen=True, slots=True)
class HeldLabel:
    """A label as a receipt shows it under a producer's lines.

    ``only`` names the lines it covers when it does not cover all of them (a label granted
    for the honey, on a receipt with honey and candles); empty, it covers every line."""

    label: Label
    only: tuple[str, ...] = ()


def receipt_labels(
    pm: pluggy.PluginManager,
    db: Session,
    lines: Iterable[tuple[int, int | None, str]],
    on: dt.date,
) -> dict[int, list[HeldLabel]]:
    """The labels to print under each producer's lines of a receipt, by producer id.

    ``lines`` are ``(producer_id, product_id, description)``; a free line (no product) is
    covered by what its producer holds as a whole. A label shows once per producer however
    many of its lines carry it, so a receipt grows by a few lines per labelled producer,
    not per item."""
    lines = list(lines)
    by_product = labels_of_product_ids(pm, db, [p for _, p, _ in lines if p is not None], on)
    by_producer: dict[int, list[Label]] = {}
    for producer_id, product_id, _ in lines:
        if product_id is None and producer_id not in by_producer:
            from feria.catalogue.models import Producer

            producer = db.get(Producer, producer_id)
            by_producer[producer_id] = (
                labels_of_producer(pm, db, producer, on) if producer is not None else []
            )
    covered: dict[int, dict[Label, list[str]]] = {}
    count: dict[int, int] = {}
    for producer_id, product_id, description in lines:
        count[producer_id] = count.get(producer_id, 0) + 1
        found = by_product.get(product_id, []) if product_id is not None else []
        if product_id is None:
            found = by_producer.get(producer_id, [])
        mine = covered.setdefault(producer_id, {})
        for label in dict.fromkeys(found):
            mine.setdefault(label, []).append(description)
    return {
        producer_id: [
            HeldLabel(label, () if len(names) == count[producer_id] else tuple(names))
            for label, names in held.items()
        ]
        for producer_id, held in covered.items()
        if held
    }


def labels_by_group(
    pm: pluggy.PluginManager,
    db: Session,
    groups: Iterable[tuple[int | None, Iterable[tuple[int | None, str]]]],
    on: dt.date,
) -> list[list[HeldLabel]]:
    """The labels under each producer group of a receipt, in the groups' order.

    ``groups`` are ``(producer_id, lines)`` with ``lines`` as ``(product_id, description)``;
    a group without a producer shows none. Read at once for the whole receipt
    (:func:`receipt_labels`): the screen's receipt and the printed one group alike."""
    groups = [(producer_id, list(lines)) for producer_id, lines in groups]
    held = receipt_labels(
        pm,
        db,
        [
            (producer_id, product_id, description)
            for producer_id, lines in groups
            if producer_id is not None
            for product_id, description in lines
        ],
        on,
    )
    return [
        held.get(producer_id, []) if producer_id is not None else [] for producer_id, _ in groups
    ]


def as_json(label: Label | HeldLabel, base_url: str | None = None) -> dict[str, Any]:
    """A label as the till's page and a print job carry it; a :class:`HeldLabel` also says
    which lines it covers (``only``). With ``base_url``, a registry page's path becomes a
    full address (none without a base URL: a printed path leads nowhere)."""
    held = label if isinstance(label, HeldLabel) else None
    label = held.label if held is not None else label
    url = label.url
    if base_url is not None and url.startswith("/"):
        url = base_url + url if base_url else ""
    out: dict[str, Any] = {
        "scheme": label.scheme,
        "name": label.name,
        "granted_by": label.granted_by,
        "valid_until": label.valid_until.isoformat() if label.valid_until else None,
        "url": url,
    }
    if held is not None:
        out["only"] = list(held.only)
    return out
