"""The plugin manager: the hook specifications, the built-in default hooks, and every
plugin installed under the ``feria`` entry-point group.

No work happens at import time: each app, CLI run and test builds its own manager with
:func:`get_plugin_manager`, so nothing global is mutated between tests.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pluggy
from pluggy import PluginValidationError

from feria import HOOKSPEC_VERSION, hookspecs
from feria.errors import FeriaError
from feria.money import Currency, register_currency

ENTRY_POINT_GROUP = "feria"

# feria's own behaviour that is built on its hooks, datasette-style: these modules implement
# hooks exactly as an outside plugin would, and can be blocked like one.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "feria.receipts",
    "feria.orders",
    "feria.web.storefront",
    "feria.web.backoffice",
)


class PluginError(FeriaError):
    """A plugin could not be loaded; raised at start, naming the plugin."""

    code = "plugin_error"
    status = 500


@dataclass(frozen=True, slots=True)
class PluginInfo:
    name: str
    version: str
    hooks: tuple[str, ...]
    distribution: str


def blocked_from_env() -> set[str]:
    """Plugins disabled by ``FERIA_DISABLE_PLUGINS=name,name``."""
    raw = os.environ.get("FERIA_DISABLE_PLUGINS", "")
    return {p.strip() for p in raw.split(",") if p.strip()}


def get_plugin_manager(
    *,
    load_entry_points: bool = True,
    blocked: Iterable[str] | None = None,
    extra: Iterable[object] = (),
) -> pluggy.PluginManager:
    """Build a plugin manager with feria's hooks and every installed plugin.

    A plugin that fails to import, implements a hook that does not exist, or names an
    argument the hook does not have, is refused here with its name, not later mid-sale.
    """
    pm = pluggy.PluginManager("feria")
    pm.add_hookspecs(hookspecs)
    for name in set(blocked if blocked is not None else blocked_from_env()):
        pm.set_blocked(name)
    for module_name in DEFAULT_PLUGINS:
        if pm.is_blocked(module_name):
            continue
        _register(pm, importlib.import_module(module_name), module_name)
    for plugin in extra:
        _register(pm, plugin, getattr(plugin, "__name__", None))
    if load_entry_points:
        _load_entry_points(pm)
    try:
        pm.check_pending()
    except PluginValidationError as exc:
        raise PluginError(
            f"plugin {_plugin_name(pm, exc.plugin)!r} implements a hook feria does not have: {exc}"
        ) from exc
    _register_currencies(pm)
    if os.environ.get("FERIA_TRACE_PLUGINS"):
        pm.trace.root.setwriter(lambda msg: sys.stderr.write(msg))
        pm.enable_tracing()
    return pm


def _plugin_name(pm: pluggy.PluginManager, plugin: object) -> str:
    return pm.get_name(plugin) or getattr(plugin, "__name__", repr(plugin))


def _register(pm: pluggy.PluginManager, plugin: object, name: str | None) -> None:
    try:
        pm.register(plugin, name=name)
    except PluginValidationError as exc:
        raise PluginError(f"plugin {name!r} was refused: {exc}") from exc


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if pm.is_blocked(ep.name) or pm.has_plugin(ep.name):
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken plugin must fail loudly, with its name
            raise PluginError(f"plugin {ep.name!r} failed to load: {exc}") from exc
        _check_compatible(ep, plugin)
        _register(pm, plugin, ep.name)
        dist = getattr(ep, "dist", None)
        pm._feria_dists = getattr(pm, "_feria_dists", {})  # type: ignore[attr-defined]
        pm._feria_dists[ep.name] = dist  # type: ignore[attr-defined]


def _check_compatible(ep: metadata.EntryPoint, plugin: Any) -> None:
    """Refuse, at start, a plugin made for another feria.

    Two promises are checked: the feria versions its distribution accepts
    (``Requires-Dist: feria>=0.1,<1``) must include this feria, and the hooks version it
    declares (``FERIA_HOOKSPEC_VERSION``), if any, must be this feria's. A plugin outside
    its range might load and then fail mid-sale; refusing it here names what to fix.
    """
    from feria import __version__

    dist = getattr(ep, "dist", None)
    excluded = _feria_range_excluding(dist, __version__) if dist is not None else None
    if excluded is not None:
        plugin_dist = f"{dist.metadata['Name']} {dist.version}"
        raise PluginError(
            f"plugin {ep.name!r} ({plugin_dist}) requires {excluded}, "
            f"but this is feria {__version__}: install a release of the plugin made for "
            f"feria {__version__}, or disable it with FERIA_DISABLE_PLUGINS={ep.name}"
        )
    wanted = getattr(plugin, "FERIA_HOOKSPEC_VERSION", None)
    if wanted is not None and wanted != HOOKSPEC_VERSION:
        raise PluginError(
            f"plugin {ep.name!r} was written for feria hooks version {wanted}, "
            f"this feria has version {HOOKSPEC_VERSION}"
        )


def _feria_range_excluding(dist: metadata.Distribution, running: str) -> str | None:
    """The requirement on ``feria`` of ``dist`` (as written, e.g. ``feria>=2,<3``) whose
    range ``running`` is outside of, or ``None`` when every requirement on feria admits it.

    Requirements that apply only to an extra or another platform are not the plugin's
    promise about this install and are skipped. Pre-releases of feria count as inside a
    range (a developer running feria from a checkout must still load their plugins).
    """
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    for line in dist.requires or ():
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue  # the installer accepted it; not ours to judge
        if canonicalize_name(req.name) != "feria":
            continue
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        if not req.specifier.contains(running, prereleases=True):
            return line.split(";", 1)[0].strip()
    return None


def _register_currencies(pm: pluggy.PluginManager) -> None:
    for found in pm.hook.feria_currencies():
        for cur in found or ():
            if not isinstance(cur, Currency):
                raise PluginError(f"feria_currencies must return Currency objects, got {cur!r}")
            register_currency(cur)


def list_plugins(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """Each loaded plugin with its version and the hooks it implements."""
    dists = getattr(pm, "_feria_dists", {})
    infos = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        hooks = tuple(sorted(h.name for h in pm.get_hookcallers(plugin) or ()))
        dist = dists.get(name)
        infos.append(
            PluginInfo(
                name=name,
                version=dist.version if dist else "",
                hooks=hooks,
                distribution=dist.metadata["Name"] if dist else "",
            )
        )
    return sorted(infos, key=lambda i: i.name)


def hook_reference() -> list[dict[str, Any]]:
    """Every hook with its arguments and docstring, read from :mod:`feria.hookspecs`, so the
    reference and the code cannot drift."""
    import inspect

    out = []
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction):
        if not name.startswith("feria_"):
            continue
        opts = getattr(fn, "feria_spec", {}) or {}
        out.append(
            {
                "name": name,
                "arguments": list(inspect.signature(fn).parameters),
                "firstresult": bool(opts.get("firstresult")),
                "doc": inspect.cleandoc(fn.__doc__ or ""),
            }
        )
    return out
