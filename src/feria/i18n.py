"""Languages: which ones feria speaks, choosing one for a person, and loading the catalogues.

The catalogues are the ``.po`` files under ``feria/locale``; they are compiled in memory the
first time a language is asked for, so no compiled ``.mo`` file has to be built or kept in
git (``make i18n`` extracts new strings; translators edit the ``.po`` files).

A person gets, in this order: the language they picked (``?lang=`` or the cookie it sets),
the language of their account, the first language their browser asks for that feria has,
and else the fair's own language.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

SUPPORTED = ("en", "es", "pt_BR")
DEFAULT = "en"
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it yet (it is translated where it
    is shown, in the reader's language)."""
    return message


def supported(tag: str | None) -> str | None:
    """The supported locale that serves ``tag`` (``es-CL`` → ``es``, ``pt`` → ``pt_BR``), or
    ``None`` if feria does not speak that language."""
    if not tag:
        return None
    tag = tag.strip().replace("-", "_")
    if not tag or tag == "*":
        return None
    lowered = tag.lower()
    for loc in SUPPORTED:
        if loc.lower() == lowered:
            return loc
    language = lowered.split("_", 1)[0]
    for loc in SUPPORTED:  # es_CL → es; pt or pt_PT → pt_BR, the Portuguese feria has
        if loc.lower().split("_", 1)[0] == language:
            return loc
    return None


def accept_language(header: str | None) -> list[str]:
    """The language tags of an ``Accept-Language`` header, most wanted first."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag.strip() and quality > 0:
            ranked.append((-quality, i, tag.strip()))
    return [tag for _, _, tag in sorted(ranked)]


def negotiate(
    *,
    chosen: str | None = None,
    user: str | None = None,
    accept: str | None = None,
    fair: str | None = None,
) -> str:
    """Pick the locale for one person (see the module docstring for the order)."""
    for candidate in (chosen, user, *accept_language(accept), fair):
        loc = supported(candidate)
        if loc is not None:
            return loc
    return DEFAULT


@lru_cache(maxsize=len(SUPPORTED) + 1)
def translations(locale: str) -> NullTranslations:
    """The compiled catalogue for ``locale`` (English, the source language, needs none)."""
    po = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if locale == DEFAULT or not po.is_file():
        return NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=locale, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)
