"""A till process killed at random moments loses nothing and records nothing twice.

A worker process (``crash_worker.py``) records 1,000 sales with idempotency keys
``crash-00000`` … ``crash-00999``; it is killed with SIGKILL several times in the middle of
its work (at random moments, or right after a commit and before it could see the
confirmation) and restarted after the last sale it saw confirmed, like a till that crashed
and resends what it was not sure of. Finally every sale is resent, with the same keys and the
same content: there must be exactly 1,000 sales, every confirmed sale must come back as the
same sale, and the journal must verify. Runs on a SQLite file and on PostgreSQL.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from feria import journal
from feria.cashbox.models import Sale
from feria.cashbox.sessions import open_session
from feria.db import make_engine, read_session
from feria.testing.plugin import make_fair
from feria.verify import verify

WORKER = Path(__file__).with_name("crash_worker.py")
SALES = 1000
KILLS = 4

pytestmark = pytest.mark.slow


def worker_env() -> dict[str, str]:
    """The worker imports feria exactly as this test process does."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


def start_worker(url: str, session_id: int, start: int, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WORKER), url, str(session_id)]
        + ["--start", str(start), "--count", str(SALES - start), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=worker_env(),
    )


def confirmed(line: str) -> tuple[int, int, int, int]:
    i, sale_id, seq, replayed = (int(x) for x in line.split())
    return i, sale_id, seq, replayed


def run_until_killed(proc: subprocess.Popen, rng: random.Random, self_kill: bool) -> list[str]:
    """The lines the worker printed before it died: killed by us after a random while, or
    (``self_kill``) by itself between a commit and its confirmation."""
    try:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        if not self_kill:
            # Let it record for a random while (at least one sale), then pull the plug.
            first = proc.stdout.readline()
            time.sleep(rng.uniform(0.0, 0.4))
            proc.send_signal(signal.SIGKILL)
        else:
            first = ""
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, err
    return (first + out).splitlines()


def test_killed_till_resends_and_nothing_is_lost_or_doubled(database_url):
    engine = make_engine(database_url)
    try:
        fx = make_fair(engine)
        session = open_session(
            engine, till_id=fx.till_id, user_id=fx.users["cashier"], float_amount=0
        )
        rng = random.Random()
        seen: dict[int, int] = {}  # sale number i -> sale id the till saw confirmed
        unconfirmed: list[int] = []  # recorded, but the till died before it was told
        resent_unconfirmed = 0
        next_i = 0
        kills = 0
        deadline = time.monotonic() + 120
        while kills < KILLS and next_i < SALES and time.monotonic() < deadline:
            # Every other run the worker dies right after a commit; the others are killed
            # from outside at a random moment, mostly in the middle of a transaction.
            self_kill = kills % 2 == 1
            extra = ("--die-after", str(rng.randint(1, 40))) if self_kill else ()
            lines = run_until_killed(
                start_worker(database_url, session.id, next_i, *extra), rng, self_kill
            )
            got = [confirmed(line) for line in lines]
            if unconfirmed and got and got[0][0] == unconfirmed[-1]:
                # The sale the till never saw confirmed comes back as the one recorded.
                assert got[0][3] == 1, "a sale recorded before the crash was recorded again"
                resent_unconfirmed += 1
            for i, sale_id, _, _ in got:
                seen[i] = sale_id
            kills += 1
            next_i = max(seen, default=-1) + 1
            if self_kill:
                unconfirmed.append(next_i)
        assert kills >= 3, "the worker finished before it could be killed three times"
        with read_session(engine) as db:
            recorded_before = db.scalar(select(func.count()).select_from(Sale))
        # The till was stopped in the middle of its work, not after it, and the sales it
        # died before confirming were recorded all the same.
        assert len(seen) <= recorded_before < SALES
        assert len(set(seen) | set(unconfirmed)) <= recorded_before
        assert resent_unconfirmed >= 1

        # Resend everything: same keys, same content.
        proc = start_worker(database_url, session.id, 0)
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        lines = out.splitlines()
        assert lines[0] == "ready"
        final = [confirmed(line) for line in lines[1:]]
        assert [i for i, *_ in final] == list(range(SALES))
        replayed = {i for i, _, _, r in final if r}
        # Everything recorded before the final run came back as a replay, and nothing else.
        assert len(replayed) == recorded_before
        for i, sale_id, _, _ in final:
            if i in seen:
                assert sale_id == seen[i], f"sale {i} was confirmed as {seen[i]}, now {sale_id}"
        assert set(unconfirmed) <= replayed
        assert len({sale_id for _, sale_id, _, _ in final}) == SALES

        with read_session(engine) as db:
            keys = db.scalars(select(Sale.idempotency_key).order_by(Sale.id)).all()
            assert sorted(keys) == [f"crash-{i:05d}" for i in range(SALES)]
            assert db.scalar(select(func.count()).select_from(Sale)) == SALES
            result = verify(db)
            entries = db.scalar(select(func.count()).select_from(journal.JournalEntry))
        # The fair's first rule, the session and the sales: nothing else, nothing twice.
        assert result.head.seq == entries == SALES + 2
    finally:
        engine.dispose()
