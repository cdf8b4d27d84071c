"""A plugin made for another feria is refused at start, naming the plugin, the feria range
it asked for and the feria that is running, instead of failing later, mid-sale."""

from __future__ import annotations

import subprocess
import sys
import types
from importlib import metadata
from pathlib import Path

import pytest
from packaging.version import Version

from feria import HOOKSPEC_VERSION, __version__
from feria.plugins import PluginError, _check_compatible, get_plugin_manager, list_plugins

BIN = Path(sys.executable).parent
RUNNING = Version(__version__)
NEXT_MAJOR = RUNNING.major + 1


def _entry_point(tmp_path: Path, *requires: str) -> metadata.EntryPoint:
    """The entry point of a distribution ``feria-antiguo`` declaring ``requires``, as
    importlib.metadata reads it from an installed package's metadata."""
    info = tmp_path / "feria_antiguo-2.0.0.dist-info"
    info.mkdir()
    lines = ["Metadata-Version: 2.3", "Name: feria-antiguo", "Version: 2.0.0"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[feria]\nantiguo = feria_antiguo\n", encoding="utf-8")
    [ep] = metadata.PathDistribution(info).entry_points.select(group="feria")
    return ep


def _plugin(**attributes) -> types.ModuleType:
    module = types.ModuleType("feria_antiguo")
    module.__dict__.update(attributes)
    return module


@pytest.mark.parametrize(
    "requirement",
    [
        f"feria>={NEXT_MAJOR}",
        f"feria>={NEXT_MAJOR}.0,<{NEXT_MAJOR + 1}",
        f"feria<{__version__}",
        f"feria!={__version__}",
        f"feria[web]>={NEXT_MAJOR}",
    ],
)
def test_a_range_that_leaves_out_this_feria_is_refused_naming_plugin_range_and_version(
    tmp_path, requirement
):
    ep = _entry_point(tmp_path, "babel>=2", requirement)
    with pytest.raises(PluginError) as refused:
        _check_compatible(ep, _plugin())
    message = str(refused.value)
    assert "plugin 'antiguo' (feria-antiguo 2.0.0)" in message
    assert f"requires {requirement}" in message
    assert f"this is feria {__version__}" in message
    assert "FERIA_DISABLE_PLUGINS=antiguo" in message


@pytest.mark.parametrize(
    "requires",
    [
        (),
        ("feria",),
        (f"feria>={RUNNING.major}.{RUNNING.minor},<{NEXT_MAJOR}",),
        # Only for an extra, or for another platform: not a promise about this install.
        (f"feria>={NEXT_MAJOR}; extra == 'dev'",),
        (f"feria>={NEXT_MAJOR}; python_version < '3'",),
        (f"another-package>={NEXT_MAJOR}",),
    ],
)
def test_a_range_that_includes_this_feria_is_accepted(tmp_path, requires):
    _check_compatible(_entry_point(tmp_path, *requires), _plugin())


def test_a_development_build_of_feria_is_inside_the_range_of_its_release(tmp_path, monkeypatch):
    import feria

    dev = f"{RUNNING.major}.{RUNNING.minor}.{RUNNING.micro + 1}.dev0"
    monkeypatch.setattr(feria, "__version__", dev)
    ep = _entry_point(tmp_path, f"feria>={RUNNING.major}.{RUNNING.minor},<{NEXT_MAJOR}")
    _check_compatible(ep, _plugin())


def test_a_plugin_written_for_other_hooks_is_refused(tmp_path):
    ep = _entry_point(tmp_path, "feria")
    with pytest.raises(PluginError, match=f"hooks version {HOOKSPEC_VERSION + 1}"):
        _check_compatible(ep, _plugin(FERIA_HOOKSPEC_VERSION=HOOKSPEC_VERSION + 1))
    _check_compatible(ep, _plugin(FERIA_HOOKSPEC_VERSION=HOOKSPEC_VERSION))


# -- installed, as an integrator's user meets it -----------------------------------------------

PYPROJECT = f"""\
[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"

[project]
name = "feria-antiguo"
version = "2.0.0"
requires-python = ">=3.11"
dependencies = ["feria>={NEXT_MAJOR},<{NEXT_MAJOR + 1}"]

[project.entry-points.feria]
antiguo = "feria_antiguo"

[tool.hatch.build.targets.wheel]
packages = ["src/feria_antiguo"]
"""

MODULE = '''"""Made for the next major release of feria."""

from feria import hookimpl


@hookimpl
def feria_payment_methods(fair):
    return []
'''


@pytest.fixture
def installed_antiguo(tmp_path, install_plugin):
    """``feria-antiguo``, made for the next major feria, installed for one test only
    (without its dependencies: no such feria exists to install)."""
    root = tmp_path / "feria-antiguo"
    (root / "src" / "feria_antiguo").mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    (root / "src" / "feria_antiguo" / "__init__.py").write_text(MODULE, encoding="utf-8")
    return install_plugin(root)


def _feria(site, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "feria"), *args], capture_output=True, text=True, env=site.env(**env)
    )


def test_an_installed_plugin_for_another_feria_stops_feria_at_start(installed_antiguo):
    out = _feria(installed_antiguo, "plugins")

    assert out.returncode == 1
    assert "plugin 'antiguo' (feria-antiguo 2.0.0) requires feria" in out.stderr
    assert f">={NEXT_MAJOR}" in out.stderr and f"<{NEXT_MAJOR + 1}" in out.stderr
    assert f"this is feria {__version__}" in out.stderr
    assert "Traceback" not in out.stderr
    with pytest.raises(PluginError, match="antiguo"):
        get_plugin_manager()


def test_disabling_the_incompatible_plugin_lets_feria_start(installed_antiguo, monkeypatch):
    out = _feria(installed_antiguo, "plugins", FERIA_DISABLE_PLUGINS="antiguo")
    assert out.returncode == 0, out.stderr

    monkeypatch.setenv("FERIA_DISABLE_PLUGINS", "antiguo")
    assert "antiguo" not in {p.name for p in list_plugins(get_plugin_manager())}
