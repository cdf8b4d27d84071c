"""Cash: the payment method every caja común has. It is a plugin like any other, so the
core names no payment method of its own."""

from __future__ import annotations

from feria import hookimpl
from feria.i18n import N_
from feria.payments import Authorization, PaymentMethod, SaleInfo, TenderInfo


class Cash(PaymentMethod):
    code = "cash"
    name = N_("Cash")
    gives_change = True
    supports_refund = True

    def authorize(self, tender: TenderInfo, sale: SaleInfo) -> Authorization:
        # Cash is counted at the till: there is nobody to ask.
        return Authorization.approve()

    def refund(self, tender: TenderInfo, sale: SaleInfo) -> Authorization:
        # Paid back from the drawer; the session's expected cash goes down by as much.
        return Authorization.approve()


@hookimpl
def feria_payment_methods(fair):
    return [Cash()]
