"""Text cells for CSV files that organizers open in a spreadsheet program.

A spreadsheet reads a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or a
carriage return, which some programs skip before looking) as a formula, and a formula can
fetch a web page or run a command. Names, notes, descriptions and references are typed by
people a fair does not vouch for, so every CSV feria writes passes its *free-text* cells
through :func:`text_cell`, which puts a ``'`` in front of such a cell: spreadsheets then show
it as text (OWASP's advice on CSV injection).

Only text cells: an amount such as ``-1500`` or ``-15,00`` is written as it is, so that it
stays a number in the spreadsheet.

:func:`read_text_cell` undoes :func:`text_cell`, for files that are read back (the catalogue's
CSV import reads what its export wrote). The two are exact inverses: a cell that already
starts with ``'`` and then one of those characters gets one more ``'``, and reading removes
exactly one.

This module is part of feria's public API: plugins that write CSV use it too.
"""

from __future__ import annotations

import re

__all__ = ["FORMULA_STARTS", "read_text_cell", "text_cell"]

FORMULA_STARTS = "=+-@\t\r"
"""The characters that make a spreadsheet read a cell as a formula when it starts with one."""

_ESCAPE = re.compile(r"'*[" + re.escape(FORMULA_STARTS) + "]")
_ESCAPED = re.compile(r"'+[" + re.escape(FORMULA_STARTS) + "]")


def text_cell(value: object) -> str:
    """``value`` as a CSV cell a spreadsheet shows as text, never runs as a formula.

    ``None`` is an empty cell. Use it for free text only, never for amounts."""
    text = "" if value is None else str(value)
    return "'" + text if _ESCAPE.match(text) else text


def read_text_cell(cell: str) -> str:
    """The text :func:`text_cell` was given to write ``cell``."""
    return cell[1:] if _ESCAPED.match(cell) else cell
