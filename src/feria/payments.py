"""The payment-method contract: what a plugin implements to be offered as a tender.

A method's lifecycle has explicit phases, each asked of the plugin by the caja común:

1. :meth:`PaymentMethod.is_available` — may this method be offered at this fair?
2. :meth:`PaymentMethod.authorize` — inside the sale's transaction, before anything is
   written: approve or refuse this tender. It moves no money and must answer quickly
   (slow remote work, like waiting for a card, happens before the sale is submitted; the
   tender then carries the reference the plugin checks here). A refusal rolls the whole
   sale back and its reason is shown to the cashier.
3. :meth:`PaymentMethod.captured` — after the sale is committed, tell the provider.
4. :meth:`PaymentMethod.refund` — pay a tender back; refused unless ``supports_refund``.

Methods return data (:class:`Authorization`), never HTML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from feria.catalogue.models import Fair
    from feria.money import Money


SECRET_DATA_KEYS = frozenset({"pin", "password", "passcode", "cvc", "cvv", "secret"})
"""Keys of a tender's ``data`` that hold a secret: the till sends them to the payment
method, but they never enter the journal, not even inside a digest."""


@dataclass(frozen=True, slots=True)
class TenderInfo:
    """What a plugin is told about one tender: its method, amount, currency and data."""

    method: str
    amount: Money
    data: dict[str, Any]
    reference: str = ""


@dataclass(frozen=True, slots=True)
class SaleInfo:
    """What a plugin is told about the sale a tender pays: fair, total due, idempotency key."""

    fair: Fair
    total: Money
    key: str
    kind: str = "sale"
    sale_id: int | None = None


@dataclass(frozen=True, slots=True)
class Authorization:
    """A payment method's answer.

    ``fee`` overrides the fair rule's fee for this tender when the provider states the real
    one (a card processor's fee), in the tender's currency. ``reference`` is kept with the
    tender (a card authorization code, a voucher serial).
    """

    approved: bool
    reason: str = ""
    reference: str = ""
    fee: Money | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def approve(cls, reference: str = "", fee: Money | None = None, **data: Any) -> Authorization:
        return cls(True, "", reference, fee, dict(data))

    @classmethod
    def refuse(cls, reason: str) -> Authorization:
        return cls(False, reason)


class PaymentMethod:
    """Base class of payment methods. Subclass it and return instances from the
    ``feria_payment_methods`` hook.

    ``code`` is stable and stored on every tender; ``gives_change`` marks cash-like methods
    (the only ones that may be over-tendered, and whose tenders count towards the cash
    drawer); ``currencies`` restricts the method to some currencies (empty: any).
    """

    code: str = ""
    name: str = ""
    gives_change: bool = False
    supports_refund: bool = False
    currencies: tuple[str, ...] = ()

    def is_available(self, fair: Fair) -> bool:
        return True

    def accepts_currency(self, code: str) -> bool:
        return not self.currencies or code in self.currencies

    def authorize(self, tender: TenderInfo, sale: SaleInfo) -> Authorization:
        raise NotImplementedError

    def captured(self, tender: TenderInfo, sale: SaleInfo) -> None:
        """Called after the sale is committed; by default nothing to do."""

    def refund(self, tender: TenderInfo, sale: SaleInfo) -> Authorization:
        return Authorization.refuse(f"{self.name or self.code} cannot pay money back")
