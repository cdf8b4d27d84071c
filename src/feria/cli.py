"""The ``feria`` command. Every sub-command has help text and turns refusals into one-line
messages (exit status 1), never tracebacks."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import click

from feria import __version__
from feria.errors import FeriaError


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Show a :class:`FeriaError` as ``error: …`` and exit 1 instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FeriaError as exc:
            where = f" ({exc.field})" if exc.field and exc.field not in exc.message else ""
            click.echo(f"error: {exc.message}{where}", err=True)
            sys.exit(1)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="feria")
@click.option(
    "--database",
    envvar="FERIA_DATABASE_URL",
    default=None,
    help="Database URL (default: sqlite:///var/feria.db; env FERIA_DATABASE_URL).",
)
@click.pass_context
def main(ctx: click.Context, database: str | None) -> None:
    """feria: the caja común and marketplace of a solidarity-economy fair."""
    ctx.ensure_object(dict)
    ctx.obj["database"] = database


def engine_from(ctx: click.Context, *, migrated: bool = True):
    """The engine for ``--database``; with ``migrated``, refuse an unmigrated database and
    start the plugins on it (``feria_startup``), as the web app does."""
    from feria.db import make_engine
    from feria.migrate import ensure_migrated
    from feria.plugins import get_plugin_manager

    engine = make_engine(ctx.obj.get("database"))
    if migrated:
        pm = get_plugin_manager()
        ensure_migrated(engine, pm)
        pm.hook.feria_startup(engine=engine, pm=pm)
    return engine


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--printer-port",
    default=9100,
    show_default=True,
    type=int,
    help="Port of the virtual receipt printer the demo till prints to.",
)
@click.option("--no-serve", is_flag=True, help="Only migrate and load the demo data.")
@click.pass_context
@friendly
def demo(ctx: click.Context, host: str, port: int, printer_port: int, no_serve: bool) -> None:
    """Set up and serve a demo fair (a Christmas fair in Santiago) with its logins.

    Migrates the database, loads the demo data (running it again changes nothing), starts
    the virtual receipt printer and serves the app on http://HOST:PORT.
    """
    from feria import demo_server
    from feria.plugins import get_plugin_manager

    engine = engine_from(ctx.find_root(), migrated=False)
    pm = get_plugin_manager()
    if no_serve:
        info = demo_server.prepare(engine, pm, echo=click.echo)
        click.echo(f"demo fair {info.fair_slug} ready: {info.sales} sales")
        return
    demo_server.run(engine, pm, host=host, port=port, printer_port=printer_port, echo=click.echo)


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@click.pass_context
@friendly
def db_upgrade(ctx: click.Context) -> None:
    """Create or migrate the database to the newest schema."""
    from feria.migrate import current_revisions, head_revisions, upgrade

    engine = engine_from(ctx.parent, migrated=False)
    before = current_revisions(engine)
    upgrade(engine)
    after = ", ".join(sorted(head_revisions()))
    if before == head_revisions():
        click.echo(f"database already at revision {after}")
    else:
        click.echo(f"database migrated from {', '.join(sorted(before)) or 'empty'} to {after}")


@main.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("--hooks", "show_hooks", is_flag=True, help="Print the hook reference instead.")
@click.option(
    "--markdown", is_flag=True, help="Print the hook reference as Markdown (docs/hooks.md)."
)
@friendly
def plugins_cmd(as_json: bool, show_hooks: bool, markdown: bool) -> None:
    """List the loaded plugins, their versions and the hooks each implements."""
    import dataclasses
    import json

    from feria.plugins import get_plugin_manager, hook_reference, list_plugins

    if markdown:
        from feria.hookdoc import render_markdown

        click.echo(render_markdown(), nl=False)
        return
    if show_hooks:
        ref = hook_reference()
        if as_json:
            click.echo(json.dumps(ref, indent=2, ensure_ascii=False))
        else:
            for hook in ref:
                kind = " (first answer wins)" if hook["firstresult"] else ""
                click.echo(f"{hook['name']}({', '.join(hook['arguments'])}){kind}")
                for line in hook["doc"].splitlines():
                    click.echo(f"    {line}" if line else "")
                click.echo()
        return
    infos = list_plugins(get_plugin_manager())
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(i) for i in infos], indent=2, ensure_ascii=False))
        return
    if not infos:
        click.echo("no plugins loaded")
    for info in infos:
        click.echo(f"{info.name} {info.version}".rstrip())
        for hook in info.hooks:
            click.echo(f"    {hook}")


@main.group()
def user() -> None:
    """People who log in: organizers, cashiers, producers, shoppers."""


@user.command("add")
@click.argument("username")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["organizer", "cashier", "producer", "shopper"]),
    help="What the user may do.",
)
@click.option("--producer", "producer_code", help="The producer's code (producer users only).")
@click.option("--name", "display_name", default="", help="Name shown in the pages.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input instead of prompting.",
)
@click.pass_context
@friendly
def user_add(
    ctx: click.Context,
    username: str,
    role: str,
    producer_code: str | None,
    display_name: str,
    password_stdin: bool,
) -> None:
    """Add a user; the password is prompted for (or read from stdin), never an argument."""
    from feria.accounts import add_user
    from feria.db import write_session

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    engine = engine_from(ctx.find_root())
    with write_session(engine) as db:
        u = add_user(db, username, password, role, producer_code, display_name=display_name)
        click.echo(f"user {u.username} added as {u.role}")


from feria.catalogue.cli import export_group, import_group  # noqa: E402

main.add_command(import_group)
main.add_command(export_group)


# -- verify, settle, payout --------------------------------------------------------------------


@main.command("verify")
@click.option("--chain-only", is_flag=True, help="Check only the hash chain (the fast check).")
@click.pass_context
@friendly
def verify_cmd(ctx: click.Context, chain_only: bool) -> None:
    """Verify the journal's hash chain, then every table derived from it.

    Exits 0 and prints the head (entry number and hash) if the record is intact; prints the
    first entry that does not fit and exits 1 otherwise.
    """
    from feria.journal import JournalTampered
    from feria.verify import verify_engine

    engine = engine_from(ctx.find_root())
    try:
        result = verify_engine(engine, chain_only=chain_only)
    except JournalTampered as exc:
        if exc.seq is None:
            click.echo(f"journal TAMPERED: {exc.message}")
        else:
            detail = exc.message.removeprefix(f"entry {exc.seq}: ")
            click.echo(f"journal TAMPERED at entry {exc.seq}: {detail}")
        sys.exit(1)
    what = "hash chain verified" if chain_only else "journal verified"
    click.echo(f"{what}: {result.count} entries, head {result.head.seq} {result.head.hash}")


@main.command("settle")
@click.argument("fair_slug")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="A text table, a spreadsheet (CSV) or JSON.",
)
@click.option("--producer", "producer_code", help="Only this producer's settlement (by code).")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE instead of stdout."
)
@click.option("--locale", help="Locale of amounts and CSV headers (default: the fair's).")
@click.option("--as-of", type=int, help="Settle as of this journal entry (default: the head).")
@click.pass_context
@friendly
def settle_cmd(
    ctx: click.Context,
    fair_slug: str,
    fmt: str,
    producer_code: str | None,
    output: str | None,
    locale: str | None,
    as_of: int | None,
) -> None:
    """Print the settlement (liquidación) of a fair: per producer and currency, gross
    sales, refunds, solidarity fund, fees, net, paid and balance."""
    import json

    from feria.db import read_session
    from feria.settlement import fair_by_slug, producer_by_code, settle

    engine = engine_from(ctx.find_root())
    with read_session(engine) as db:
        fair = fair_by_slug(db, fair_slug)
        settlement = settle(db, fair.id, as_of=as_of)
        if producer_code:
            settlement = settlement.for_producer(producer_by_code(db, fair, producer_code).id)
    if fmt == "csv":
        text = settlement.to_csv(locale or fair.locale)
    elif fmt == "json":
        text = json.dumps(settlement.to_json(), indent=2, sort_keys=True, ensure_ascii=False)
        text += "\n"
    else:
        text = settlement.to_table(locale)
    if output:
        with open(output, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        click.echo(f"settlement of {fair.name} written to {output}", err=True)
    else:
        click.echo(text, nl=False)


@main.command("payout")
@click.argument("fair_slug")
@click.argument("producer_code")
@click.argument("amount")
@click.option("--currency", "currency_code", help="Currency (default: the fair's).")
@click.option("--method", default="cash", show_default=True, help="How it was paid.")
@click.option("--reference", default="", help="A transfer number, a receipt number…")
@click.option("--note", default="", help="A note kept with the payout.")
@click.option("--user", "username", required=True, help="The organizer handing over the money.")
@click.pass_context
@friendly
def payout_cmd(
    ctx: click.Context,
    fair_slug: str,
    producer_code: str,
    amount: str,
    currency_code: str | None,
    method: str,
    reference: str,
    note: str,
    username: str,
) -> None:
    """Record a payout to a producer against their settlement.

    AMOUNT is typed as in the fair's locale (``12.500`` or ``$12.500`` at a Chilean fair).
    """
    from sqlalchemy import select

    from feria.accounts import User
    from feria.cashbox.errors import NotAllowed
    from feria.db import read_session
    from feria.money import Money, MoneyError
    from feria.settlement import (
        InvalidPayout,
        balance_owed,
        fair_by_slug,
        producer_by_code,
        record_payout,
    )

    engine = engine_from(ctx.find_root())
    with read_session(engine) as db:
        fair = fair_by_slug(db, fair_slug)
        producer = producer_by_code(db, fair, producer_code)
        user_id = db.scalar(select(User.id).where(User.username == username))
        if user_id is None:
            raise NotAllowed(f"there is no user {username!r}", field="user")
    code = (currency_code or fair.currency).upper()
    try:
        money = Money.parse(amount, code, fair.locale)
    except MoneyError as exc:
        raise InvalidPayout(str(exc), field="amount") from exc
    payout = record_payout(
        engine,
        fair_id=fair.id,
        producer_id=producer.id,
        currency=code,
        amount=money.amount,
        method=method,
        reference=reference,
        user_id=user_id,
        note=note,
    )
    with read_session(engine) as db:
        left = balance_owed(db, fair.id, producer.id, code)
    click.echo(
        f"payout {payout.id} recorded: {money.format(fair.locale)} to {producer.code} "
        f"{producer.name} (journal entry {payout.seq}); balance now {left.format(fair.locale)}"
    )


# -- serve, token ------------------------------------------------------------------------------


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes.")
@click.option("--reload", is_flag=True, help="Restart when the code changes (development).")
@click.pass_context
@friendly
def serve(ctx: click.Context, host: str, port: int, workers: int, reload: bool) -> None:
    """Run the web app: the pages and the JSON API (env FERIA_SECRET_KEY, FERIA_BASE_URL)."""
    import os

    import uvicorn

    root = ctx.find_root()
    engine_from(root).dispose()  # refuse an unmigrated database here, in one line
    if root.obj.get("database"):  # the worker processes read it from the environment
        os.environ["FERIA_DATABASE_URL"] = root.obj["database"]
    uvicorn.run(
        "feria.web.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        proxy_headers=True,
    )


@main.group()
def token() -> None:
    """API tokens for tills and integrations (``Authorization: Bearer …``)."""


@token.command("create")
@click.argument("username")
@click.option("--name", default="", help="What the token is for, e.g. 'till 2'.")
@click.pass_context
@friendly
def token_create(ctx: click.Context, username: str, name: str) -> None:
    """Create an API token for USERNAME and print it; it is shown only this once."""
    from sqlalchemy import select

    from feria.accounts import User, create_token
    from feria.db import write_session
    from feria.errors import NotFound

    engine = engine_from(ctx.find_root())
    with write_session(engine) as db:
        user = db.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"there is no user {username!r}", field="username")
        secret = create_token(db, user, name=name)
    click.echo(secret)
    click.echo(f"token for {username} ({user.role}); store it now, it is not shown again", err=True)


# -- plugin (for integrators) ------------------------------------------------------------------


@main.group("plugin")
def plugin_group() -> None:
    """Write plugins: start a new plugin package with a passing test."""


@plugin_group.command("new")
@click.argument("name")
@click.option(
    "--kind",
    type=click.Choice(["payment", "currency", "printer", "labels", "theme"]),
    default="payment",
    show_default=True,
    help="What the plugin adds; its module implements that kind's hook, with a test.",
)
@click.option(
    "--directory",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Where to create the package folder feria-NAME.",
)
@friendly
def plugin_new(name: str, kind: str, directory: str) -> None:
    """Create feria-NAME/, a ready-to-install plugin package: pyproject with the `feria`
    entry point, a module implementing one example hook, a README and a test that passes.

    NAME is the plugin's own name in lowercase, without the feria- prefix (e.g. mercado_pago).
    """
    from feria.scaffold import create_plugin

    created = create_plugin(name, kind=kind, directory=directory)
    click.echo(f"created {created.root}, a {kind} plugin named {created.name.name}:")
    for path in created.files:
        click.echo(f"    {path.relative_to(created.root)}")
    click.echo(
        "next, in the environment where feria is installed:\n"
        f"    cd {created.root}\n"
        "    pip install -e '.[test]'\n"
        f"    feria plugins      # lists {created.name.name}\n"
        "    pytest"
    )


# -- commands from plugins ---------------------------------------------------------------------


class PluginCommandsGroup(click.Group):
    """The ``feria`` group plus the commands plugins return from ``feria_cli_commands``.

    Plugins are loaded only when a command is not a built-in one (or the list is shown), so
    the built-ins, ``feria plugins`` among them, never depend on a plugin loading. A plugin
    command never replaces a built-in one, and a plugin that fails to load is reported on
    stderr instead of taking every command down with it.
    """

    _plugins_loaded = False

    def load_plugin_commands(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        try:
            from feria.plugins import get_plugin_manager

            answers = get_plugin_manager().hook.feria_cli_commands()
        except FeriaError as exc:
            click.echo(f"warning: plugin commands not loaded: {exc.message}", err=True)
            return
        for commands in answers:
            for command in commands or ():
                if not isinstance(command, click.Command) or not command.name:
                    click.echo(f"warning: ignored plugin command {command!r}", err=True)
                elif command.name in self.commands:
                    click.echo(
                        f"warning: a plugin's command {command.name!r} has the name of a "
                        "built-in one; ignored",
                        err=True,
                    )
                else:
                    self.add_command(command)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.load_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            self.load_plugin_commands()
            command = super().get_command(ctx, cmd_name)
        return command


# The same group (its options, callback and the commands registered above, which it shares),
# able to add plugin commands; ``@click.group(cls=PluginCommandsGroup)`` on ``main`` would
# say the same.
main = PluginCommandsGroup(
    name=main.name,
    commands=main.commands,
    callback=main.callback,
    params=main.params,
    help=main.help,
    context_settings=main.context_settings,
)


# -- printer -----------------------------------------------------------------------------------


@main.group()
def printer() -> None:
    """Receipt printers: the virtual printer, a test page, reprints, status."""


def _virtual_printer_module():
    """``feria_virtual_printer``, from the path or from the ``hardware`` folder of a feria
    checkout (it is a developer's tool, not part of the installed package)."""
    try:
        import feria_virtual_printer
    except ImportError:
        from pathlib import Path

        import feria

        hardware = Path(feria.__file__).resolve().parents[2] / "hardware"
        if not (hardware / "feria_virtual_printer").is_dir():
            raise click.ClickException(
                "the virtual printer is in the hardware/ folder of a feria checkout; "
                "run this from one, or put that folder on PYTHONPATH"
            ) from None
        sys.path.insert(0, str(hardware))
        import feria_virtual_printer
    return feria_virtual_printer


@printer.command("virtual")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=9100, show_default=True, type=int, help="TCP port.")
@click.option("--paper", default="80mm", show_default=True, help="Paper profile: 80mm or 58mm.")
@click.option(
    "--save",
    "save_dir",
    type=click.Path(file_okay=False),
    help="Write each receipt's .txt and .png here.",
)
@click.option("--quiet", is_flag=True, help="Do not echo the receipts.")
def printer_virtual(host: str, port: int, paper: str, save_dir: str | None, quiet: bool) -> None:
    """Run a virtual ESC/POS network printer that prints to text and PNG (Ctrl-C stops)."""
    vp = _virtual_printer_module()
    echo = None if quiet else (lambda r: click.echo(f"{r.text}{'-' * 20}"))
    server = vp.VirtualPrinter(host, port, paper=paper, save_dir=save_dir, on_receipt=echo)
    try:
        server.start()
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from exc
    click.echo(f"virtual printer ({paper}) listening on {host}:{server.port}", err=True)
    server.serve_forever()


def _till_id(engine, till: str, fair_slug: str | None) -> int:
    from sqlalchemy import select

    from feria.cashbox.models import Till
    from feria.catalogue.models import Fair
    from feria.db import read_session
    from feria.errors import NotFound

    with read_session(engine) as db:
        query = select(Till.id).where(Till.code == till)
        if fair_slug:
            query = query.join(Fair, Fair.id == Till.fair_id).where(Fair.slug == fair_slug)
        found = list(db.scalars(query))
        if not found and till.isdigit() and not fair_slug and db.get(Till, int(till)):
            return int(till)
    if not found:
        raise NotFound(f"there is no till {till!r}", field="till")
    if len(found) > 1:
        raise NotFound(f"several fairs have a till {till!r}: say which with --fair", field="till")
    return found[0]


def _print_now(engine, pm, base_url: str, job_id: int, till_id: int, wait: float) -> None:
    """Print what is waiting (this process may be the only spooler running) and say how
    the job ended, or why the printer did not print it yet."""
    import time

    from feria.cashbox.printjobs import job_status
    from feria.receipts import Spooler, printer_status

    spooler = Spooler(engine, pm, base_url, backoff_base=0.5, backoff_max=2.0)
    deadline = time.monotonic() + wait
    status = job_status(engine, job_id)
    while status in ("pending", "printing") and time.monotonic() < deadline:
        if not spooler.print_next():
            time.sleep(0.2)
        status = job_status(engine, job_id)
    if status == "printed":
        click.echo(f"print job {job_id} printed")
        return
    state = printer_status(engine, till_id)
    reason = state["last_error"] or state["state"]
    click.echo(f"print job {job_id} is {status}: {reason}", err=True)
    if status == "failed":
        sys.exit(1)
    click.echo("it prints as soon as the printer is back, while the app is running", err=True)


@printer.command("test")
@click.argument("till")
@click.option("--fair", "fair_slug", help="The fair of the till (when several have its code).")
@click.option("--wait", default=10.0, show_default=True, help="Seconds to wait for the printer.")
@click.option("--base-url", envvar="FERIA_BASE_URL", default="", help="The app's public address.")
@click.pass_context
@friendly
def printer_test(
    ctx: click.Context, till: str, fair_slug: str | None, wait: float, base_url: str
) -> None:
    """Print a test page at TILL (its code, e.g. T1): accents, paper width, a QR code."""
    from feria.plugins import get_plugin_manager
    from feria.receipts import print_test_page

    engine = engine_from(ctx.find_root())
    pm = get_plugin_manager()
    till_id = _till_id(engine, till, fair_slug)
    job_id = print_test_page(engine, pm, till_id)
    _print_now(engine, pm, base_url, job_id, till_id, wait)


@printer.command("reprint")
@click.argument("sale_id", type=int)
@click.option("--till", help="Print at this till (code) instead of the sale's own.")
@click.option("--fair", "fair_slug", help="The fair of --till (when several have its code).")
@click.option("--wait", default=10.0, show_default=True, help="Seconds to wait for the printer.")
@click.option("--base-url", envvar="FERIA_BASE_URL", default="", help="The app's public address.")
@click.pass_context
@friendly
def printer_reprint(
    ctx: click.Context,
    sale_id: int,
    till: str | None,
    fair_slug: str | None,
    wait: float,
    base_url: str,
) -> None:
    """Print a copy of the receipt of SALE_ID, marked COPIA."""
    from feria.cashbox.printjobs import job_till
    from feria.plugins import get_plugin_manager
    from feria.receipts import reprint

    engine = engine_from(ctx.find_root())
    pm = get_plugin_manager()
    till_id = _till_id(engine, till, fair_slug) if till else None
    job_id = reprint(engine, pm, sale_id, till_id=till_id)
    _print_now(engine, pm, base_url, job_id, job_till(engine, job_id), wait)


@printer.command("status")
@click.argument("till")
@click.option("--fair", "fair_slug", help="The fair of the till (when several have its code).")
@click.pass_context
@friendly
def printer_status_cmd(ctx: click.Context, till: str, fair_slug: str | None) -> None:
    """Say whether TILL's printer is printing, and why not."""
    import json

    from feria.receipts import printer_status

    engine = engine_from(ctx.find_root())
    status = printer_status(engine, _till_id(engine, till, fair_slug))
    click.echo(json.dumps(status, indent=2, ensure_ascii=False))
