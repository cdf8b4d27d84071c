"""Where a granted label stands on a given day, worked out from its dates and its recorded
changes every time it is asked (never stored), so a revocation or an expiry shows
everywhere the moment it takes effect."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from feria_pgs.models import Holding, StatusChange

STATES = ("valid", "pending", "suspended", "expired", "revoked")
"""``pending``: granted, but from a later date; the others say themselves."""


def status_on(holding: Holding, changes: Sequence[StatusChange], on: dt.date) -> str:
    """The state of ``holding`` on ``on``, given its ``changes`` in date order.

    A revocation is final and outranks the end date (the registry keeps saying *revoked*);
    a suspension lasts until a later reinstatement.
    """
    suspended = False
    for change in changes:
        if change.effective_on > on:
            break
        if change.change == "revoked":
            return "revoked"
        suspended = change.change == "suspended"
    if on > holding.valid_until:
        return "expired"
    if on < holding.valid_from:
        return "pending"
    return "suspended" if suspended else "valid"
