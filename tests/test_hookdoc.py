"""The hook reference is generated from hookspecs.py, so the page an integrator reads and
the hooks feria calls cannot drift apart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pluggy
import pytest
from click.testing import CliRunner

from feria import hookdoc, hookspecs
from feria.cli import main
from feria.hookdoc import UndocumentedHook, render_markdown
from feria.plugins import hook_reference

HOOKS_PAGE = Path(__file__).resolve().parents[1] / "docs" / "hooks.md"


def _specs() -> dict[str, Any]:
    """Every hook pluggy knows from hookspecs.py, by name, with its specification."""
    pm = pluggy.PluginManager("feria")
    pm.add_hookspecs(hookspecs)
    return {name: caller.spec for name, caller in vars(pm.hook).items() if caller.spec}


def test_every_hookspec_has_a_docstring():
    undocumented = [name for name, spec in _specs().items() if not (spec.function.__doc__ or "")]
    assert undocumented == [], f"document these hooks in feria/hookspecs.py: {undocumented}"


def test_the_reference_covers_every_hook_pluggy_knows():
    assert {h["name"] for h in hook_reference()} == set(_specs())


def test_the_committed_hooks_page_is_current():
    committed = HOOKS_PAGE.read_text(encoding="utf-8")
    assert committed == render_markdown(), (
        "docs/hooks.md is out of date: run `feria plugins --hooks --markdown > docs/hooks.md`"
    )


def test_every_hook_appears_with_its_arguments_and_whether_the_first_answer_wins():
    page = render_markdown()
    for hook in hook_reference():
        assert f"### {hook['name']}\n" in page
        assert f"{hook['name']}({', '.join(hook['arguments'])})" in page
    printer = page.split("### feria_receipt_printer\n", 1)[1].split("\n### ", 1)[0]
    assert "*First answer wins*" in printer
    methods = page.split("### feria_payment_methods\n", 1)[1].split("\n### ", 1)[0]
    assert "*First answer wins*" not in methods


def test_the_page_reads_as_markdown_not_restructuredtext():
    page = render_markdown()
    assert ":class:`" not in page
    assert "``" not in page.replace("```", "")
    assert "`feria.payments.PaymentMethod`" in page


def test_an_undocumented_hook_fails_the_reference_naming_it(monkeypatch):
    documented = hook_reference()
    undocumented = [*documented, {**documented[0], "name": "feria_mystery", "doc": ""}]
    monkeypatch.setattr(hookdoc, "hook_reference", lambda: undocumented)
    with pytest.raises(UndocumentedHook, match="feria_mystery"):
        render_markdown()


def test_feria_plugins_prints_the_page():
    result = CliRunner().invoke(main, ["plugins", "--hooks", "--markdown"])
    assert result.exit_code == 0, result.output
    assert result.output == render_markdown()
