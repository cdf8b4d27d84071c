"""Reading a JSON request body strictly, so every refusal names the field at fault.

Numbers with a fraction are read as :class:`~decimal.Decimal`, never as floats: an amount
is an integer of minor units and a quantity is exact. A field the API does not know is
refused rather than ignored, so a typo (``"quantiy"``) never silently sells one unit.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from feria.web.problems import InvalidRequest, MalformedRequest

_MISSING = object()

# The largest integer either database stores (SQLite's INTEGER, PostgreSQL's BIGINT): a
# bigger one cannot even be bound to a query, so it is refused here, naming the field.
MAX_INTEGER = 2**63 - 1


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json(raw: bytes) -> Any:
    """The JSON value of ``raw``; a body that is not JSON is a 400 problem."""
    if not raw.strip():
        raise MalformedRequest("expected a JSON body")
    try:
        return json.loads(raw, parse_float=Decimal, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedRequest(f"the body is not valid JSON: {exc}") from exc


class Fields:
    """One JSON object, read field by field. Call :meth:`done` when every field was read:
    it refuses the fields nobody asked for."""

    def __init__(self, value: Any, where: str = "") -> None:
        if not isinstance(value, dict):
            raise InvalidRequest(
                f"{where or 'the body'}: expected a JSON object", field=where or None
            )
        self._data = value
        self._where = where
        self._seen: set[str] = set()

    def name(self, key: str) -> str:
        return f"{self._where}.{key}" if self._where else key

    def _get(self, key: str, required: bool) -> Any:
        self._seen.add(key)
        value = self._data.get(key)
        if value is None:
            if required:
                raise InvalidRequest(
                    f"{self.name(key)}: this field is required", field=self.name(key)
                )
            return _MISSING
        return value

    def _wrong(self, key: str, expected: str) -> InvalidRequest:
        return InvalidRequest(f"{self.name(key)}: expected {expected}", field=self.name(key))

    def integer(
        self,
        key: str,
        *,
        required: bool = False,
        default: int | None = None,
        minimum: int = 0,
        maximum: int = MAX_INTEGER,
    ) -> int | None:
        value = self._get(key, required)
        if value is _MISSING:
            return default
        if type(value) is not int or not minimum <= value <= maximum:
            raise self._wrong(key, f"an integer from {minimum} to {maximum}")
        return value

    def text(
        self,
        key: str,
        *,
        required: bool = False,
        default: str | None = None,
        max_length: int = 300,
    ) -> str | None:
        value = self._get(key, required)
        if value is _MISSING:
            return default
        if not isinstance(value, str) or len(value) > max_length:
            raise self._wrong(key, f"a string of at most {max_length} characters")
        return value

    def decimal(self, key: str, *, default: str = "1") -> Decimal | int | str:
        """A quantity: a JSON number or the decimal text a person typed (``"1.235"``)."""
        value = self._get(key, False)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
            raise self._wrong(key, 'a decimal number or text such as "1.5"')
        return value

    def counts(self, key: str, *, required: bool = False) -> dict[str, int] | None:
        """An object of integers (``{"CLP": 12000}``, ``{"10000": 3}``)."""
        value = self._get(key, required)
        if value is _MISSING:
            return None
        if not isinstance(value, dict):
            raise self._wrong(key, "an object of integers")
        for k, v in value.items():
            if type(v) is not int or abs(v) > MAX_INTEGER:
                raise InvalidRequest(
                    f"{self.name(key)}.{k}: expected an integer of at most {MAX_INTEGER}",
                    field=f"{self.name(key)}.{k}",
                )
        return dict(value)

    def data(self, key: str) -> dict[str, Any]:
        """Free-form data a plugin reads (a voucher's serial): it is kept in the journal, so
        it holds only strings, integers, booleans, lists and objects."""
        value = self._get(key, False)
        if value is _MISSING:
            return {}
        if not isinstance(value, dict):
            raise self._wrong(key, "an object")
        _check_plain(value, self.name(key))
        return value

    def objects(self, key: str, *, required: bool = False, max_items: int = 500) -> list[Fields]:
        """A list of objects, each read with its own :class:`Fields` (``lines[2]``)."""
        value = self._get(key, required)
        if value is _MISSING:
            return []
        if not isinstance(value, list) or len(value) > max_items:
            raise self._wrong(key, f"a list of at most {max_items} objects")
        return [Fields(item, f"{self.name(key)}[{i}]") for i, item in enumerate(value)]

    def integers(self, key: str, *, max_items: int = 500) -> list[int] | None:
        value = self._get(key, False)
        if value is _MISSING:
            return None
        if (
            not isinstance(value, list)
            or len(value) > max_items
            or any(type(v) is not int or abs(v) > MAX_INTEGER for v in value)
        ):
            raise self._wrong(key, f"a list of at most {max_items} integers")
        return value

    def done(self) -> None:
        for key in self._data:
            if key not in self._seen:
                raise InvalidRequest(f"{self.name(key)}: unknown field", field=self.name(key))


def _check_plain(value: Any, where: str) -> None:
    if isinstance(value, Decimal):
        raise InvalidRequest(f"{where}: numbers here must be integers", field=where)
    if isinstance(value, dict):
        for k, v in value.items():
            _check_plain(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_plain(v, f"{where}[{i}]")
