"""The plugin's one table: the webhook events it has processed.

Stripe delivers each event at least once, sometimes more (a slow answer, a retry, a replay
by someone who captured a delivery). An event is acted on only if its id is not here yet,
and its id is written once it has been acted on; see :mod:`feria_stripe.webhooks`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from feria.catalogue.models import utcnow
from feria.db import Base


class StripeEvent(Base):
    """A verified event from Stripe and what feria did with it (``outcome``)."""

    __tablename__ = "stripe_events"
    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    object_id: Mapped[str] = mapped_column(String(255), default="")
    outcome: Mapped[str] = mapped_column(String(500), default="")
    received_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
