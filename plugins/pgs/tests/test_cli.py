"""``feria labels``: the organizers run the whole cycle from the command line, and a
refusal is one line, never a traceback."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from feria_pgs.cli import labels


@pytest.fixture
def run(database_url, fair):
    def _run(*args: str):
        return CliRunner().invoke(labels, list(args), obj={"database": database_url})

    return _run


def test_the_whole_cycle_from_the_command_line(run, pm):
    added = run(
        "scheme", "add", "sin-patron", "Hecho sin patrón", "--months", "24",
        "--criteria", "Sin patrón: decisiones en asamblea.",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "scheme sin-patron added" in added.output
    assert "sin-patron\tHecho sin patrón\t24 months" in run("scheme", "list").output

    applied = run("apply", "sin-patron", "P07", "--on", "2026-01-05", "--by", "org")
    assert applied.output.strip() == "application 1: P07 for sin-patron"
    visited = run(
        "visit", "1", "--on", "2026-01-20", "--visitor", "producer:P02",
        "--visitor", "consumer:Marta Quiroz", "--findings", "Asamblea semanal con actas.",
    )  # fmt: skip
    assert visited.exit_code == 0, visited.output
    decided = run(
        "decide", "1", "approved", "--on", "2026-02-01", "--committee", "Comité de garantía",
        "--member", "producer:P01", "--member", "user:compra", "--reasons", "Cumple.",
    )  # fmt: skip
    assert decided.exit_code == 0, decided.output
    assert "label 1 granted until 2028-01-31" in decided.output

    listed = run("list", "--on", "2026-03-01").output
    assert "1\tsin-patron\tP07\twhole producer\tuntil 2028-01-31\tvalid" in listed

    assert run("suspend", "1", "--reason", "Falta un acta.", "--on", "2026-04-01").exit_code == 0
    assert "\tsuspended\t" in run("list", "--on", "2026-04-02").output
    assert run("reinstate", "1", "--reason", "Acta entregada.", "--on", "2026-04-10").exit_code == 0
    revoked = run("revoke", "1", "--reason", "Contrató patrón.", "--on", "2026-05-01")
    assert revoked.output.strip() == "label 1 revoked from 2026-05-01"
    assert "\trevoked\t" in run("list", "--on", str(dt.date.today())).output


def test_a_self_granted_label_is_refused_in_one_line(run):
    run("scheme", "add", "agro", "Agroecológico SPG")
    run("apply", "agro", "P01", "--product", "MIEL-KG", "--on", "2026-01-05")

    refused = run("visit", "1", "--visitor", "user:miel", "--findings", "Todo perfecto.")

    assert refused.exit_code == 1
    assert refused.output.startswith("error: a producer cannot grant a label to itself")
    assert "Traceback" not in refused.output


def test_labels_are_a_command_of_feria(pm):
    commands = [c for answer in pm.hook.feria_cli_commands() for c in answer]
    assert labels in commands
