"""Entries plugins add to the navigation of the back office, the till or the storefront."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MenuItem:
    """A link in a menu. ``area`` is ``backoffice``, ``pos``, ``producer`` or ``storefront``;
    ``roles`` limits who sees it (empty: everyone who can open the area)."""

    area: str
    label: str
    href: str
    roles: tuple[str, ...] = ()
