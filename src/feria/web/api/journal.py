"""The journal over HTTP. The head is public: anyone may note it (it is printed on every
receipt too) and later check that the chain still leads to it. The entries are for
organizers, paged; each comes with its exact canonical body, so a client can recompute
``sha256(prev_hash ‖ body)`` itself."""

from __future__ import annotations

from starlette.responses import Response

from feria import journal
from feria.db import read_session
from feria.web.api.base import Call, endpoint, json

MAX_PAGE = 500


@endpoint(public=True)
def head(call: Call) -> Response:
    with read_session(call.engine) as db:
        h = journal.head(db)
    return json({"seq": h.seq, "hash": h.hash})


@endpoint("organizer")
def entries(call: Call) -> Response:
    after = call.query_int("after", default=0, minimum=0, maximum=2**62)
    limit = call.query_int("limit", default=100, minimum=1, maximum=MAX_PAGE)
    with read_session(call.engine) as db:
        rows = journal.entries(db, after=after, limit=limit)
    return json(
        {
            "entries": [
                {
                    "seq": e.seq,
                    "kind": e.kind,
                    "fair": e.fair_id,
                    "at": e.at.isoformat(timespec="microseconds"),
                    "body": e.body,
                    "prev_hash": e.prev_hash,
                    "hash": e.hash,
                }
                for e in rows
            ],
            "next_after": rows[-1].seq if len(rows) == limit else None,
        }
    )
