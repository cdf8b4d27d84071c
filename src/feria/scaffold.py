"""``feria plugin new``: a ready-to-install plugin package, from nothing to a passing test.

The package is rendered from ``scaffold_template/``: ``common/`` holds what every plugin has
(pyproject, README) and one folder per kind holds the module and its test. A ``.tmpl`` file
is filled in with :class:`string.Template` (``$name``, ``$class_name``…; ``$$`` for a
dollar sign), which leaves the braces of Python f-strings and of a theme's own jinja
templates alone; any other file is copied as it is. ``NAME`` in a template's path stands
for the plugin's name, and a ``gitignore`` becomes ``.gitignore`` (a real one would apply
to feria's own tree).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from string import Template

from feria import HOOKSPEC_VERSION, __version__
from feria.errors import FeriaError

TEMPLATE_DIR = Path(__file__).parent / "scaffold_template"

_NAME = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")
_MAX_NAME = 30


class ScaffoldRefused(FeriaError):
    """``feria plugin new`` was asked for something it will not write; nothing was written."""

    code = "scaffold_refused"


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of plugin the scaffold can start: what it is and the hook it shows."""

    description: str
    hook: str
    test_requires: tuple[str, ...] = ("pytest>=8",)


KINDS: dict[str, Kind] = {
    "payment": Kind("A payment method for feria's caja común.", "feria_payment_methods"),
    "currency": Kind(
        "A community currency for feria, and a payment method to tender it.",
        "feria_currencies",
    ),
    "printer": Kind("A receipt printer for feria's tills.", "feria_receipt_printer"),
    "labels": Kind("A certification label scheme for feria.", "feria_labels"),
    # The theme's test drives the real web app through Starlette's TestClient (httpx).
    "theme": Kind(
        "A theme for feria's pages, shipped as a plugin.",
        "feria_template_dirs",
        ("pytest>=8", "httpx>=0.27"),
    ),
}


@dataclass(frozen=True, slots=True)
class PluginName:
    """The names one plugin goes by: ``mercado-pago`` is distributed as
    ``feria-mercado-pago``, imported as ``feria_mercado_pago`` and loaded (and disabled)
    as ``mercado_pago``."""

    name: str
    dist: str
    module: str
    class_name: str
    title: str


def plugin_name(raw: str) -> PluginName:
    """Check a plugin name as typed and derive the names its package needs."""
    typed = raw.strip()
    for prefix in ("feria-", "feria_"):
        if typed.startswith(prefix) and len(typed) > len(prefix):
            rest = typed[len(prefix) :]
            raise ScaffoldRefused(
                f"plugin name {raw!r}: leave out the {prefix!r} prefix, "
                f"`feria plugin new {rest}` makes the package feria-{rest}",
                field="name",
            )
    if not _NAME.fullmatch(typed) or len(typed) > _MAX_NAME:
        raise ScaffoldRefused(
            f"plugin name {raw!r}: expected lowercase letters and digits, starting with a "
            f"letter, with single '-' or '_' between words, at most {_MAX_NAME} characters "
            "(e.g. mercado_pago)",
            field="name",
        )
    name = typed.replace("-", "_")
    words = name.split("_")
    return PluginName(
        name=name,
        dist="feria-" + name.replace("_", "-"),
        module="feria_" + name,
        class_name="".join(w.capitalize() for w in words),
        title=" ".join(words).capitalize(),
    )


def feria_requirement(version: str = __version__) -> str:
    """The range of feria a new plugin accepts: this minor release onward, until the next
    major release (which may change hooks in ways the plugin would notice)."""
    from packaging.version import Version

    v = Version(version)
    return f"feria>={v.major}.{v.minor},<{v.major + 1}"


@dataclass(frozen=True, slots=True)
class CreatedPlugin:
    root: Path
    name: PluginName
    kind: str
    files: tuple[Path, ...]


def create_plugin(
    name: str, *, kind: str = "payment", directory: Path | str = "."
) -> CreatedPlugin:
    """Write the package ``feria-<name>/`` for a plugin of ``kind`` into ``directory``.

    Refuses (:class:`ScaffoldRefused`), writing nothing, a malformed name, the name of a
    plugin already installed (feria would load only one of the two), and a package
    directory that already exists.
    """
    if kind not in KINDS:
        raise ScaffoldRefused(
            f"unknown kind {kind!r}: expected one of {', '.join(KINDS)}", field="kind"
        )
    names = plugin_name(name)
    _refuse_installed(names)
    directory = Path(directory)
    if not directory.is_dir():
        raise ScaffoldRefused(f"there is no directory {str(directory)!r}", field="directory")
    root = directory / names.dist
    if root.exists():
        raise ScaffoldRefused(
            f"{root} already exists: nothing was written; choose another name or move it away",
            field="name",
        )
    rendered = _render(kind, _context(names, kind))
    # Everything is rendered before anything is written, so a refusal leaves no half package.
    root.mkdir()
    written = []
    for relative, content in rendered.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        written.append(path)
    return CreatedPlugin(root=root, name=names, kind=kind, files=tuple(sorted(written)))


def _refuse_installed(names: PluginName) -> None:
    for ep in metadata.entry_points(group="feria", name=names.name):
        dist = getattr(ep, "dist", None)
        where = f" ({dist.metadata['Name']} {dist.version})" if dist is not None else ""
        raise ScaffoldRefused(
            f"a plugin named {names.name!r} is already installed{where}: feria loads one "
            "plugin per name, so choose another name",
            field="name",
        )


def _context(names: PluginName, kind: str) -> dict[str, str]:
    spec = KINDS[kind]
    return {
        "name": names.name,
        "dist": names.dist,
        "module": names.module,
        "class_name": names.class_name,
        "title": names.title,
        "kind": kind,
        "hook": spec.hook,
        "description": spec.description,
        "test_requires": ", ".join(f'"{r}"' for r in spec.test_requires),
        "feria_requirement": feria_requirement(),
        "feria_version": __version__,
        "hookspec_version": str(HOOKSPEC_VERSION),
        # A community currency's code is its name in capitals: 3 to 8 letters or digits.
        "currency_code": names.name.replace("_", "").upper()[:8],
    }


def _render(kind: str, context: dict[str, str]) -> dict[str, str | bytes]:
    if kind == "currency":
        _check_currency_code(context["currency_code"], context["name"])
    out: dict[str, str | bytes] = {}
    for source in (TEMPLATE_DIR / "common", TEMPLATE_DIR / kind):
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            if "__pycache__" in path.parts:
                continue
            relative = path.relative_to(source).as_posix().replace("NAME", context["name"])
            if relative.removesuffix(".tmpl") == "gitignore":
                relative = ".gitignore"
            if relative.endswith(".tmpl"):
                text = Template(path.read_text(encoding="utf-8")).substitute(context)
                out[relative.removesuffix(".tmpl")] = text
            else:
                out[relative] = path.read_bytes()
    return out


def _check_currency_code(code: str, name: str) -> None:
    from babel.numbers import list_currencies

    if len(code) < 3:
        raise ScaffoldRefused(
            f"a currency plugin's name gives its currency code ({code!r}): use a name of at "
            "least 3 letters",
            field="name",
        )
    if code in list_currencies():
        raise ScaffoldRefused(
            f"{code} is an ISO 4217 currency, which feria knows already: a community "
            f"currency needs a code of its own, so choose another name than {name!r}",
            field="name",
        )
