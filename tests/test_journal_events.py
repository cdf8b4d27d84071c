"""What a journal entry may hold: the checks :func:`feria.journal.append` makes before it
hashes anything. Runs on SQLite and PostgreSQL (the ``engine`` fixture)."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict

import pytest

from feria import journal
from feria.db import read_session, write_session

journal.register_entry_kind("testkit.event")
AT = dt.datetime(2026, 12, 1, 10, 0)


def _append(engine, event):
    with write_session(engine) as db:
        return journal.append(db, "testkit.event", event, fair_id=None, at=AT)


@pytest.mark.parametrize(
    "event",
    [
        {"amount": 1.5},
        {"lines": [{"no": 1, "total": 2.0}]},
        {"deep": {"a": [1, (2, {"b": [0.1]})]}},
        {"kept": OrderedDict(rate=0.5)},
        {"nan": float("nan")},
    ],
    ids=["top", "in-a-list", "deep-in-a-tuple", "dict-subclass", "nan"],
)
def test_a_float_anywhere_is_refused_and_nothing_is_written(engine, event):
    with read_session(engine) as db:
        before = journal.head(db)
    with pytest.raises(TypeError, match="never hold floats"):
        _append(engine, event)
    with read_session(engine) as db:
        assert journal.head(db) == before


def test_ints_strings_booleans_and_none_at_any_depth_are_kept_as_given(engine):
    event = {"n": 12990, "q": "1.235", "ok": True, "none": None, "rows": [[1, "a", False]]}
    appended = _append(engine, event)
    with read_session(engine) as db:
        entry = db.get(journal.JournalEntry, appended.seq)
        assert journal.verify_chain(db).seq == appended.seq
    assert '"q":"1.235"' in entry.body and '"rows":[[1,"a",false]]' in entry.body
