"""Panels: parts a plugin adds to feria's own pages, as data.

A plugin answers :func:`~feria.hookspecs.feria_producer_panels` (a producer's own page) or
:func:`~feria.hookspecs.feria_backoffice_panels` (the organizers' live dashboard) with
:class:`Panel` objects; the page renders each one's template inside itself, in the order the
plugins answered, with the page's own context (the reader's language, the ``money`` and
``date`` filters, the fair's timezone) and the panel's ``context`` on top. So a plugin never
builds HTML in Python, a theme can restyle a panel by shipping a template of the same path,
and the panel speaks the reader's language like the rest of the page.

A panel is extra: a plugin that fails while answering, or whose template fails to render,
is logged and its panel left out, and the page the producer or organizer came for is shown
all the same.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy
from sqlalchemy.orm import Session

log = logging.getLogger("feria.panels")


@dataclass(frozen=True, slots=True)
class Panel:
    """A part of a page, drawn by the plugin's ``template`` with ``context``.

    ``title`` is an English source string marked with :func:`feria.i18n.N_`: the page shows
    it translated, as the panel's heading. ``template`` is a path the app's template loader
    finds (a plugin ships it through ``feria_template_dirs``, under a folder named after the
    plugin). The template renders the panel's body only; the page draws the heading and the
    frame around it. ``id`` names the panel's anchor (``#id``) when a link should lead to it.
    """

    title: str
    template: str
    context: Mapping[str, Any] = field(default_factory=dict)
    id: str = ""


def collect_panels(pm: pluggy.PluginManager, hook: str, db: Session, **kwargs: Any) -> list[Panel]:
    """Every plugin's panels for ``hook`` (a ``feria_*_panels`` hook), in the order pluggy
    calls the plugins, asking each plugin on its own.

    Each plugin is asked inside a savepoint of ``db``: one that raises, even with a database
    error that would otherwise leave the page's transaction aborted on PostgreSQL, is logged
    and skipped, and the next plugin and the page itself read on as if it had not answered.
    Anything in an answer that is not a :class:`Panel` is logged and left out.
    """
    caller = getattr(pm.hook, hook)
    plugins = [impl.plugin for impl in caller.get_hookimpls()]
    panels: list[Panel] = []
    # get_hookimpls() lists the plugins in the reverse of the order they are called in.
    for plugin in reversed(plugins):
        name = pm.get_name(plugin) or repr(plugin)
        one = pm.subset_hook_caller(hook, remove_plugins=[p for p in plugins if p is not plugin])
        try:
            with db.begin_nested():
                answers = one(db=db, **kwargs)
        except Exception:
            log.exception("plugin %r failed to answer %s; its panels are left out", name, hook)
            continue
        for answer in answers:
            for panel in answer or ():
                if isinstance(panel, Panel):
                    panels.append(panel)
                else:
                    log.error("plugin %r answered %s with %r, not a Panel", name, hook, panel)
    return panels
