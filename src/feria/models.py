"""Imports every table so that ``Base.metadata`` is complete (for migrations and tests)."""

from feria.accounts import ApiToken, User
from feria.cashbox.models import (
    CashMovement,
    CashSession,
    MemberSplit,
    Payout,
    Sale,
    SaleLine,
    Split,
    Tender,
    Till,
)
from feria.cashbox.printjobs import QueuedPrintJob  # noqa: F401  (the print queue)
from feria.catalogue.models import (
    Fair,
    Member,
    Network,
    Participation,
    Producer,
    Product,
    RuleVersion,
)
from feria.db import Base
from feria.journal import JournalEntry, JournalHead
from feria.orders_models import Order, OrderLine, OrderSettings  # noqa: F401  (online orders)

metadata = Base.metadata

__all__ = [
    "ApiToken",
    "CashMovement",
    "CashSession",
    "Fair",
    "JournalEntry",
    "JournalHead",
    "Member",
    "MemberSplit",
    "Network",
    "Participation",
    "Payout",
    "Producer",
    "Product",
    "RuleVersion",
    "Sale",
    "SaleLine",
    "Split",
    "Tender",
    "Till",
    "User",
    "metadata",
]
