"""feria: a marketplace engine for solidarity-economy fairs, with a caja común.

The public plugin API an integrator imports from:

* ``feria.hookimpl`` — mark a function as a hook implementation;
* :mod:`feria.hookspecs` — every hook, documented;
* :mod:`feria.money`, :mod:`feria.payments`, :mod:`feria.labels`, :mod:`feria.printing`,
  :mod:`feria.panels`, :mod:`feria.web.menu` — the small typed objects hooks receive and
  return.
"""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"
HOOKSPEC_VERSION = 1
"""Bumped when a hook changes in a way an existing plugin could notice."""

hookimpl = pluggy.HookimplMarker("feria")

__all__ = ["HOOKSPEC_VERSION", "__version__", "hookimpl"]
