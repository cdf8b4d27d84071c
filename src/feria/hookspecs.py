"""Every hook feria offers to plugins. Reading this file alone tells an integrator
everything they can extend.

Implement a hook with a function of the same name marked ``@feria.hookimpl``; it may take
only the arguments it needs, by name. Hooks that *collect* (payment methods, labels, routes)
return a list and every plugin's answers count; hooks that *decide* are ``firstresult`` and
the first non-``None`` answer wins; lifecycle hooks are told about events after they are
committed and their return value is ignored.

Hooks grow by adding arguments, never by renaming or removing one.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("feria")


# -- payment methods and currencies ----------------------------------------------------------


@hookspec
def feria_payment_methods(fair):
    """Return the payment methods this plugin offers at ``fair``.

    Called when a till, the API or the storefront builds its list of tenders, and when a
    sale names a tender's method. Return a list of :class:`feria.payments.PaymentMethod`
    instances (each with a unique ``code``); return an empty list to offer none here.
    """


@hookspec
def feria_currencies():
    """Return the non-ISO currencies this plugin defines (community currencies, barter
    credits), as a list of :class:`feria.money.Currency`.

    Called once when the plugin manager starts; ISO 4217 currencies need no declaration.
    """


@hookspec
def feria_sale_writing(db, sale, tenders):
    """Write a payment method's own ledger rows for ``sale``, in the sale's transaction.

    Called after a sale's journal entry and rows are written and before they are committed,
    with the journal's append lock held. ``sale`` is the
    :class:`feria.cashbox.sales.RecordedSale` (``sale.body["tenders"]`` as recorded);
    ``tenders`` are the :class:`feria.payments.TenderInfo` each method authorized, in the
    same order, with the data the till sent (which may hold a PIN the entry does not keep).
    A method that keeps balances of its own (a community currency, gift cards) checks and
    writes them here through ``db``, so the sale and its rows commit together or not at all;
    raise a :class:`feria.errors.FeriaError` to refuse the sale (everything rolls back, and
    ``db``'s ``after_rollback`` listeners run). ``db`` is a Session joined to the sale's
    connection: use it, never commit it. Return nothing; ignore tenders of other methods.

    A refusal reaches the till (and the API's problem ``detail``) in the cashier's language
    when its message is an English template marked with :func:`feria.i18n.N_` and its values
    are given as ``params``: ``raise FeriaError(N_("{account} has {balance} left"),
    field="tenders", params={"account": code, "balance": Money(...)},
    format_locale=fair.locale)``. ``str(exc)`` stays English; ``exc.localized("es_CL")``
    translates the template with feria's catalogue and writes ``Money`` params as that
    locale does. A plain string is shown as written.
    """


# -- receipt printers ---------------------------------------------------------------------------


@hookspec(firstresult=True)
def feria_receipt_printer(till, settings):
    """Return the :class:`feria.printing.ReceiptPrinter` that serves ``till``, or ``None``.

    ``settings`` is the till's printer configuration (a dict, e.g. ``{"driver": "escpos",
    "connection": "network", "host": "…"}``). The first plugin that answers wins.
    """


# -- certification labels and the catalogue ------------------------------------------------


@hookspec
def feria_labels(producer, product, on, db):
    """Return the certification labels ``producer`` (or ``product``, when given) holds on
    date ``on``, as a list of :class:`feria.labels.Label`.

    ``producer`` and ``product`` are catalogue rows (``feria.catalogue.models``); either may
    be ``None``, and when ``product`` is given the answer is what is shown beside that
    product: labels granted to it, and labels granted to its producer as a whole. ``db`` is
    the caller's open SQLAlchemy session: read your own tables through it and keep nothing
    between calls. Called by the storefront, the till's product search and receipts; return
    only labels valid on ``on``, so an expired or revoked label disappears everywhere at once.
    """


@hookspec
def feria_labels_of_products(products, on, db):
    """Return the labels shown beside each of ``products`` on date ``on``, as a dict from
    product id to a list of :class:`feria.labels.Label`.

    The same answer as :func:`feria_labels` gives for each product alone (labels granted to
    it and to its producer as a whole, valid on ``on``), for a whole page at once: the
    till's product search and receipts ask about up to a few dozen products at a time, and
    a plugin answering here can read them in a few queries instead of a few per product.
    ``products`` are catalogue rows (``feria.catalogue.models.Product``); ``db`` is the
    caller's open session. Optional: a plugin that implements only :func:`feria_labels` is
    asked once per product instead (see :func:`feria.labels.labels_of_products`); one that
    implements both is asked only here for products, so it must answer for all of them.
    Leave out products without labels, or map them to an empty list.
    """


@hookspec
def feria_product_badges(product, on, db):
    """Return short :class:`feria.labels.Badge` marks to show beside ``product`` on date
    ``on`` (today, for the storefront and the till), reading through the session ``db``."""


@hookspec
def feria_product_fields():
    """Return extra :class:`feria.labels.ProductField` definitions for products."""


@hookspec
def feria_label_filters(fair, db):
    """Return ``(code, name)`` pairs the storefront offers as label filters at ``fair``
    (a catalogue row), reading through the session ``db``; offer only labels someone holds."""


@hookspec(firstresult=True)
def feria_products_with_label(code, product_ids, on, db):
    """Of ``product_ids``, return the set carrying label ``code`` on date ``on`` (today, for
    the storefront), or ``None`` if this plugin does not know the code. Used by the
    storefront's label filter; ``db`` is the caller's open session."""


# -- lifecycle events ----------------------------------------------------------------------


@hookspec
def feria_sale_recorded(sale, fair, till):
    """Called after a sale (kind ``sale``) is committed, with the :class:`Sale` row.

    ``sale`` comes with its ``lines``, ``tenders`` and ``splits`` loaded. It is built from
    the journal entry just written rather than read back, so it is in no database session
    and its child rows carry no ``id``; open a session of your own to read more.
    ``till`` is ``None`` for online orders. Use it to queue a receipt, notify a producer or
    update a display; never to change the sale (it is already in the journal).
    """


@hookspec
def feria_sale_refunded(refund, original, fair):
    """Called after a refund or void of ``original`` is committed (``refund.kind`` says
    which)."""


@hookspec
def feria_cash_session_closed(session, report):
    """Called after a cash session is closed, with its Z-report (a dict)."""


@hookspec
def feria_settlement_published(fair, settlement):
    """Called when an organizer publishes ``fair``'s settlement (a ``Settlement``)."""


@hookspec
def feria_journal_appended(entry_seq, kind, fair_id):
    """Called after a committed journal entry, e.g. to push live updates."""


# -- web ----------------------------------------------------------------------------------------


@hookspec
def feria_routes():
    """Return a list of Starlette routes (``starlette.routing.Route`` / ``Mount``) to add to
    the web app. Plugin routes live under ``/-/plugins/<plugin>/`` by convention."""


@hookspec
def feria_template_dirs():
    """Return directories of jinja2 templates; they are searched after the active theme and
    before the default theme, so a plugin can add templates and fragments."""


@hookspec
def feria_static_dirs():
    """Return ``(name, directory)`` pairs; each is served at ``/static/plugins/<name>/``."""


@hookspec
def feria_menu_items(user):
    """Return :class:`feria.web.menu.MenuItem` entries to show to ``user`` (may be None)."""


@hookspec
def feria_producer_panels(producer, fair, user, db):
    """Return :class:`feria.panels.Panel` parts to add to ``producer``'s own page, as shown
    to ``user``.

    A producer's page is where they check what the caja común owes them; a plugin that keeps
    something of theirs (an account in a community currency, a certification's next visit)
    shows it there instead of on a page of its own. ``producer`` is the catalogue row,
    ``fair`` the fair the page is about (``None`` when the producer takes part in none yet)
    and ``user`` who looks: the producer's own user, or an organizer, who may open any
    producer's page. Show only what is this producer's. ``db`` is the page's open session:
    read through it and keep nothing between calls. Called each time the page or its live
    part is drawn (on every journal entry while the page is open), so answer with a few
    queries; return an empty list to add nothing. The page draws the panels after its own
    sections, in the order the plugins answer, with the reader's language and the ``money``
    filter; one that raises is logged and left out.
    """


@hookspec
def feria_backoffice_panels(fair, user, db):
    """Return :class:`feria.panels.Panel` parts to add to the organizers' live dashboard of
    ``fair``, as shown to ``user`` (an organizer).

    For figures a plugin keeps beside the caja común's (what circulates of a community
    currency and the fund that backs it), where organizers already look during a fair.
    ``fair`` is the catalogue row; ``db`` is the page's open session: read through it and
    keep nothing between calls. Called each time the dashboard or its live part is drawn (on
    every journal entry while it is open), so answer with a few queries. The panels are
    drawn after the dashboard's own figures, in the order the plugins answer; one that
    raises is logged and left out.
    """


# -- command line ---------------------------------------------------------------------------------


@hookspec
def feria_cli_commands():
    """Return a list of ``click.Command`` objects to add to the ``feria`` command."""


# -- storage ------------------------------------------------------------------------------------


@hookspec
def feria_migration_dirs():
    """Return directories of Alembic revision files for this plugin's own tables.

    The revisions form a branch of their own (``branch_labels = ("<plugin>",)``) that
    ``depends_on`` the core revision they build on; ``feria db upgrade`` applies them with
    the core's. Tables of a plugin are prefixed with its name.
    """


# -- the demo fair ---------------------------------------------------------------------------


@hookspec
def feria_load_demo(engine, pm, fair_slug):
    """Add this plugin's part of the demo fair ``fair_slug`` (``feria demo``): a community
    currency with a few accounts, labels held by demo producers… Called after the core's demo
    data is loaded, every time the demo starts: it must change nothing when run again."""


# -- start-up --------------------------------------------------------------------------------------


@hookspec
def feria_startup(engine, pm):
    """Called once when the app or the CLI starts, after migrations are checked; use it to
    check a plugin's own configuration and fail loudly at start rather than mid-sale."""


# -- online orders paid through a payment provider ---------------------------------------------


@hookspec(firstresult=True)
def feria_record_paid_order(order_key, tenders, engine, pm):
    """Record the sale of the online order ``order_key``, now paid with ``tenders``, and
    return the :class:`feria.cashbox.sales.RecordedSale`; return ``None`` if the order is not
    yours.

    Called by an online payment method (a card processor's plugin) once the provider has
    confirmed the payment in a verified notification, never on the shopper's word. ``tenders``
    are :class:`feria.cashbox.sales.TenderRequest` objects whose ``reference`` names the payment
    at the provider. The plugin that owns orders (the storefront) records them with
    :func:`feria.cashbox.sales.record_sale` through ``engine`` and ``pm``, under
    ``key=order_key``, the order's ``fair_id`` and its lines, as they were when it was placed.
    A notification may come twice: called again with the same tenders, build the same lines,
    and ``record_sale`` returns the first recording instead of a second sale. Raise a
    :class:`feria.errors.FeriaError` to refuse (a cancelled order); the payment is then left
    to a person, and the provider notifies again later.
    """


@hookspec
def feria_online_payment_failed(order_key, method, reference, reason):
    """Called when a payment by ``method`` for the online order ``order_key`` failed (a card
    declined, a bank that refused to authenticate). No sale was recorded and no money moved:
    keep the order unpaid so the shopper may try again. ``reference`` names the attempt at
    the provider; ``reason`` is the provider's message, fit to show the shopper."""


# -- web requests from other servers ------------------------------------------------------------


@hookspec
def feria_skip_csrf(scope):
    """Return ``True`` to exempt the request ``scope`` (an ASGI scope) from the CSRF check.

    Only for endpoints other servers call and that authenticate every request themselves, such
    as a payment provider's signed webhooks (they carry no cookie nor form token); never for
    a page or form a person uses. Any plugin answering ``True`` exempts the request.
    """
