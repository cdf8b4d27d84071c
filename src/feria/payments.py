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

Methods return data (:class:`Authorization`), never HTML. The same holds for what the till
must ask the cashier before a tender can be authorized (an account and its PIN, a scanned card
or voucher): a method declares it as data with :meth:`PaymentMethod.tender_ways`, and the till
draws the inputs itself.
"""

from __future__ import annotations

from collections.abc import Sequence
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


TENDER_FIELD_KINDS = ("text", "secret", "scan")
"""How the till asks for one :class:`TenderField`: ``text`` is typed and shown (an account
number); ``secret`` is typed, hidden as it is typed and never shown again (a PIN); ``scan``
is read by a barcode or QR scanner, which types the code and Enter into the focused input."""


@dataclass(frozen=True, slots=True)
class TenderField:
    """One input the till asks for: its value goes into the tender's ``data`` under ``key``.

    A ``secret`` field's key must be one of :data:`SECRET_DATA_KEYS`: that is what keeps its
    value out of the journal, off the screen and off the device's storage, so a method cannot
    declare a secret the engine would then record.
    """

    key: str
    label: str
    kind: str = "text"

    def __post_init__(self) -> None:
        if self.kind not in TENDER_FIELD_KINDS:
            raise ValueError(
                f"tender field {self.key!r}: kind {self.kind!r} is not one of "
                f"{', '.join(TENDER_FIELD_KINDS)}"
            )
        if self.kind == "secret" and self.key.lower() not in SECRET_DATA_KEYS:
            raise ValueError(
                f"tender field {self.key!r} is secret: name it one of "
                f"{', '.join(sorted(SECRET_DATA_KEYS))} so it never reaches the journal"
            )

    def as_dict(self) -> dict[str, str]:
        return {"key": self.key, "label": self.label, "kind": self.kind}


@dataclass(frozen=True, slots=True)
class TenderWay:
    """One way of identifying who pays a tender (``code`` is stable, ``label`` is shown).

    A tender is paid one way: the till sends the fields of the way the cashier chose, and
    only those, as the tender's ``data``.
    """

    code: str
    label: str
    fields: tuple[TenderField, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "label": self.label,
            "fields": [f.as_dict() for f in self.fields],
        }


class PaymentMethod:
    """Base class of payment methods. Subclass it and return instances from the
    ``feria_payment_methods`` hook.

    ``code`` is stable and stored on every tender; ``name`` is what the till, receipts and
    pages show, an English source string marked with :func:`feria.i18n.N_` that they
    translate (give its translations in the ``.po`` catalogues); ``gives_change`` marks
    cash-like methods (the only ones that may be over-tendered, and whose tenders count
    towards the cash drawer); ``currencies`` restricts the method to some currencies
    (empty: any).
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

    def tender_ways(self, fair: Fair) -> Sequence[TenderWay]:
        """The ways the till may identify who pays with this method at ``fair``.

        Cash needs nothing, so the default is none. A method whose :meth:`authorize` needs
        the tender's ``data`` (a member account and PIN, a scanned card or voucher) declares
        each way here, so any till — feria's page, a kiosk, an integrator's own — can ask
        for it without knowing the method: the page offers the ways, draws their inputs by
        :data:`TENDER_FIELD_KINDS`, and sends the chosen way's fields as ``data``. Data, not
        HTML, for the same reason as everything else a method returns. Labels are English
        source strings, marked with :func:`feria.i18n.N_`; the till translates them.
        """
        return ()

    def authorize(self, tender: TenderInfo, sale: SaleInfo) -> Authorization:
        raise NotImplementedError

    def captured(self, tender: TenderInfo, sale: SaleInfo) -> None:
        """Called after the sale is committed; by default nothing to do."""

    def refund(self, tender: TenderInfo, sale: SaleInfo) -> Authorization:
        return Authorization.refuse(f"{self.name or self.code} cannot pay money back")
