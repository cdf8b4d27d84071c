"""``feria currency …`` (added to ``feria`` through the ``feria_cli_commands`` hook) and the
demo currency."""

from __future__ import annotations

import uuid

from click.testing import CliRunner
from feria_social_currency import load_demo_currency, verify

from feria.cashbox.sales import LineRequest, TenderRequest, record_sale
from feria.cli import main
from feria.db import read_session
from feria.demo import DEMO_FAIR_SLUG, load_demo
from feria.money import Money


def run(engine, *args, input=None):
    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(main, ["--database", url, *args], input=input)
    return result


def test_plugin_commands_are_listed_beside_the_built_in_ones():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "currency" in result.output and "verify" in result.output


def test_an_organizer_runs_a_community_bank_from_the_command_line(engine, fair):
    ok = run(engine, "currency", "create", "TIEMPO", "--name", "Tiempo", "--backing", "CLP",
             "--user", "org")  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert run(engine, "currency", "rate", "TIEMPO", "500", "--user", "org").exit_code == 0
    opened = run(engine, "currency", "account", "open", "TIEMPO", "Rosa", "--pin", "--user",
                 "org", input="2468\n2468\n")  # fmt: skip
    assert opened.exit_code == 0, opened.output
    number = opened.output.strip().splitlines()[-1]
    assert number == "TIEMPO-0001"
    issued = run(engine, "currency", "issue", "TIEMPO", "40.00", "--to", number, "--user", "org")
    assert issued.exit_code == 0, issued.output
    assert "circulating 40.00 TIEMPO, backing 20000 CLP" in issued.output
    redeemed = run(engine, "currency", "redeem", "TIEMPO", "10", "--from", number, "--user", "org")
    assert "pay out 5000 CLP" in redeemed.output
    made = run(engine, "currency", "vouchers", "TIEMPO", "--count", "2", "--amount", "5",
               "--user", "org")  # fmt: skip
    assert made.exit_code == 0, made.output
    assert made.output.count("FSCV1:TIEMPO:TIEMPO00000") == 2
    statement = run(engine, "currency", "statement", number, "--csv")
    assert statement.output.splitlines()[-1] == ",,closing,,,,30.00,TIEMPO"
    position = run(engine, "currency", "position", "TIEMPO")
    assert "circulating 40.00 TIEMPO, backing 20000 CLP (100.00% covered)" in position.output
    assert "vouchers outstanding 10.00 TIEMPO" in position.output
    assert "ok: 3 movements" in run(engine, "currency", "verify").output


def test_refusals_are_one_line_messages(engine, fair):
    refused = run(engine, "currency", "issue", "NADA", "1", "--to", "X", "--user", "org")
    assert refused.exit_code == 1
    assert refused.output.strip() == "error: 'NADA' is not a social currency of this network"
    not_org = run(engine, "currency", "create", "TIEMPO", "--name", "T", "--backing", "CLP",
                  "--user", "caja")  # fmt: skip
    assert "only an organizer can create a currency" in not_org.output


def test_the_demo_currency_is_loaded_once_and_pays_at_the_demo_fair(engine, pm):
    info = load_demo(engine, pm, with_sales=False)
    first = load_demo_currency(engine, pm, DEMO_FAIR_SLUG)
    again = load_demo_currency(engine, pm, DEMO_FAIR_SLUG)
    assert [a.number for a in first.accounts] == [a.number for a in again.accounts]
    assert {a.producer_code for a in first.accounts} >= {"P01", "P07"}
    assert len(first.vouchers) == 5 and [v.payload for v in first.vouchers] == [
        v.payload for v in again.vouchers
    ]
    assert first.position.circulating == Money(70_000 + 5_000, "LUCA")
    assert first.position.backing == Money(750_000, "CLP")  # 750.00 luca at 1,000 CLP
    # A demo shopper pays a free line of P01 with a demo voucher (10.00 LUCA = 10,000 CLP).
    from feria.cashbox.sessions import open_session

    session = open_session(
        engine, till_id=next(iter(info.tills.values())), user_id=_organizer(engine), float_amount=0
    )
    sale = record_sale(
        engine,
        pm,
        key=uuid.uuid4().hex,
        session_id=session.id,
        lines=[LineRequest(producer_code="P01", amount=10_000)],
        tenders=[
            TenderRequest(
                "social_currency",
                1_000,
                currency="LUCA",
                data={"voucher": first.vouchers[0].payload},
            )
        ],
    )
    assert sale.body["tenders"][0]["currency"] == "LUCA"
    with read_session(engine) as db:
        assert verify.verify_ledger(db) >= 4


def _organizer(engine) -> int:
    from sqlalchemy import select

    from feria.accounts import User

    with read_session(engine) as db:
        return db.scalar(select(User.id).where(User.role == "cashier").limit(1))


def test_vouchers_are_drawn_into_a_printable_sheet(engine, fair, tmp_path):
    import xml.etree.ElementTree as ET

    import pytest

    pytest.importorskip("qrcode")
    run(engine, "currency", "create", "TIEMPO", "--name", "Tiempo", "--backing", "CLP",
        "--user", "org")  # fmt: skip
    run(engine, "currency", "rate", "TIEMPO", "500", "--user", "org")
    sheet = tmp_path / "vouchers.svg"
    made = run(engine, "currency", "vouchers", "TIEMPO", "--count", "3", "--amount", "5",
               "--svg", str(sheet), "--user", "org")  # fmt: skip
    assert made.exit_code == 0, made.output
    svg = ET.parse(sheet).getroot()
    cells = svg.findall("{http://www.w3.org/2000/svg}g")
    assert len(cells) == 3
    assert "TIEMPO000003" in ET.tostring(cells[2], encoding="unicode")
