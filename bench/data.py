"""Bulk data for the settlement and verify benchmarks.

Ringing a million lines up through the engine would take hours, so these benchmarks build
their databases directly. The fair is set up through feria's own services (migrations, the
catalogue, a cashier, a till and an open cash session, so the chain starts with a real
``rule_version`` and ``session_open`` entry); then sales are written with plain ``sqlite3``
``executemany`` straight into ``journal_entries`` and the derived tables.

The generated sales are what the engine would record: bodies in the canonical serialization
of real sale entries (catalogue lines, some weighed, two cash tenders with change given from
the last, the splits of :func:`feria.cashbox.split.split_sale` and the cooperative members'
parts of :func:`feria.cashbox.split.split_members`), hashed into the chain, and derived rows
that match them column for column: ``feria verify`` passes on a generated database (the
verify benchmark checks it does) and ``settle`` balances.

To be fast, 256 sale *shapes* (how many producers, which lines are weighed, the prices and
quantities, the tenders and the splits) are sold by 4,096 random sets of the fair's
producers, and each such combination is serialized once into a template with its derived
rows; a sale then only fills in its number, time, idempotency key and fingerprint (random
hex, where the engine hashes the till's request). Everything is seeded, so every run writes
the same database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import shutil
import sqlite3
import tempfile
from collections import defaultdict
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

CURRENCY = "CLP"
SOLIDARITY_BP = 500
COOP_SHARES = (("Ana", 6000), ("Luis", 4000))
SHAPES = 256
COMBOS = 4096
BATCH = 20_000
SEED = 20261201

# How many producers one sale's lines belong to, and how often.
_PRODUCERS_PER_SALE = ((1, 20), (2, 45), (3, 30), (4, 5))
_WEIGHED = ("0.35", "0.5", "0.75", "1.235", "2.1")
_PIECES = ("1", "1", "1", "2", "3")


@dataclass(frozen=True)
class BenchFair:
    """The ids of a generated fair and where its database is."""

    path: Path
    fair_id: int
    session_id: int
    user_id: int
    rule_id: int
    opened_at: dt.datetime
    producers: tuple[int, ...]  # ascending ids
    coops: frozenset[int]
    members: dict[int, tuple[int, ...]]  # cooperative -> member ids, in id order
    products: dict[int, tuple[tuple[int, str], tuple[int, str]]]  # (piece, kg): (id, name)

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"


def make_fair_db(path: Path, *, producers: int = 500, coop_every: int = 10) -> BenchFair:
    """A migrated SQLite database with one fair of ``producers`` producers (every
    ``coop_every``-th a cooperative of two members), two products each (by the piece and by
    the kilo), a cashier, a till and an open cash session."""
    from sqlalchemy import select

    from feria import migrate
    from feria.accounts import add_user
    from feria.cashbox.sessions import add_till, open_session
    from feria.catalogue.models import RuleVersion
    from feria.catalogue.service import (
        add_producer,
        add_product,
        create_fair,
        create_network,
        join_fair,
    )
    from feria.db import make_engine, write_session

    engine = make_engine(f"sqlite:///{path}")
    try:
        migrate.upgrade(engine)
        ids: list[int] = []
        coops: set[int] = set()
        members: dict[int, tuple[int, ...]] = {}
        products: dict[int, tuple[tuple[int, str], tuple[int, str]]] = {}
        with write_session(engine) as db:
            net = create_network(db, "bench", "Red de economía solidaria")
            fair = create_fair(
                db,
                net,
                slug="feria-bench",
                name="Feria de prueba de carga",
                starts_on=dt.date(2026, 12, 1),
                ends_on=dt.date(2026, 12, 24),
                currency_code=CURRENCY,
                locale="es_CL",
                solidarity_bp=SOLIDARITY_BP,
            )
            for i in range(1, producers + 1):
                coop = i % coop_every == 0
                p = add_producer(
                    db,
                    net,
                    code=f"P{i:03d}",
                    name=f"{'Cooperativa' if coop else 'Productora'} {i}",
                    kind="cooperative" if coop else "individual",
                    members=list(COOP_SHARES) if coop else None,
                )
                join_fair(db, fair, p, f"S{i}")
                piece = add_product(
                    db,
                    p,
                    sku=f"P{i:03d}-U",
                    name=f"Artesanía {i}",
                    price=1000 + 10 * i,
                    currency_code=CURRENCY,
                )
                kilo = add_product(
                    db,
                    p,
                    sku=f"P{i:03d}-K",
                    name=f"Miel {i}",
                    price=5000 + 10 * i,
                    currency_code=CURRENCY,
                    unit="kg",
                )
                ids.append(p.id)
                products[p.id] = ((piece.id, piece.name), (kilo.id, kilo.name))
                if coop:
                    coops.add(p.id)
                    members[p.id] = tuple(sorted(m.id for m in p.members))
            cashier = add_user(db, "caja-bench", "bench-password", "cashier").id
            till = add_till(db, fair, "T1", "Caja 1").id
            fair_id = fair.id
            rule_id = db.scalar(select(RuleVersion.id).where(RuleVersion.fair_id == fair.id))
        session = open_session(engine, till_id=till, user_id=cashier, float_amount=0)
    finally:
        engine.dispose()
    return BenchFair(
        path=Path(path),
        fair_id=fair_id,
        session_id=session.id,
        user_id=cashier,
        rule_id=rule_id,
        opened_at=session.opened_at,
        producers=tuple(sorted(ids)),
        coops=frozenset(coops),
        members=members,
        products=products,
    )


# -- sale shapes and their templates ----------------------------------------------------------


@dataclass(frozen=True)
class _Shape:
    """A sale's content with its producers as positions 0, 1, … in ascending id order."""

    positions: int  # how many producers
    lines: tuple[tuple[int, int, bool, str, int, int], ...]  # no, position, weighed, q, …
    total: int
    tenders: tuple[tuple[int, int, int, int], ...]  # no, amount, change, applied
    splits: tuple[tuple[int, int, int, int, int, int], ...]  # no, position, gross, w, fee, net


def _shapes(rng: random.Random, n: int, lines: int, tenders: int) -> list[_Shape]:
    from feria.cashbox.split import TenderShare, split_sale
    from feria.money import Money, line_total

    counts, weights = zip(*_PRODUCERS_PER_SALE, strict=True)
    out = []
    for _ in range(n):
        k = min(lines, rng.choices(counts, weights)[0])
        rows = []
        for i in range(lines):
            weighed = rng.random() < 0.25
            q = rng.choice(_WEIGHED if weighed else _PIECES)
            price = rng.randrange(500, 15_000, 10)
            total = line_total(Decimal(q), Money(price, CURRENCY)).amount
            rows.append((i + 1, i % k, weighed, q, price, total))
        total = sum(r[5] for r in rows)
        # Cash in round thousands: the first tender part of the total, the last one the
        # rest rounded up, with the change given from it (as the engine does).
        paid: list[tuple[int, int, int, int]] = []
        due = total
        for no in range(1, tenders + 1):
            if no < tenders:
                amount = max(1, (due // 2) // 1000 * 1000 or due // 2)
                paid.append((no, amount, 0, amount))
                due -= amount
            else:
                amount = -(-due // 1000) * 1000
                paid.append((no, amount, amount - due, due))
        w: dict[int, int] = defaultdict(int)
        for r in rows:
            w[r[1]] += r[5]
        shares = [TenderShare(no, CURRENCY, applied, 0) for no, _, _, applied in paid]
        splits = tuple(
            (s.tender_no, s.producer_id, s.gross, s.withheld, s.fee, s.net)
            for s in split_sale(w, shares, SOLIDARITY_BP)
        )
        out.append(_Shape(k, tuple(rows), total, tuple(paid), splits))
    return out


@dataclass(frozen=True)
class _Combo:
    """One shape sold by one set of producers: the canonical body with only the sale's
    number, key, fingerprint and time left to fill in (``%`` fields), and its derived rows
    without their sale id."""

    text: str
    total: int
    lines: tuple[tuple, ...]  # no, producer, product, description, quantity, unit, price, total
    tenders: tuple[tuple, ...]  # no, amount, change, applied, value
    splits: tuple[tuple, ...]  # no, producer, gross, withheld, fee, net
    members: tuple[tuple, ...]  # producer, member, amount


def _combo(fair: BenchFair, shape: _Shape, pids: list[int]) -> _Combo:
    from feria.cashbox.split import split_members
    from feria.journal import canonical_bytes

    lines = []
    for no, pos, weighed, q, price, total in shape.lines:
        product, name = fair.products[pids[pos]][int(weighed)]
        unit = "kg" if weighed else "piece"
        lines.append((no, pids[pos], product, name, q, unit, price, total))
    splits = [(no, pids[pos], g, w, f, n) for no, pos, g, w, f, n in shape.splits]
    net: dict[tuple[int, str], int] = defaultdict(int)
    for _, pid, _, _, _, n in splits:
        net[(pid, CURRENCY)] += n
    shares = {
        pid: list(zip(fair.members[pid], (bp for _, bp in COOP_SHARES), strict=True))
        for pid in pids
        if pid in fair.coops
    }
    members = [(pid, mid, amount) for pid, mid, _, amount in split_members(net, shares)]
    tenders = [
        (no, amount, change, applied, applied) for no, amount, change, applied in shape.tenders
    ]
    event = {
        "kind": "sale",
        "at": "@at@",
        "sale": "#sale#",
        "fair": fair.fair_id,
        "session": fair.session_id,
        "user": fair.user_id,
        "key": "@key@",
        "fingerprint": "@fp@",
        "rule": fair.rule_id,
        "currency": CURRENCY,
        "total": shape.total,
        "lines": [
            {
                "no": no,
                "producer": pid,
                "product": product,
                "description": name,
                "quantity": q,
                "unit": unit,
                "unit_price": price,
                "total": total,
            }
            for no, pid, product, name, q, unit, price, total in lines
        ],
        "tenders": [
            {
                "no": no,
                "method": "cash",
                "currency": CURRENCY,
                "amount": amount,
                "change": change,
                "applied": applied,
                "rate": "1",
                "value": value,
                "fee": 0,
                "in_drawer": True,
                "reference": "",
                "data": {},
            }
            for no, amount, change, applied, value in tenders
        ],
        "splits": [[no, pid, CURRENCY, g, w, f, n] for no, pid, g, w, f, n in splits],
        "members": [[pid, mid, CURRENCY, amount] for pid, mid, amount in members],
        "refers_to": None,
    }
    text = canonical_bytes(event).decode("utf-8").replace("%", "%%")
    for mark, field in (
        ('"#sale#"', "%(sale)d"),
        ("@at@", "%(at)s"),
        ("@key@", "%(key)s"),
        ("@fp@", "%(fp)s"),
    ):
        text = text.replace(mark, field)
    return _Combo(text, shape.total, tuple(lines), tuple(tenders), tuple(splits), tuple(members))


def _combos(fair: BenchFair, rng: random.Random, n: int, lines: int, tenders: int) -> list[_Combo]:
    shapes = _shapes(rng, SHAPES, lines, tenders)
    out = []
    for _ in range(n):
        shape = shapes[rng.randrange(SHAPES)]
        out.append(_combo(fair, shape, sorted(rng.sample(fair.producers, shape.positions))))
    return out


# -- writing sales ----------------------------------------------------------------------------

_SQL = {
    "journal": "INSERT INTO journal_entries (seq, kind, fair_id, at, body, prev_hash, hash) "
    "VALUES (?, 'sale', ?, ?, ?, ?, ?)",
    "sales": "INSERT INTO sales (id, kind, fair_id, session_id, user_id, refers_to, "
    "idempotency_key, fingerprint, rule_version_id, currency, total, at, seq) "
    "VALUES (?, 'sale', ?, ?, ?, NULL, ?, ?, ?, 'CLP', ?, ?, ?)",
    "lines": "INSERT INTO sale_lines (sale_id, line_no, producer_id, product_id, description, "
    "quantity, unit, unit_price, total, refers_line) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
    "tenders": "INSERT INTO tenders (sale_id, tender_no, method, currency, amount, change, "
    "applied, rate, value, fee, in_drawer, reference, data) "
    "VALUES (?, ?, 'cash', 'CLP', ?, ?, ?, '1', ?, 0, 1, '', '{}')",
    "splits": "INSERT INTO splits (sale_id, tender_no, producer_id, currency, gross, withheld, "
    "fee, net) VALUES (?, ?, ?, 'CLP', ?, ?, ?, ?)",
    "members": "INSERT INTO member_splits (sale_id, producer_id, member_id, currency, amount) "
    "VALUES (?, ?, ?, 'CLP', ?)",
}


@dataclass(frozen=True)
class Written:
    sales: int
    lines: int
    splits: int
    entries: int  # journal entries in the database afterwards (the head's seq)


def _secondary_indexes(con: sqlite3.Connection) -> list[tuple[str, str]]:
    """The migrations' plain indexes on the tables written here (not the UNIQUE ones)."""
    tables = ("journal_entries", "sales", "sale_lines", "tenders", "splits", "member_splits")
    marks = ",".join("?" * len(tables))
    return con.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        f"AND tbl_name IN ({marks})",
        tables,
    ).fetchall()


def add_sales(
    fair: BenchFair,
    n: int,
    *,
    lines: int = 4,
    tenders: int = 2,
    journal: bool = True,
    derived: bool = True,
    seed: int = SEED,
) -> Written:
    """Append ``n`` sales of ``lines`` lines and ``tenders`` tenders to the fair.

    ``journal`` writes their entries (the chain continues from the head); ``derived``
    writes their rows in ``sales``, ``sale_lines``, ``tenders``, ``splits`` and
    ``member_splits``. Without the journal the head's ``seq`` is still moved past the
    sales (so a settlement as of the head counts them) but the chain is not extended, and
    ``feria verify`` would rightly refuse the database.

    The load runs without fsync and with the plain indexes dropped, which are then
    created again as the migrations define them (a bulk load's usual order).
    """
    rng = random.Random(seed)
    combos = _combos(fair, rng, COMBOS, lines, tenders)
    fair_id, session_id, user_id = fair.fair_id, fair.session_id, fair.user_id
    rule_id = fair.rule_id
    sha256 = hashlib.sha256
    pick, bits = rng.randrange, rng.getrandbits
    start = fair.opened_at + dt.timedelta(seconds=1)
    step = dt.timedelta(milliseconds=40)
    lines_written = splits_written = 0

    con = sqlite3.connect(fair.path, isolation_level=None)
    con.execute("PRAGMA journal_mode=MEMORY")  # a bulk load into a scratch file
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-262144")
    seq, prev_hex = con.execute("SELECT seq, hash FROM journal_head WHERE id = 1").fetchone()
    prev = bytes.fromhex(prev_hex)
    sale_id = con.execute("SELECT coalesce(max(id), 0) FROM sales").fetchone()[0]
    indexes = _secondary_indexes(con)

    def write(rows: dict[str, list[tuple]], head: tuple[int, str]) -> None:
        con.execute("BEGIN")
        for name, sql in _SQL.items():
            if rows[name]:
                con.executemany(sql, rows[name])
        con.execute("UPDATE journal_head SET seq = ?, hash = ? WHERE id = 1", head)
        con.execute("COMMIT")

    try:
        for name, _ in indexes:
            con.execute(f"DROP INDEX {name}")
        done = 0
        while done < n:
            batch = min(BATCH, n - done)
            rows: dict[str, list[tuple]] = {name: [] for name in _SQL}
            journal_rows, sale_rows = rows["journal"], rows["sales"]
            line_rows, tender_rows = rows["lines"], rows["tenders"]
            split_rows, member_rows = rows["splits"], rows["members"]
            for i in range(done, done + batch):
                seq += 1
                sale_id += 1
                c = combos[pick(COMBOS)]
                at_body = (start + step * i).isoformat(timespec="microseconds")
                at_col = at_body.replace("T", " ")
                key = f"{bits(128):032x}"
                fp = f"{bits(256):064x}"
                if journal:
                    body = c.text % {"sale": sale_id, "at": at_body, "key": key, "fp": fp}
                    h = sha256(prev + body.encode("utf-8"))
                    digest = h.hexdigest()
                    journal_rows.append((seq, fair_id, at_col, body, prev_hex, digest))
                    prev, prev_hex = h.digest(), digest
                if derived:
                    sale_rows.append(
                        (
                            sale_id,
                            fair_id,
                            session_id,
                            user_id,
                            key,
                            fp,
                            rule_id,
                            c.total,
                            at_col,
                            seq,
                        )
                    )
                    line_rows += [(sale_id, *r) for r in c.lines]
                    tender_rows += [(sale_id, *r) for r in c.tenders]
                    split_rows += [(sale_id, *r) for r in c.splits]
                    if c.members:
                        member_rows += [(sale_id, *r) for r in c.members]
            write(rows, (seq, prev_hex))
            lines_written += len(line_rows)
            splits_written += len(split_rows)
            done += batch
    finally:
        for _, sql in indexes:
            con.execute(sql)
        con.execute("PRAGMA journal_mode=WAL")
        con.close()
    return Written(sales=n, lines=lines_written, splits=splits_written, entries=seq)


_FAIRS: dict[tuple[int, int], tuple[tempfile.TemporaryDirectory, BenchFair]] = {}


def fresh_fair(path: Path, *, producers: int = 500, coop_every: int = 10) -> BenchFair:
    """A copy at ``path`` of the fair of :func:`make_fair_db`, which is set up only once per
    process (migrations and 500 producers take seconds) in a temporary folder of its own."""
    key = (producers, coop_every)
    if key not in _FAIRS:
        folder = tempfile.TemporaryDirectory(prefix="feria-bench-")
        fair = make_fair_db(
            Path(folder.name) / "fair.db", producers=producers, coop_every=coop_every
        )
        con = sqlite3.connect(fair.path)
        try:
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # one file to copy
        finally:
            con.close()
        _FAIRS[key] = (folder, fair)
    fair = _FAIRS[key][1]
    shutil.copyfile(fair.path, path)
    return replace(fair, path=Path(path))


def entries_in(path: Path) -> int:
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT seq FROM journal_head WHERE id = 1").fetchone()[0]
    finally:
        con.close()
