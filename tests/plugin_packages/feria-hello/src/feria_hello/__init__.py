"""An outside plugin, installed by pip like any integrator's: it offers a 'hello' payment
method that approves tenders with a reference and a menu item."""

from feria import hookimpl
from feria.payments import Authorization, PaymentMethod
from feria.web.menu import MenuItem

CALLS: list[str] = []


class Hello(PaymentMethod):
    code = "hello"
    name = "Hello pay"

    def authorize(self, tender, sale):
        CALLS.append(f"authorize {tender.amount}")
        return Authorization.approve(reference=f"HELLO-{sale.key[:8]}")


@hookimpl
def feria_payment_methods(fair):
    return [Hello()]


@hookimpl
def feria_menu_items(user):
    return [MenuItem(area="backoffice", label="Hello", href="/-/plugins/hello/")]
