"""``feria import`` and ``feria export``: producers and products to and from CSV files.

The commands only read options and files and print; the work is in
:mod:`feria.catalogue.csvio`.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import IO, Any

import click

PROGRESS_MIN_ROWS = 1000  # below this an import is over before a bar would be read

_LOCALE_HELP = (
    "Locale the prices are written in, e.g. es, es_AR, pt_BR, en "
    "(default: the fair's, or that of the network's fairs if they all agree)."
)


def _friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """:func:`feria.cli.friendly`, looked up when the command runs (``feria.cli`` imports
    this module to register the commands, so it cannot be imported here first)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        from feria.cli import friendly

        return friendly(fn)(*args, **kwargs)

    return run


def _engine(ctx: click.Context):
    from feria.cli import engine_from

    return engine_from(ctx)


class _ProgressBars:
    """Draws a bar on stderr for each phase of an import (checking, then writing), for
    files big enough to wait for."""

    def __init__(self) -> None:
        self.phase: str | None = None
        self.bar: Any = None
        self.done = 0

    def __call__(self, phase: str, done: int, total: int) -> None:
        if total < PROGRESS_MIN_ROWS:
            return
        if phase != self.phase:
            self.close()
            self.bar = click.progressbar(length=total, label=f"{phase} rows", file=sys.stderr)
            self.bar.__enter__()
            self.phase, self.done = phase, 0
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar, self.phase = None, None


def _run_import(fn: Callable[..., Any], file: IO[bytes], **options: Any) -> None:
    bars = _ProgressBars()
    try:
        report = fn(file.read(), progress=bars, **options)
    finally:
        bars.close()  # finish the bar before a summary or the errors are printed under it
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(report.summary())


@click.group("import")
def import_group() -> None:
    """Import producers or products from a CSV file.

    Save the spreadsheet as CSV: cells separated by commas, semicolons or tabs, in UTF-8
    or Latin-1 (Windows), with column names in Spanish, Portuguese or English. The whole
    file is checked first: if any row is wrong nothing is imported, and every problem is
    listed with its line and column. Rows whose code (producer code, or producer and sku)
    already exists update it; the others are created.
    """


@import_group.command("producers")
@click.argument("file", type=click.File("rb"))
@click.option("--network", metavar="SLUG", help="Network to import into (if there are several).")
@click.option(
    "--fair",
    metavar="SLUG",
    help="Also make every producer in the file take part in this fair, at its stall column.",
)
@click.option("--dry-run", is_flag=True, help="Check the file and report, without writing.")
@click.pass_context
@_friendly
def import_producers_command(
    ctx: click.Context, file: IO[bytes], network: str | None, fair: str | None, dry_run: bool
) -> None:
    """Import producers from FILE (- reads standard input).

    Columns: code, name, kind (individual, association, cooperative), story, place, email,
    phone, payout details, members (a cooperative's, as name:percent separated by |, e.g.
    Ana:60|Luis:40), active (yes/no) and, with --fair, stall. Code and name are required.
    """
    from feria.catalogue.csvio import import_producers

    engine = _engine(ctx)
    try:
        _run_import(
            functools.partial(import_producers, engine),
            file,
            network=network,
            fair=fair,
            dry_run=dry_run,
        )
    finally:
        engine.dispose()


@import_group.command("products")
@click.argument("file", type=click.File("rb"))
@click.option("--network", metavar="SLUG", help="Network to import into (if there are several).")
@click.option("--fair", metavar="SLUG", help="Read prices in this fair's currency and locale.")
@click.option(
    "--currency",
    metavar="CODE",
    help="Currency of the prices, e.g. ARS, BRL, CLP (default: the fair's; a currency "
    "column in the file wins).",
)
@click.option("--locale", metavar="LOCALE", help=_LOCALE_HELP)
@click.option("--dry-run", is_flag=True, help="Check the file and report, without writing.")
@click.pass_context
@_friendly
def import_products_command(
    ctx: click.Context,
    file: IO[bytes],
    network: str | None,
    fair: str | None,
    currency: str | None,
    locale: str | None,
    dry_run: bool,
) -> None:
    """Import products from FILE (- reads standard input).

    Columns: producer (the producer's code), sku, name, price (as you type it, e.g.
    1.234,50 in es), currency, unit (piece, kg, g, l), barcode (EAN-13 or EAN-8), stock,
    category, description, active (yes/no). Producer, sku, name and price are required.
    """
    from feria.catalogue.csvio import import_products

    engine = _engine(ctx)
    try:
        _run_import(
            functools.partial(import_products, engine),
            file,
            network=network,
            fair=fair,
            currency_code=currency,
            locale=locale,
            dry_run=dry_run,
        )
    finally:
        engine.dispose()


@click.group("export")
def export_group() -> None:
    """Export producers or products as a CSV file that `feria import` reads back.

    Column names and yes/no are written in the language of --locale; the file is UTF-8
    with a BOM so that spreadsheet programs show accents right.
    """


def _export_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option(
                "--network", metavar="SLUG", help="Network to export (if there are several)."
            ),
            click.option(
                "-o",
                "--output",
                type=click.File("wb"),
                default="-",
                help="File to write (default: standard output).",
            ),
            click.option(
                "--delimiter",
                type=click.Choice([",", ";", "tab"]),
                help="Cell separator (default: ; where the decimal mark is a comma, else ,).",
            ),
            click.option(
                "--locale",
                metavar="LOCALE",
                help="Locale to write prices, column names and yes/no in, e.g. es, pt_BR, en "
                "(default: that of the network's fairs if they all agree, else en).",
            ),
            click.option("--no-bom", is_flag=True, help="Leave out the UTF-8 byte order mark."),
        ]
    ):
        fn = option(fn)
    return fn


def _export(
    ctx: click.Context, fn: Callable[..., bytes], output: IO[bytes], **options: Any
) -> None:
    delimiter = options.pop("delimiter")
    engine = _engine(ctx)
    try:
        data = fn(
            engine,
            delimiter="\t" if delimiter == "tab" else delimiter,
            bom=not options.pop("no_bom"),
            **options,
        )
    finally:
        engine.dispose()
    output.write(data)
    output.flush()


@export_group.command("producers")
@_export_options
@click.option(
    "--fair", metavar="SLUG", help="Only the producers taking part in this fair, with stalls."
)
@click.pass_context
@_friendly
def export_producers_command(ctx: click.Context, output: IO[bytes], **options: Any) -> None:
    """Export the network's producers, members and (with --fair) stalls."""
    from feria.catalogue.csvio import export_producers

    _export(ctx, export_producers, output, **options)


@export_group.command("products")
@_export_options
@click.pass_context
@_friendly
def export_products_command(ctx: click.Context, output: IO[bytes], **options: Any) -> None:
    """Export the network's products, prices in --locale."""
    from feria.catalogue.csvio import export_products

    _export(ctx, export_products, output, **options)


__all__ = ["export_group", "import_group"]
