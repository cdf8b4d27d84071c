"""Every string marked for translation in feria, its plugins and its themes has a Spanish and
a Brazilian Portuguese translation, so no page of a fair in Santiago or São Paulo shows a
word of English.

The strings are extracted exactly as ``make i18n`` does (``babel.cfg``); a plugin with a
catalogue of its own (``plugins/<name>/src/<package>/locale``) is checked against it, all
the rest against feria's. When this fails, run ``make i18n`` and translate what it lists.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from feria import i18n

ROOT = Path(__file__).resolve().parents[2]

# What the extractor would take for a message but is not one (none at present: code that
# translates a label marked elsewhere calls it ``translate``, which the extractor ignores).
NOT_MESSAGES: set[str] = set()


def _extracted() -> dict[tuple[str, str | None], list[str]]:
    """(msgid, context) → the files it is in, for every message under src, plugins and
    themes."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found: dict[tuple[str, str | None], list[str]] = {}
    for top in ("src", "plugins", "themes"):
        for filename, _lineno, message, _comments, context in extract_from_dir(
            ROOT / top, method_map, options_map
        ):
            msgid = message[0] if isinstance(message, tuple) else message
            if msgid:
                found.setdefault((msgid, context), []).append(f"{top}/{filename}")
    return found


def _catalogue(path: Path, locale: str) -> dict[tuple[str, str | None], object]:
    with path.open("rb") as fh:
        return {
            (m.id[0] if isinstance(m.id, tuple) else m.id, m.context): m
            for m in read_po(fh, locale=locale)
            if m.id
        }


def _plugin_catalogue(filename: str, locale: str) -> Path | None:
    """The catalogue of the plugin ``filename`` belongs to, if it has its own."""
    parts = Path(filename).parts
    if parts[0] != "plugins":
        return None
    found = sorted((ROOT / "plugins" / parts[1]).glob(f"src/*/locale/{locale}/LC_MESSAGES/*.po"))
    return found[0] if found else None


def _translated(message) -> bool:
    if message is None or "fuzzy" in message.flags:
        return False
    if isinstance(message.string, tuple):
        return all(message.string)
    return bool(message.string)


@pytest.fixture(scope="module")
def extracted() -> dict[tuple[str, str | None], list[str]]:
    return _extracted()


@pytest.mark.parametrize("locale", ["es", "pt_BR"])
def test_every_marked_string_has_a_translation(extracted, locale):
    feria = _catalogue(i18n.LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po", locale)
    plugins: dict[Path, dict] = {}
    missing = []
    for key, files in sorted(extracted.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        msgid = key[0]
        if msgid in NOT_MESSAGES:
            continue
        for filename in files:
            path = _plugin_catalogue(filename, locale)
            if path is None:
                catalogue = feria
            else:
                if path not in plugins:
                    plugins[path] = _catalogue(path, locale)
                catalogue = plugins[path]
            # A plugin's catalogue sits in front of feria's: either may translate it.
            if not (_translated(catalogue.get(key)) or _translated(feria.get(key))):
                missing.append(f"{msgid!r} ({filename})")
                break
    assert missing == [], f"not translated to {locale} (run `make i18n`):\n" + "\n".join(missing)
