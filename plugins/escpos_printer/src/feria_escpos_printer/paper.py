"""Paper profiles: how wide a till's roll is, in characters and in dots, and how its printer
wants text encoded.

Profiles are JSON files (``80mm.json``, ``58mm.json``) kept in feria's ``hardware/profiles``
folder; a till names one in its printer settings (``"profile": "58mm"``). They are looked
up in, in this order: the folder in the till's ``profiles_dir`` setting, the folder in
``FERIA_PRINTER_PROFILES``, the copy shipped inside this package, and ``hardware/profiles``
of a feria checkout.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

DEFAULT_PROFILE = "80mm"


class UnknownPaperProfile(ValueError):
    """A till names a paper profile that is in none of the profile folders."""


@dataclass(frozen=True, slots=True)
class PaperProfile:
    """One roll width.

    ``columns`` are Font A characters per line (12 dots each), ``dots`` the printable width.
    ``codepage`` is the one code page every line is encoded in: CP850 (ESC t 2), present on
    practically every ESC/POS printer, holds all of Spanish and Portuguese (ñ á é í ó ú ü ç
    ã õ, capitals too, and º ª ¡ ¿). Switching code pages mid-line, as python-escpos does
    by default, depends on each printer's slot numbering and garbles text on many clones.
    """

    name: str
    columns: int
    dots: int
    paper_mm: int = 80
    description: str = ""
    codepage: str = "CP850"
    qr_size: int = 6
    qr_native: bool = False
    logo_max_dots: int = 384
    cut: str = "partial"  # partial | full | none
    drawer_pin: int = 2
    escpos_model: str = "default"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PaperProfile:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _folders(settings: dict[str, Any]) -> list[Path]:
    folders = []
    if settings.get("profiles_dir"):
        folders.append(Path(settings["profiles_dir"]))
    if os.environ.get("FERIA_PRINTER_PROFILES"):
        folders.append(Path(os.environ["FERIA_PRINTER_PROFILES"]))
    here = Path(__file__).resolve().parent
    folders.append(here / "profiles")  # inside a built wheel
    folders.append(here.parents[3] / "hardware" / "profiles")  # a feria checkout
    return folders


def load_profile(settings: dict[str, Any]) -> PaperProfile:
    """The paper profile a till's printer settings name (``"80mm"`` when they name none).

    Settings may override single values of the profile (``"columns": 42`` for a printer
    whose Font A is narrower, ``"codepage": "CP858"``).
    """
    name = str(settings.get("profile") or DEFAULT_PROFILE)
    for folder in _folders(settings):
        path = folder / f"{name}.json"
        if path.is_file():
            data = json.loads(path.read_text(encoding="utf-8"))
            break
    else:
        searched = ", ".join(str(f) for f in _folders(settings))
        raise UnknownPaperProfile(f"no paper profile {name!r} (looked in {searched})")
    overrides = {
        k: settings[k]
        for k in ("columns", "dots", "codepage", "qr_size", "qr_native", "cut", "drawer_pin")
        if k in settings
    }
    if "model" in settings:
        overrides["escpos_model"] = settings["model"]
    return PaperProfile.from_dict({**data, **overrides, "name": name})
