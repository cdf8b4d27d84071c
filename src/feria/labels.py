"""Participatory certification labels, as plugins report them to the core."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


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
