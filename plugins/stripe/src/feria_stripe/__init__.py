"""Card payments through Stripe for feria's online orders.

Written only against feria's public hooks, as an outside integrator would:

* ``feria_payment_methods`` — the ``stripe`` method (:class:`feria_stripe.method.StripeCard`),
  offered only when its keys are configured (see :mod:`feria_stripe.settings`);
* ``feria_routes`` — ``POST /-/plugins/stripe/webhook``, where Stripe confirms payments;
* ``feria_migration_dirs`` — the ``stripe_events`` table (its own Alembic branch);
* ``feria_template_dirs``/``feria_static_dirs`` — ``stripe/pay.html`` (and its script), the
  card form a checkout page includes.

How an order is paid, and what the storefront implements (``feria_record_paid_order`` and
``feria_online_payment_failed``), is told in the plugin's README section and in
:mod:`feria_stripe.method`. Tests and the demo run the real SDK against
:class:`feria_stripe.testing.LocalStripe`, a stand-in of Stripe's API on 127.0.0.1.
"""

from __future__ import annotations

import logging
from pathlib import Path

from feria import hookimpl
from feria_stripe.method import StripeCard
from feria_stripe.settings import StripeSettings

HERE = Path(__file__).parent
log = logging.getLogger("feria.stripe")


@hookimpl
def feria_payment_methods(fair):
    # Read at every call, so a key set or rotated in the environment needs no code change.
    return [StripeCard(StripeSettings.from_env())]


@hookimpl
def feria_routes():
    from feria_stripe.webhooks import routes

    return routes


@hookimpl
def feria_skip_csrf(scope):
    # Stripe's servers have no CSRF cookie; each webhook is authenticated by its signature.
    from feria_stripe.webhooks import WEBHOOK_PATH

    return scope.get("path") == WEBHOOK_PATH


@hookimpl
def feria_migration_dirs():
    return [HERE / "migrations"]


@hookimpl
def feria_template_dirs():
    return [HERE / "templates"]


@hookimpl
def feria_static_dirs():
    return [("stripe", HERE / "static")]


@hookimpl
def feria_startup(engine, pm):
    settings = StripeSettings.from_env()
    problem = settings.problem()
    if problem is not None:
        log.warning("card payments through Stripe are off: %s", problem)
    elif settings.stand_in:
        log.warning(
            "card payments go to a stand-in of Stripe at %s, not to Stripe", settings.api_base
        )
