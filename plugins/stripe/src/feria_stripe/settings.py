"""The plugin's configuration, from the environment only: keys never live in the repository
or in the database.

* ``FERIA_STRIPE_SECRET_KEY`` — the account's secret key (``sk_live_…``/``sk_test_…``, or a
  restricted ``rk_…`` key allowed to write PaymentIntents and Refunds);
* ``FERIA_STRIPE_WEBHOOK_SECRET`` — the signing secret of the webhook endpoint
  (``whsec_…``), shown by Stripe's dashboard when the endpoint is added;
* ``FERIA_STRIPE_PUBLISHABLE_KEY`` — the ``pk_…`` key the checkout page gives Stripe.js;
* ``FERIA_STRIPE_API_BASE`` — only for tests and demos: the address of a stand-in of
  Stripe's API (``feria_stripe.testing.LocalStripe``). A live key is never sent there.
* ``FERIA_STRIPE_WEBHOOK_TOLERANCE`` — seconds a webhook's signature stays acceptable
  (default 300, Stripe's own default).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from stripe import DEFAULT_API_BASE

DEFAULT_TOLERANCE = 300


@dataclass(frozen=True, slots=True)
class StripeSettings:
    secret_key: str = ""
    webhook_secret: str = ""
    publishable_key: str = ""
    api_base: str = ""
    tolerance: int = DEFAULT_TOLERANCE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StripeSettings:
        env = os.environ if environ is None else environ
        raw_tolerance = env.get("FERIA_STRIPE_WEBHOOK_TOLERANCE", "").strip()
        return cls(
            secret_key=env.get("FERIA_STRIPE_SECRET_KEY", "").strip(),
            webhook_secret=env.get("FERIA_STRIPE_WEBHOOK_SECRET", "").strip(),
            publishable_key=env.get("FERIA_STRIPE_PUBLISHABLE_KEY", "").strip(),
            api_base=env.get("FERIA_STRIPE_API_BASE", "").strip().rstrip("/"),
            tolerance=int(raw_tolerance) if raw_tolerance.isdigit() else DEFAULT_TOLERANCE,
        )

    @property
    def stand_in(self) -> bool:
        """Talking to a local stand-in of Stripe (tests, the demo), not to Stripe."""
        return bool(self.api_base) and self.api_base != DEFAULT_API_BASE

    def problem(self) -> str | None:
        """Why card payments cannot be offered with this configuration, or ``None``."""
        if not self.secret_key:
            return "FERIA_STRIPE_SECRET_KEY is not set"
        if not self.secret_key.startswith(("sk_", "rk_")):
            return "FERIA_STRIPE_SECRET_KEY is not a secret key (sk_… or rk_…)"
        if not self.webhook_secret:
            # Without it no payment could ever be confirmed: the method is not offered.
            return "FERIA_STRIPE_WEBHOOK_SECRET is not set"
        if self.stand_in and "_live_" in self.secret_key:
            return (
                f"FERIA_STRIPE_API_BASE points to {self.api_base}, not to Stripe: "
                "a live key is never sent there"
            )
        return None
