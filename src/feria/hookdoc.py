"""The hook reference page, ``docs/hooks.md``, rendered from :mod:`feria.hookspecs`.

The docstrings in ``hookspecs.py`` are the only description of each hook: this module turns
them into Markdown, grouped under the section comments of that file and in its order, and a
test compares the committed page with the rendering, so the page and the code cannot drift.
Regenerate it with ``feria plugins --hooks --markdown > docs/hooks.md``.
"""

from __future__ import annotations

import inspect
import re

from feria import HOOKSPEC_VERSION, hookspecs
from feria.errors import FeriaError
from feria.plugins import hook_reference

# A section comment in hookspecs.py: ``# -- payment methods and currencies ------``.
_SECTION = re.compile(r"^# -- (?P<title>.+?) -+\s*$")
# Sphinx roles the docstrings use (``:class:`feria.money.Currency```); Markdown has none.
_ROLE = re.compile(r":(?:class|meth|func|mod|attr|data|exc):`~?(?P<target>[^`]+)`")


class UndocumentedHook(FeriaError):
    """A hookspec without a docstring: integrators would have nothing to read about it."""

    code = "undocumented_hook"


def render_markdown() -> str:
    """The hook reference as a Markdown page (what ``docs/hooks.md`` must contain)."""
    hooks = hook_reference()
    missing = [h["name"] for h in hooks if not h["doc"].strip()]
    if missing:
        raise UndocumentedHook(
            f"hookspecs without a docstring: {', '.join(missing)}; document them in "
            "feria/hookspecs.py (when the hook is called, what it receives and returns)"
        )
    sections = _sections()
    hooks.sort(key=lambda h: _line(h["name"]))

    out = [
        "# Hook reference",
        "",
        "<!-- Generated from src/feria/hookspecs.py by `feria plugins --hooks --markdown`.",
        "     Edit the docstrings there, then regenerate this page; a test compares them. -->",
        "",
        f"Hooks version **{HOOKSPEC_VERSION}** (`feria.HOOKSPEC_VERSION`). A plugin may declare "
        "the version it was written against as `FERIA_HOOKSPEC_VERSION`; feria refuses it at "
        "start if the two differ. The guide, [plugins.md](plugins.md), shows each kind of "
        "plugin end to end.",
        "",
        _markdown(_intro()),
        "",
    ]
    grouped: dict[str, list[dict]] = {}
    for hook in hooks:
        grouped.setdefault(_section_of(_line(hook["name"]), sections), []).append(hook)

    out += ["## Contents", ""]
    for title, members in grouped.items():
        names = ", ".join(f"[`{h['name']}`](#{h['name']})" for h in members)
        out.append(f"- {title.capitalize()}: {names}")
    out.append("")

    for title, members in grouped.items():
        out += [f"## {title.capitalize()}", ""]
        for hook in members:
            out += [f"### {hook['name']}", ""]
            out += ["```python", f"{hook['name']}({', '.join(hook['arguments'])})", "```", ""]
            if hook["firstresult"]:
                out += [
                    "*First answer wins*: plugins are asked in turn until one returns something "
                    "other than `None`.",
                    "",
                ]
            out += [_markdown(hook["doc"]), ""]
    return "\n".join(out).rstrip("\n") + "\n"


def _intro() -> str:
    # hookspecs.py's docstring, but for its first paragraph, which speaks of the file itself.
    paragraphs = (inspect.getdoc(hookspecs) or "").split("\n\n")
    return "\n\n".join(paragraphs[1:] if len(paragraphs) > 1 else paragraphs)


def _line(name: str) -> int:
    return inspect.getsourcelines(getattr(hookspecs, name))[1]


def _sections() -> list[tuple[int, str]]:
    """``(line, title)`` of every section comment in hookspecs.py, in order."""
    lines, start = inspect.getsourcelines(hookspecs)
    found = []
    for offset, text in enumerate(lines):
        match = _SECTION.match(text)
        if match:
            found.append((start + offset, match["title"]))
    return found


def _section_of(line: int, sections: list[tuple[int, str]]) -> str:
    title = "hooks"
    for at, name in sections:
        if at > line:
            break
        title = name
    return title


def _markdown(doc: str) -> str:
    """reStructuredText-flavoured docstring → Markdown: roles and ````literals```` become
    code spans; paragraphs and line breaks are kept as written."""
    text = _ROLE.sub(lambda m: f"``{m['target']}``", doc)
    return text.replace("``", "`")
