"""The plugin system as an integrator meets it: a package installed with pip shows up in
`feria plugins`, its hooks are called, and a broken plugin is refused at start by name."""

from __future__ import annotations

import json
import subprocess
import sys
import types
import uuid
from pathlib import Path

import pytest

from feria.cashbox.sales import LineRequest, TenderRequest, record_sale
from feria.plugins import PluginError, get_plugin_manager, hook_reference, list_plugins

PACKAGES = Path(__file__).parent / "plugin_packages"
BIN = Path(sys.executable).parent


def _feria(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "feria"), *args], capture_output=True, text=True, env=env)


def test_cash_is_a_plugin_listed_with_its_hooks():
    out = _feria("plugins", "--json")
    assert out.returncode == 0, out.stderr
    plugins = {p["name"]: p for p in json.loads(out.stdout)}
    assert "feria_payment_methods" in plugins["cash"]["hooks"]
    assert plugins["cash"]["distribution"] == "feria-cash"


def test_an_installed_outside_plugin_is_listed_and_its_hooks_are_called(
    install_plugin, engine, fair, cash_session
):
    site = install_plugin(PACKAGES / "feria-hello")
    out = _feria("plugins", "--json", env=site.env())
    assert out.returncode == 0, out.stderr
    hello = {p["name"]: p for p in json.loads(out.stdout)}["hello"]
    assert hello["version"] == "0.3.1"
    assert hello["hooks"] == ["feria_menu_items", "feria_payment_methods"]

    pm = get_plugin_manager()
    assert "hello" in {p.name for p in list_plugins(pm)}
    module = sys.modules["feria_hello"]
    module.CALLS.clear()  # the module stays imported across this test's database runs
    sale = record_sale(
        engine,
        pm,
        key=uuid.uuid4().hex,
        session_id=cash_session.id,
        lines=[LineRequest(producer_code="P01", amount=1500)],
        tenders=[TenderRequest("hello", 1500)],
    )
    assert sale.body["tenders"][0]["method"] == "hello"
    assert sale.body["tenders"][0]["reference"].startswith("HELLO-")
    assert module.CALLS == ["authorize 1500 CLP"]


def test_a_plugin_with_a_wrong_hook_argument_is_refused_at_start_by_name(install_plugin):
    site = install_plugin(PACKAGES / "feria-broken")
    out = _feria("plugins", env=site.env())
    assert out.returncode == 1
    assert "broken" in out.stderr
    assert "till_number" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_broken_plugin_object_is_refused_naming_plugin_and_hook():
    from feria import hookimpl

    broken = types.ModuleType("broken-inline")

    @hookimpl
    def feria_payment_methods(fair, till_number):
        return []

    broken.feria_payment_methods = feria_payment_methods
    with pytest.raises(PluginError) as err:
        get_plugin_manager(load_entry_points=False, extra=[broken])
    assert "broken-inline" in str(err.value)
    assert "till_number" in str(err.value)


def test_an_implementation_of_an_unknown_hook_is_refused():
    from feria import hookimpl

    stray = types.ModuleType("stray")
    stray.feria_no_such_hook = hookimpl(lambda: None)
    with pytest.raises(PluginError, match="stray"):
        get_plugin_manager(load_entry_points=False, extra=[stray])


def test_a_plugin_can_be_disabled_by_configuration(monkeypatch):
    monkeypatch.setenv("FERIA_DISABLE_PLUGINS", "cash")
    pm = get_plugin_manager()
    assert "cash" not in {p.name for p in list_plugins(pm)}


def test_every_hookspec_is_documented_in_the_reference():
    ref = hook_reference()
    assert len(ref) >= 15
    for hook in ref:
        assert hook["doc"], f"{hook['name']} has no docstring"
        assert hook["name"].startswith("feria_")
    first = {h["name"] for h in ref if h["firstresult"]}
    assert "feria_receipt_printer" in first
