"""The plugin's own translations (es, pt_BR), layered over feria's: a string of the
registry pages is looked up here first, and anything else (the layout's menu, the footer)
falls through to feria's catalogue.

The ``.po`` files are compiled in memory the first time a language is asked for, as feria
does for its own, so no compiled file is kept in git.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

DOMAIN = "feria_pgs"
LOCALE_DIR = Path(__file__).parent / "locale"


@lru_cache(maxsize=8)
def _compiled(locale: str) -> bytes | None:
    po = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.is_file():
        return None
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=locale, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    return buffer.getvalue()


def translations(locale: str, fallback: NullTranslations) -> NullTranslations:
    """This plugin's catalogue for ``locale`` in front of ``fallback`` (feria's). A new
    object each time: feria's cached catalogue is never changed."""
    mo = _compiled(locale)
    if mo is None:
        return fallback
    layered = Translations(fp=io.BytesIO(mo), domain=DOMAIN)
    layered.add_fallback(fallback)
    return layered
