"""Creating and changing the catalogue, with every input checked at the edge.

Each function validates its input and raises :class:`InvalidCatalogue` naming the field
and what was expected; nothing is half-written because callers run them inside one
transaction.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum import ean
from stdnum.exceptions import ValidationError

from feria.catalogue.models import (
    PRODUCER_KINDS,
    SHARES_WHOLE,
    UNITS,
    Fair,
    Member,
    Network,
    Participation,
    Producer,
    Product,
)
from feria.catalogue.rules import add_rule_version
from feria.errors import FeriaError
from feria.money import MoneyError, currency

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
PRODUCER_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,15}$")


class InvalidCatalogue(FeriaError):
    code = "invalid_catalogue"


def _text(value: Any, field: str, *, required: bool = True, max_len: int = 200) -> str:
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise InvalidCatalogue(f"{field}: expected a value", field=field)
    if len(text) > max_len:
        raise InvalidCatalogue(f"{field}: expected at most {max_len} characters", field=field)
    return text


def create_network(db: Session, slug: str, name: str) -> Network:
    if not SLUG.match(slug or ""):
        raise InvalidCatalogue("slug: expected lowercase letters, digits and dashes", field="slug")
    if db.scalar(select(Network.id).where(Network.slug == slug)):
        raise InvalidCatalogue(f"slug: network {slug!r} already exists", field="slug")
    net = Network(slug=slug, name=_text(name, "name"))
    db.add(net)
    db.flush()
    return net


def create_fair(
    db: Session,
    network: Network,
    *,
    slug: str,
    name: str,
    starts_on: dt.date,
    ends_on: dt.date,
    currency_code: str,
    locale: str = "es",
    place: str = "",
    timezone: str = "UTC",
    solidarity_bp: int = 0,
    fees: dict[str, Any] | None = None,
    rates: dict[str, str] | None = None,
    receipt_footer: str = "",
) -> Fair:
    """Create a fair and its first rule version (in force from now)."""
    if not SLUG.match(slug or ""):
        raise InvalidCatalogue("slug: expected lowercase letters, digits and dashes", field="slug")
    if db.scalar(select(Fair.id).where(Fair.slug == slug)):
        raise InvalidCatalogue(f"slug: fair {slug!r} already exists", field="slug")
    try:
        currency(currency_code)
    except MoneyError as exc:
        raise InvalidCatalogue(f"currency: {exc}", field="currency") from exc
    if ends_on < starts_on:
        raise InvalidCatalogue("ends_on: expected a date on or after starts_on", field="ends_on")
    fair = Fair(
        network_id=network.id,
        slug=slug,
        name=_text(name, "name"),
        place=_text(place, "place", required=False, max_len=300),
        starts_on=starts_on,
        ends_on=ends_on,
        currency=currency_code,
        locale=locale,
        timezone=timezone,
        receipt_footer=receipt_footer,
    )
    db.add(fair)
    db.flush()
    add_rule_version(
        db,
        fair,
        solidarity_bp=solidarity_bp,
        fees=fees,
        rates=rates,
        effective_at=dt.datetime(2000, 1, 1),
        note="first version",
    )
    return fair


def check_producer_code(value: str | None, *, label: str = "") -> str:
    """A producer's code as cashiers type it (``P07``): normalized, or refused."""
    code = (value or "").strip().upper()
    if not PRODUCER_CODE.match(code):
        raise InvalidCatalogue(f"{label}expected 1 to 16 letters or digits, like P07", field="code")
    return code


def validate_members(members: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Members of a cooperative and their shares in basis points; they must sum to 10000."""
    clean = []
    for i, (name, share) in enumerate(members):
        if not str(name).strip():
            raise InvalidCatalogue(f"members[{i}].name: expected a name", field=f"members[{i}]")
        if type(share) is not int or share <= 0:
            raise InvalidCatalogue(
                f"members[{i}].share: expected a positive number of basis points",
                field=f"members[{i}]",
            )
        clean.append((str(name).strip(), share))
    if clean and sum(s for _, s in clean) != SHARES_WHOLE:
        raise InvalidCatalogue(
            f"members: shares add up to {sum(s for _, s in clean) / 100:g}%, expected 100%",
            field="members",
        )
    return clean


def add_producer(
    db: Session,
    network: Network,
    *,
    code: str,
    name: str,
    kind: str = "individual",
    members: list[tuple[str, int]] | None = None,
    **details: Any,
) -> Producer:
    code = check_producer_code(code, label="code: ")
    if kind not in PRODUCER_KINDS:
        raise InvalidCatalogue(
            f"kind: expected one of {', '.join(PRODUCER_KINDS)}, got {kind!r}", field="kind"
        )
    if db.scalar(
        select(Producer.id).where(Producer.network_id == network.id, Producer.code == code)
    ):
        raise InvalidCatalogue(f"code: producer {code} already exists", field="code")
    clean_members = validate_members(members or [])
    if clean_members and kind != "cooperative":
        raise InvalidCatalogue("members: only a cooperative has members", field="members")
    producer = Producer(
        network_id=network.id,
        code=code,
        name=_text(name, "name"),
        kind=kind,
        story=_text(details.get("story"), "story", required=False, max_len=5000),
        place=_text(details.get("place"), "place", required=False, max_len=300),
        contact_email=_text(details.get("contact_email"), "contact_email", required=False),
        contact_phone=_text(
            details.get("contact_phone"), "contact_phone", required=False, max_len=64
        ),
        payout_details=_text(
            details.get("payout_details"), "payout_details", required=False, max_len=2000
        ),
    )
    producer.members = [Member(name=n, share_bp=s) for n, s in clean_members]
    db.add(producer)
    db.flush()
    return producer


def join_fair(db: Session, fair: Fair, producer: Producer, stall: str = "") -> Participation:
    existing = db.scalar(
        select(Participation).where(
            Participation.fair_id == fair.id, Participation.producer_id == producer.id
        )
    )
    if existing:
        return existing
    part = Participation(fair_id=fair.id, producer_id=producer.id, stall=stall)
    db.add(part)
    db.flush()
    return part


def check_barcode(value: str | None, field: str = "barcode") -> str | None:
    if value is None or not str(value).strip():
        return None
    try:
        return ean.validate(str(value).strip())
    except ValidationError as exc:
        raise InvalidCatalogue(
            f"{field}: {value!r} is not a valid EAN-13/EAN-8 barcode ({exc})", field=field
        ) from exc


def check_stock(value: Any, field: str = "stock") -> str | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        d = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation as exc:
        raise InvalidCatalogue(f"{field}: expected a number", field=field) from exc
    if not d.is_finite() or d < 0:
        raise InvalidCatalogue(f"{field}: expected 0 or more", field=field)
    return str(d)


def add_product(
    db: Session,
    producer: Producer,
    *,
    sku: str,
    name: str,
    price: int,
    currency_code: str,
    unit: str = "piece",
    barcode: str | None = None,
    stock: Any = None,
    description: str = "",
    category: str = "",
    image: str = "",
    active: bool = True,
) -> Product:
    sku = _text(sku, "sku", max_len=64)
    if unit not in UNITS:
        raise InvalidCatalogue(
            f"unit: expected one of {', '.join(UNITS)}, got {unit!r}", field="unit"
        )
    if type(price) is not int or price < 0:
        raise InvalidCatalogue("price: expected 0 or more minor units", field="price")
    try:
        currency(currency_code)
    except MoneyError as exc:
        raise InvalidCatalogue(f"currency: {exc}", field="currency") from exc
    code = check_barcode(barcode)
    if code and db.scalar(select(Product.id).where(Product.barcode == code)):
        raise InvalidCatalogue(
            f"barcode: {code} is already used by another product", field="barcode"
        )
    if db.scalar(select(Product.id).where(Product.producer_id == producer.id, Product.sku == sku)):
        raise InvalidCatalogue(f"sku: {producer.code} already has a product {sku}", field="sku")
    product = Product(
        producer_id=producer.id,
        sku=sku,
        barcode=code,
        name=_text(name, "name"),
        description=_text(description, "description", required=False, max_len=5000),
        category=_text(category, "category", required=False, max_len=100),
        unit=unit,
        price=price,
        currency=currency_code,
        stock=check_stock(stock),
        active=active,
        image=_text(image, "image", required=False, max_len=300),
    )
    db.add(product)
    db.flush()
    return product
