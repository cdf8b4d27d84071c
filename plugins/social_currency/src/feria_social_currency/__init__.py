"""Social currencies at the caja común: community-bank currencies backed by a fund and
convertible at the network's rate, mutual credit and barter credits with per-account
limits, member cards and signed vouchers, statements and demurrage.

Written only against feria's public hooks, as an outside plugin would be:

* ``feria_currencies`` — the social currencies configured in the database (``feria currency
  create``), registered with :mod:`feria.money` at start;
* ``feria_payment_methods`` — the ``social_currency`` tender (:mod:`.till`);
* ``feria_sale_writing`` — the tender's movement, in the sale's own transaction;
* ``feria_migration_dirs`` — the plugin's tables (``social_currency_*``), its own branch;
* ``feria_startup`` — refuse to start without the signing secret once vouchers or cards
  exist; mirror refunds and payouts committed while the app was down;
* ``feria_cli_commands`` — ``feria currency …``;
* ``feria_producer_panels`` / ``feria_backoffice_panels`` — a producer's accounts and
  their statements on the producer's page, the bank's position on the organizers'
  dashboard (:mod:`.web`, drawn by this plugin's templates: ``feria_template_dirs``), and
  the statement's CSV download (``feria_routes``).

The functions an organizer's tools call are re-exported here from the modules that hold
them: :mod:`.currencies` (the community bank), :mod:`.accounts`, :mod:`.vouchers`,
:mod:`.statements`, :mod:`.demurrage`, :mod:`.caja` (refunds and payouts) and
:mod:`.verify`; :mod:`.ledger` has the movements and balances they are all made of.
"""

from __future__ import annotations

from pathlib import Path

from feria import hookimpl
from feria_social_currency.accounts import (
    issue_card,
    open_account,
    set_limits,
    set_pin,
    transfer,
)
from feria_social_currency.caja import pay_producer, reconcile
from feria_social_currency.currencies import (
    BankPosition,
    bank_position,
    create_currency,
    issue,
    redeem,
    set_rate,
)
from feria_social_currency.demurrage import apply_demurrage, set_demurrage
from feria_social_currency.statements import Statement, statement
from feria_social_currency.verify import verify_ledger
from feria_social_currency.vouchers import IssuedVoucher, make_vouchers

__all__ = [
    "BankPosition",
    "IssuedVoucher",
    "Statement",
    "apply_demurrage",
    "bank_position",
    "create_currency",
    "issue",
    "issue_card",
    "load_demo_currency",
    "make_vouchers",
    "open_account",
    "pay_producer",
    "reconcile",
    "redeem",
    "set_demurrage",
    "set_limits",
    "set_pin",
    "set_rate",
    "statement",
    "transfer",
    "verify_ledger",
]


def load_demo_currency(engine, pm, fair_slug: str):
    """The demo's community currency (see :mod:`.demo`)."""
    from feria_social_currency.demo import load_demo_currency as load

    return load(engine, pm, fair_slug)


@hookimpl
def feria_currencies():
    # The currencies are data (a table); the ones this process has read are declared here,
    # and :func:`feria_startup` reads them all from the database when the app starts.
    from feria_social_currency.ledger import known_currencies

    return known_currencies()


@hookimpl
def feria_payment_methods(fair):
    from feria_social_currency.till import SocialCurrencyPayment

    return [SocialCurrencyPayment()]


@hookimpl
def feria_sale_writing(db, sale, tenders):
    from feria_social_currency.till import write_sale

    write_sale(db, sale, tenders)


@hookimpl
def feria_migration_dirs():
    return [str(Path(__file__).parent / "migrations")]


@hookimpl
def feria_startup(engine, pm):
    from feria_social_currency.caja import check_configuration

    check_configuration(engine)


@hookimpl
def feria_cli_commands():
    from feria_social_currency.cli import currency

    return [currency]


@hookimpl
def feria_load_demo(engine, pm, fair_slug):
    from feria_social_currency.demo import load_demo_currency, till_notes

    # ``feria demo`` prints its logins in the terminal; this is how its cashier pays in LUCA.
    for line in till_notes(engine, load_demo_currency(engine, pm, fair_slug)):
        print(line)


@hookimpl
def feria_template_dirs():
    return [str(Path(__file__).parent / "templates")]


@hookimpl
def feria_routes():
    from feria_social_currency.web import routes

    return routes


@hookimpl
def feria_producer_panels(producer, db):
    # Every member account linked to the producer, whoever looks: the page itself lets in
    # only the producer's own users and organizers.
    from feria_social_currency.web import producer_panels

    return producer_panels(producer, db)


@hookimpl
def feria_backoffice_panels(fair, db):
    from feria_social_currency.web import backoffice_panels

    return backoffice_panels(fair, db)
