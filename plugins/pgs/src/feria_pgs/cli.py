"""``feria labels``: the organizers' commands for the certification cycle.

feria labels scheme add sin-patron "Hecho sin patrón" --months 24 --criteria "…"
feria labels apply sin-patron P07
feria labels visit 1 --visitor producer:P02 --visitor "consumer:Sofía Ramírez" --findings "…"
feria labels decide 1 approved --committee "Comité de garantía" --member producer:P03 …
feria labels suspend 1 --reason "…"    feria labels reinstate 1 --reason "…"
feria labels revoke 1 --reason "…"     feria labels list
"""

from __future__ import annotations

import datetime as dt

import click
from sqlalchemy import select

from feria.accounts import User
from feria.catalogue.models import Network, Product
from feria.cli import engine_from, friendly
from feria.db import read_session, write_session
from feria.errors import NotFound
from feria_pgs import certification, registry
from feria_pgs.models import OUTCOMES, Scheme

_date = click.DateTime(formats=["%Y-%m-%d"])


def _day(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value is not None else None


def _engine(ctx: click.Context):
    return engine_from(ctx.find_root())


def _network_id(db, slug: str | None) -> int | None:
    if not slug:
        return None
    network_id = db.scalar(select(Network.id).where(Network.slug == slug))
    if network_id is None:
        raise NotFound(f"there is no network {slug!r}", field="network")
    return network_id


def _user_id(db, username: str | None) -> int | None:
    if not username:
        return None
    user_id = db.scalar(select(User.id).where(User.username == username))
    if user_id is None:
        raise NotFound(f"there is no user {username!r}", field="by")
    return user_id


_network_option = click.option(
    "--network", "network_slug", help="The network's slug, when codes repeat across networks."
)
_by_option = click.option("--by", "username", help="The organizer recording this step.")
_on_option = click.option("--on", "on", type=_date, help="The date (YYYY-MM-DD; default today).")


@click.group("labels")
def labels() -> None:
    """Participatory certification labels: schemes, applications, visits, decisions."""


@labels.group("scheme")
def scheme_group() -> None:
    """The label schemes of a network."""


@scheme_group.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--criteria", default="", help="What a producer must meet (shown publicly).")
@click.option("--logo", default="", help="A logo path or URL.")
@click.option("--months", default=12, show_default=True, type=int, help="How long a grant lasts.")
@_network_option
@click.pass_context
@friendly
def scheme_add(ctx, code, name, criteria, logo, months, network_slug) -> None:
    """Add a label scheme CODE (a short slug) called NAME."""
    with write_session(_engine(ctx)) as db:
        network_id = _network_id(db, network_slug)
        if network_id is None:
            networks = db.scalars(select(Network.id)).all()
            if len(networks) != 1:
                raise NotFound("name the network with --network SLUG", field="network")
            network_id = networks[0]
        scheme = certification.add_scheme(
            db, network_id, code, name, criteria=criteria, logo=logo, validity_months=months
        )
        click.echo(f"scheme {scheme.code} added: {scheme.name}, valid {months} months")


@scheme_group.command("list")
@click.pass_context
@friendly
def scheme_list(ctx) -> None:
    """List the label schemes."""
    with read_session(_engine(ctx)) as db:
        schemes = db.scalars(select(Scheme).order_by(Scheme.network_id, Scheme.code)).all()
        if not schemes:
            click.echo("no label schemes")
        for s in schemes:
            click.echo(f"{s.code}\t{s.name}\t{s.validity_months} months")


@labels.command("apply")
@click.argument("scheme_code")
@click.argument("producer_code")
@click.option("--product", "skus", multiple=True, help="Apply for this product only (SKU).")
@click.option("--note", default="", help="A note kept with the application.")
@_on_option
@_network_option
@_by_option
@click.pass_context
@friendly
def apply_cmd(ctx, scheme_code, producer_code, skus, note, on, network_slug, username) -> None:
    """A producer applies for a label (for itself, or with --product for some products)."""
    with write_session(_engine(ctx)) as db:
        network_id = _network_id(db, network_slug)
        producer = certification.producer_by_code(db, producer_code, network_id)
        scheme = certification.scheme_by_code(db, scheme_code, producer.network_id)
        product_ids = []
        for sku in skus:
            pid = db.scalar(
                select(Product.id).where(Product.producer_id == producer.id, Product.sku == sku)
            )
            if pid is None:
                raise NotFound(f"{producer.code} has no product {sku!r}", field="product")
            product_ids.append(pid)
        application = certification.submit_application(
            db,
            scheme.id,
            producer.id,
            product_ids=product_ids,
            on=_day(on),
            note=note,
            recorded_by=_user_id(db, username),
        )
        click.echo(f"application {application.id}: {producer.code} for {scheme.code}")


@labels.command("visit")
@click.argument("application_id", type=int)
@click.option(
    "--visitor",
    "visitors",
    multiple=True,
    required=True,
    help="producer:CODE, user:USERNAME, consumer:NAME or a name (repeat for each).",
)
@click.option("--findings", required=True, help="What the visitors found.")
@_on_option
@_by_option
@click.pass_context
@friendly
def visit_cmd(ctx, application_id, visitors, findings, on, username) -> None:
    """Record a peer visit to an application's producer."""
    with write_session(_engine(ctx)) as db:
        visit = certification.record_visit(
            db,
            application_id,
            visitors=[certification.Participant.parse(v) for v in visitors],
            findings=findings,
            on=_day(on),
            recorded_by=_user_id(db, username),
        )
        click.echo(f"visit {visit.id} recorded for application {application_id}")


@labels.command("decide")
@click.argument("application_id", type=int)
@click.argument("outcome", type=click.Choice(OUTCOMES))
@click.option("--committee", required=True, help="The committee's name.")
@click.option(
    "--member", "members", multiple=True, required=True, help="A committee member (as --visitor)."
)
@click.option("--reasons", required=True, help="Why the committee decided so.")
@click.option("--conditions", default="", help="The conditions of an approval with conditions.")
@click.option("--months", type=int, help="Validity, if not the scheme's.")
@_on_option
@_by_option
@click.pass_context
@friendly
def decide_cmd(
    ctx, application_id, outcome, committee, members, reasons, conditions, months, on, username
) -> None:
    """Record the committee's decision; an approval grants the label."""
    with write_session(_engine(ctx)) as db:
        decision = certification.decide(
            db,
            application_id,
            outcome,
            committee=committee,
            members=[certification.Participant.parse(m) for m in members],
            reasons=reasons,
            conditions=conditions,
            on=_day(on),
            validity_months=months,
            recorded_by=_user_id(db, username),
        )
        holding = decision.holding
        if holding is None:
            click.echo(f"decision {decision.id}: {outcome}")
        else:
            click.echo(
                f"decision {decision.id}: {outcome}; label {holding.id} granted "
                f"until {holding.valid_until.isoformat()}"
            )


def _change_command(name: str, action, help_text: str):
    @labels.command(name, help=help_text)
    @click.argument("label_id", type=int)
    @click.option("--reason", required=True, help="Why (shown in the public registry).")
    @_on_option
    @_by_option
    @click.pass_context
    @friendly
    def command(ctx, label_id, reason, on, username) -> None:
        with write_session(_engine(ctx)) as db:
            change = action(
                db, label_id, reason=reason, on=_day(on), recorded_by=_user_id(db, username)
            )
            click.echo(f"label {label_id} {change.change} from {change.effective_on.isoformat()}")

    return command


_change_command("suspend", certification.suspend, "Suspend a label (LABEL_ID) until reinstated.")
_change_command("reinstate", certification.reinstate, "Lift a label's suspension.")
_change_command("revoke", certification.revoke, "Revoke a label for good.")


@labels.command("list")
@click.option("--producer", "producer_code", help="Only this producer's labels.")
@_on_option
@_network_option
@click.pass_context
@friendly
def list_cmd(ctx, producer_code, on, network_slug) -> None:
    """List every label granted, with where it stands (default: today)."""
    day = _day(on) or dt.date.today()
    with read_session(_engine(ctx)) as db:
        entries = registry.registry(db, day, producer_code=producer_code, network_slug=network_slug)
        if not entries:
            click.echo("no labels granted")
        for e in entries:
            h = e.holding
            scope = ", ".join(p.sku for p in h.products) or "whole producer"
            click.echo(
                f"{h.id}\t{h.scheme.code}\t{h.producer.code}\t{scope}\t"
                f"until {h.valid_until.isoformat()}\t{e.status}\t{h.decision.committee}"
            )
