"""`feria plugin new` as an integrator meets it: a package that installs, shows up in
`feria plugins`, and whose own tests pass, for every kind of plugin."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from packaging.specifiers import SpecifierSet

from feria import __version__
from feria.cli import main
from feria.scaffold import KINDS, ScaffoldRefused, create_plugin, feria_requirement

BIN = Path(sys.executable).parent

# One plugin per kind, each named as an integrator might.
NAMES = {
    "payment": "monedero",
    "currency": "trueque",
    "printer": "papelito",
    "labels": "agroeco",
    "theme": "tierra",
}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A plugin of every kind made by `feria plugin new`, installed (not editable) into a
    private folder that only the subprocesses below see through PYTHONPATH: nothing is
    installed into the shared environment other tests run in."""
    where = tmp_path_factory.mktemp("scaffold")
    site = tmp_path_factory.mktemp("site")
    created = {
        kind: create_plugin(name, kind=kind, directory=where) for kind, name in NAMES.items()
    }
    subprocess.run(
        [
            str(BIN / "uv"),
            "pip",
            "install",
            "--python",
            sys.executable,
            "--target",
            str(site),
            "--no-deps",
            *(str(c.root) for c in created.values()),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return created, site


def _env(site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH")) if p)
    return env


# -- the generated package, installed ----------------------------------------------------------


def test_feria_plugins_lists_every_new_plugin_with_its_example_hook(installed):
    installed, site = installed
    out = subprocess.run(
        [str(BIN / "feria"), "plugins", "--json"], capture_output=True, text=True, env=_env(site)
    )
    assert out.returncode == 0, out.stderr
    listed = {p["name"]: p for p in json.loads(out.stdout)}
    for kind, plugin in installed.items():
        entry = listed[plugin.name.name]
        assert entry["distribution"] == plugin.name.dist
        assert entry["version"] == "0.1.0"
        assert KINDS[kind].hook in entry["hooks"]


def test_the_new_plugins_own_tests_pass(installed):
    installed, site = installed
    env = _env(site)
    # SQLite only in the inner run: feria's fixtures on PostgreSQL are proven by this suite
    # itself, and a second PostgreSQL server for the inner run would cost seconds for nothing
    # new; what is checked here is that the generated tests pass with the installed plugins.
    env["FERIA_TEST_DATABASES"] = "sqlite"
    # One run for every kind: a pytest start and a migrated template database, not five.
    tests = [str(plugin.root / "tests") for plugin in installed.values()]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v", *tests],
        cwd=next(iter(installed.values())).root.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    for plugin in installed.values():
        results = re.findall(rf"test_{plugin.name.name}\.py::\S+ (\w+)", run.stdout)
        assert len(results) >= 3, run.stdout
        assert set(results) == {"PASSED"}, run.stdout


# -- what is written ---------------------------------------------------------------------------


def test_the_package_has_the_entry_point_and_accepts_this_feria_until_the_next_major(tmp_path):
    plugin = create_plugin("mercado-pago", directory=tmp_path)

    assert plugin.root == tmp_path / "feria-mercado-pago"
    pyproject = tomllib.loads((plugin.root / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    assert project["name"] == "feria-mercado-pago"
    assert project["entry-points"]["feria"] == {"mercado_pago": "feria_mercado_pago"}
    assert pyproject["build-system"]["build-backend"] == "hatchling.build"
    [requirement] = project["dependencies"]
    assert requirement == feria_requirement()
    assert SpecifierSet(requirement.removeprefix("feria")).contains(__version__)
    module = plugin.root / "src" / "feria_mercado_pago" / "__init__.py"
    assert "def feria_payment_methods(fair)" in module.read_text(encoding="utf-8")
    assert (plugin.root / "tests" / "test_mercado_pago.py").is_file()
    assert (plugin.root / "README.md").is_file()


@pytest.mark.parametrize(
    ("version", "expected"),
    [("0.1.0", "feria>=0.1,<1"), ("1.4.2", "feria>=1.4,<2"), ("2.0.0rc1", "feria>=2.0,<3")],
)
def test_the_feria_range_runs_from_this_minor_release_to_the_next_major(version, expected):
    assert feria_requirement(version) == expected


@pytest.mark.parametrize("kind", list(NAMES))
def test_every_kind_is_lint_clean_even_with_the_longest_name(tmp_path, kind):
    # An integrator's first commit should pass their linter: 30 characters is the longest name.
    name = "cooperativa_textil_del_sur_xyz"
    plugin = create_plugin(name, kind=kind, directory=tmp_path)
    ruff = str(BIN / "ruff")
    for args in (["check", "--no-cache", "."], ["format", "--no-cache", "--check", "."]):
        out = subprocess.run([ruff, *args], cwd=plugin.root, capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr


# -- refusals: nothing is written --------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["Mercado", "1pago", "pago--rapido", "pago_", "pago rapido", "", "x" * 31]
)
def test_a_malformed_name_is_refused_and_nothing_is_written(tmp_path, name):
    with pytest.raises(ScaffoldRefused, match="lowercase letters"):
        create_plugin(name, directory=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_feria_prefix_is_refused_with_the_command_to_type_instead(tmp_path):
    with pytest.raises(ScaffoldRefused, match="`feria plugin new stripe`"):
        create_plugin("feria-stripe", directory=tmp_path)


def test_the_name_of_an_installed_plugin_is_refused(tmp_path):
    # feria loads one plugin per name: a second "cash" would be silently left out.
    with pytest.raises(ScaffoldRefused, match="'cash' is already installed"):
        create_plugin("cash", directory=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_community_currency_cannot_take_an_iso_code(tmp_path):
    with pytest.raises(ScaffoldRefused, match="EUR is an ISO 4217 currency"):
        create_plugin("eur", kind="currency", directory=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_directory_is_never_overwritten(tmp_path):
    mine = tmp_path / "feria-mercado-pago"
    mine.mkdir()
    (mine / "notes.txt").write_text("my work", encoding="utf-8")

    result = CliRunner().invoke(
        main, ["plugin", "new", "mercado-pago", "--directory", str(tmp_path)]
    )

    assert result.exit_code == 1
    assert "already exists" in result.output
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    assert (mine / "notes.txt").read_text(encoding="utf-8") == "my work"


# -- the command -------------------------------------------------------------------------------


def test_feria_plugin_new_says_what_it_wrote_and_what_to_run_next(tmp_path):
    result = CliRunner().invoke(
        main, ["plugin", "new", "impresora", "--kind", "printer", "--directory", str(tmp_path)]
    )

    assert result.exit_code == 0, result.output
    assert "a printer plugin named impresora" in result.output
    assert "src/feria_impresora/__init__.py" in result.output
    assert "pip install -e '.[test]'" in result.output
    module = tmp_path / "feria-impresora" / "src" / "feria_impresora" / "__init__.py"
    assert "def feria_receipt_printer(till, settings)" in module.read_text(encoding="utf-8")


def test_feria_plugin_new_refuses_a_bad_name_in_one_line(tmp_path):
    result = CliRunner().invoke(main, ["plugin", "new", "Mercado", "--directory", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.startswith("error: plugin name 'Mercado'")
    assert "Traceback" not in result.output


def test_the_command_offers_every_kind_the_scaffold_knows():
    new = main.commands["plugin"].commands["new"]
    [kind] = [p for p in new.params if p.name == "kind"]
    assert list(kind.type.choices) == list(KINDS)
