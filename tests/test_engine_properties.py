"""Properties of the caja común that must hold after any sequence of operations.

A hypothesis state machine opens and closes sessions, rings up sales (several tenders, a
card-like method, a foreign currency, free lines, weighed items), refunds, voids, pays
producers out and changes the fair's rules, on a fresh database per run; after every step
it checks that the money adds up to the last unit and that the record verifies. The split
rule itself is checked on its own with plain property tests.
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import feria_cash
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from feria import hookimpl, journal
from feria.cashbox.errors import (
    InsufficientPayment,
    NotAllowed,
    RefundNotAllowed,
    SessionClosed,
)
from feria.cashbox.models import CashSession, MemberSplit, Sale, SaleLine, Split, Tender
from feria.cashbox.refunds import refund_sale, void_sale
from feria.cashbox.sales import LineRequest, TenderRequest, record_sale
from feria.cashbox.sessions import add_till, close_session, open_session, record_movement
from feria.cashbox.split import BP_WHOLE, TenderShare, split_sale
from feria.catalogue.models import Fair, Product
from feria.catalogue.rules import add_rule_version
from feria.db import make_engine, read_session, write_session
from feria.money import Money, convert, line_total
from feria.payments import Authorization, PaymentMethod
from feria.plugins import get_plugin_manager
from feria.settlement import (
    PayoutExceedsBalance,
    acknowledge_payout,
    balance_owed,
    record_payout,
    settle,
)
from feria.testing.plugin import make_fair
from feria.verify import verify

PRICES = {"honey": 8000, "tomato": 3, "scarf": 12990}  # CLP per kg, per g, per piece
HONEY_BARCODE = "7800000000016"
SCARF_BARCODE = "7800000000023"
FIRST_USD_RATE = "950"


# -- the test's card method --------------------------------------------------------------------


class CardMethod(PaymentMethod):
    code = "card"
    name = "Card"
    gives_change = False
    supports_refund = True

    def __init__(self, plugin: CardPlugin) -> None:
        self.plugin = plugin

    def authorize(self, tender, sale):
        if self.plugin.stated_fee is None:
            return Authorization.approve()
        fee = min(self.plugin.stated_fee, tender.amount.amount)
        return Authorization.approve(fee=Money(fee, tender.amount.currency))

    def refund(self, tender, sale):
        return Authorization.approve()


class CardPlugin:
    def __init__(self) -> None:
        self.stated_fee: int | None = None

    @hookimpl
    def feria_payment_methods(self, fair):
        return [CardMethod(self)]


# -- fresh databases holding a fair ------------------------------------------------------------


def _prepare_fair(url: str) -> dict:
    """Make the fixture fair, two more tills and a rule accepting dollars, at ``url``."""
    engine = make_engine(url)
    try:
        fx = make_fair(engine)
        with read_session(engine) as db:  # the prices the machine computes totals with
            for name, price in PRICES.items():
                assert (
                    db.scalar(select(Product.price).where(Product.id == fx.products[name])) == price
                )
        with write_session(engine) as db:
            fair = db.get(Fair, fx.fair_id)
            tills = [fx.till_id, add_till(db, fair, "T2").id, add_till(db, fair, "T3").id]
            add_rule_version(
                db,
                fair,
                solidarity_bp=500,
                fees={"card": {"bp": 300}},
                rates={"USD": FIRST_USD_RATE},
                effective_at=dt.datetime(2000, 1, 2),
                note="dollars accepted",
            )
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    return {"fx": fx, "tills": tills}


@pytest.fixture(scope="module")
def sqlite_fair(feria_templates, tmp_path_factory):
    if "sqlite:empty" not in feria_templates:
        pytest.skip("SQLite is not among FERIA_TEST_DATABASES")
    path = tmp_path_factory.mktemp("fair-template") / "fair.db"
    shutil.copyfile(feria_templates["sqlite:empty"], path)
    made = _prepare_fair(f"sqlite:///{path}")
    counter = iter(range(1_000_000))

    def new_database() -> tuple[str, Callable[[], None]]:
        copy = path.with_name(f"run-{next(counter)}.db")
        shutil.copyfile(path, copy)

        def drop() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{copy}{suffix}").unlink(missing_ok=True)

        return f"sqlite:///{copy}", drop

    return made, new_database


@pytest.fixture(scope="module")
def postgres_fair(feria_templates, request):
    if "postgresql:empty" not in feria_templates:
        pytest.skip("PostgreSQL is not among FERIA_TEST_DATABASES")
    server = request.getfixturevalue("feria_postgres")
    template = f"fair_props_{uuid.uuid4().hex[:12]}"
    server.create_database(template, template=feria_templates["postgresql:empty"])
    made = _prepare_fair(server.url(template))

    def new_database() -> tuple[str, Callable[[], None]]:
        name = f"props_{uuid.uuid4().hex[:12]}"
        server.create_database(name, template=template)
        return server.url(name), lambda: server.drop_database(name)

    yield made, new_database
    server.drop_database(template)


# -- strategies --------------------------------------------------------------------------------


def _quantity(thousandths: int) -> str:
    return str(Decimal(thousandths) / 1000)


LINE = st.one_of(
    st.builds(
        lambda q, by_barcode: ("honey", _quantity(q), by_barcode),
        st.integers(1, 5000),
        st.booleans(),
    ),
    st.builds(lambda grams: ("tomato", str(grams), False), st.integers(1, 3000)),
    st.builds(lambda n: ("scarf", str(n), True), st.integers(1, 3)),
    st.builds(
        lambda code, amount: ("free", code, amount),
        st.sampled_from(["P01", "P02", "P07", "p07"]),
        st.integers(1, 60_000),
    ),
)

PAYMENT = st.fixed_dictionaries(
    {
        "usd_cents": st.one_of(st.none(), st.integers(1, 3000)),
        "usd_method": st.sampled_from(["cash", "card"]),
        "card_share": st.one_of(st.none(), st.fractions(0, 1)),
        "stated_fee": st.one_of(st.none(), st.integers(0, 500)),
        "extra_cash": st.sampled_from([0, 0, 1, 10, 130, 5000]),
        "short": st.sampled_from([False, False, False, False, True]),
    }
)


# -- the state machine -------------------------------------------------------------------------


def machine_for(made: dict, new_database, stats: Counter) -> type[RuleBasedStateMachine]:
    """The state machine, on fresh copies of ``made``'s fair; ``stats`` counts what it did."""
    fx = made["fx"]
    tills = made["tills"]
    coop = fx.producers["P07"]

    class CajaComun(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            url, self.drop = new_database()
            self.engine = make_engine(url)
            # Cash and the test's card only: the properties must not depend on whatever
            # other plugins happen to be installed.
            self.pm = get_plugin_manager(load_entry_points=False, extra=[feria_cash])
            self.card = CardPlugin()
            self.pm.register(self.card, name="test-card")
            with read_session(self.engine) as db:
                self.entries = journal.head(db).seq
            self.open: dict[int, int] = {}  # till -> open session
            self.session_open: dict[int, bool] = {}  # session -> open?
            # sale id -> {"session", "lines": [line total, …], "returned": {line no}, "voided"}
            self.sales: dict[int, dict] = {}
            self.corrections: set[int] = set()  # refunds and voids
            self.requests: dict[str, tuple] = {}
            self.usd_rate = FIRST_USD_RATE
            self.payouts: list[tuple[int, int]] = []  # (payout id, producer id)
            self.keys = 0
            self.done: Counter = Counter()

        def teardown(self) -> None:
            self.engine.dispose()
            self.drop()

        def key(self, kind: str) -> str:
            self.keys += 1
            return f"{kind}-{self.keys:06d}"

        def appended(self, what: str) -> None:
            self.entries += 1
            self.done[what] += 1
            stats[what] += 1

        # -- sessions ------------------------------------------------------------------

        @initialize()
        def first_session(self):
            cs = open_session(
                self.engine, till_id=tills[0], user_id=fx.users["cashier"], float_amount=20000
            )
            self.open[tills[0]] = cs.id
            self.session_open[cs.id] = True
            self.appended("session_open")

        @rule(till=st.sampled_from(tills), float_amount=st.sampled_from([0, 10000, 20000]))
        def open_session(self, till, float_amount):
            if till in self.open:
                with pytest.raises(SessionClosed):
                    open_session(
                        self.engine, till_id=till, user_id=fx.users["cashier"], float_amount=0
                    )
                return
            cs = open_session(
                self.engine, till_id=till, user_id=fx.users["cashier"], float_amount=float_amount
            )
            self.open[till] = cs.id
            self.session_open[cs.id] = True
            self.appended("session_open")

        # A shift is long: at most two closes per run, so most steps find a till open.
        @precondition(lambda self: self.open and self.done["session_close"] < 2)
        @rule(data=st.data(), counted=st.integers(0, 200_000))
        def close_session(self, data, counted):
            till = data.draw(st.sampled_from(sorted(self.open)))
            sid = self.open.pop(till)
            z = close_session(
                self.engine,
                self.pm,
                session_id=sid,
                user_id=fx.users["cashier"],
                counted={"CLP": counted},
            )
            assert z["discrepancy"]["CLP"] == counted - z["expected_cash"]["CLP"]
            self.session_open[sid] = False
            self.appended("session_close")

        @precondition(lambda self: self.open)
        @rule(data=st.data(), kind=st.sampled_from(["paid_in", "paid_out"]))
        def move_cash(self, data, kind):
            sid = self.open[data.draw(st.sampled_from(sorted(self.open)))]
            record_movement(
                self.engine,
                session_id=sid,
                kind=kind,
                amount=data.draw(st.integers(1, 5000)),
                reason="change",
                user_id=fx.users["cashier"],
            )
            self.appended("movement")

        # -- rules -----------------------------------------------------------------------

        # The assembly decides rarely: at most two new versions per run.
        @precondition(lambda self: self.done["rule_version"] < 2)
        @rule(
            solidarity_bp=st.integers(0, 2000),
            card_bp=st.integers(0, 500),
            card_fixed=st.sampled_from([0, 0, 50]),
            usd_rate=st.sampled_from(["950", "912.5", "1000.25", "937.123456"]),
        )
        def new_rule_version(self, solidarity_bp, card_bp, card_fixed, usd_rate):
            with write_session(self.engine) as db:
                add_rule_version(
                    db,
                    db.get(Fair, fx.fair_id),
                    solidarity_bp=solidarity_bp,
                    fees={"card": {"bp": card_bp, "fixed": card_fixed}},
                    rates={"USD": usd_rate},
                )
            self.usd_rate = usd_rate
            self.appended("rule_version")

        # -- sales -----------------------------------------------------------------------

        @precondition(lambda self: self.open)
        @rule(data=st.data(), lines=st.lists(LINE, min_size=1, max_size=4), pay=PAYMENT)
        def sell(self, data, lines, pay):
            self.ring_up(data, lines, pay)

        # A second rule doing the same makes sales the most frequent step, as at a fair.
        @precondition(lambda self: self.open)
        @rule(data=st.data(), lines=st.lists(LINE, min_size=1, max_size=2), pay=PAYMENT)
        def sell_few_items(self, data, lines, pay):
            self.ring_up(data, lines, pay)

        # An order paid online: no till, no cash; it can be voided whenever.
        @rule(data=st.data(), lines=st.lists(LINE, min_size=1, max_size=3), pay=PAYMENT)
        def order_online(self, data, lines, pay):
            self.ring_up(data, lines, pay, online=True)

        def ring_up(self, data, lines, pay, online: bool = False):
            if online:
                sid = None
                where = {"fair_id": fx.fair_id}
            else:
                sid = self.open[data.draw(st.sampled_from(sorted(self.open)))]
                where = {"session_id": sid}
            requests, totals = [], []
            for kind, a, b in lines:
                if kind == "free":
                    requests.append(LineRequest(producer_code=a, amount=b))
                    totals.append(b)
                    continue
                if kind == "honey" and b:
                    requests.append(LineRequest(barcode=HONEY_BARCODE, quantity=a))
                elif kind == "scarf":
                    requests.append(LineRequest(barcode=SCARF_BARCODE, quantity=a))
                else:
                    requests.append(LineRequest(product_id=fx.products[kind], quantity=a))
                totals.append(line_total(Decimal(a), Money(PRICES[kind], "CLP")).amount)
            total = sum(totals)

            tenders, due = [], total
            if pay["usd_cents"]:
                cents = pay["usd_cents"]
                while cents and convert(Money(cents, "USD"), self.usd_rate, "CLP").amount > due:
                    cents //= 2
                if cents:
                    method = "card" if online else pay["usd_method"]
                    tenders.append(TenderRequest(method, cents, "USD"))
                    due -= convert(Money(cents, "USD"), self.usd_rate, "CLP").amount
            if pay["card_share"] is not None and due > 0:
                part = int(due * pay["card_share"])
                if part:
                    tenders.append(TenderRequest("card", part))
                    due -= part
            # Paying 1 short needs some tender left to pay with (a sale of 1 paid with
            # nothing is refused for having no tender at all).
            short = pay["short"] and due > 0 and bool(tenders or due > 1)
            rest = due - 1 if short else due + (0 if online else pay["extra_cash"])
            if rest > 0:
                tenders.append(TenderRequest("card" if online else "cash", rest))
            if not tenders and not short:
                tenders.append(TenderRequest("card" if online else "cash", total))
            self.card.stated_fee = pay["stated_fee"]
            key = self.key("sale")
            if short:
                with pytest.raises(InsufficientPayment) as err:
                    record_sale(
                        self.engine, self.pm, key=key, lines=requests, tenders=tenders, **where
                    )
                assert err.value.details["due"] == 1
                return
            sale = record_sale(
                self.engine, self.pm, key=key, lines=requests, tenders=tenders, **where
            )
            assert not sale.replayed
            assert sale.total.amount == total
            assert [ln["total"] for ln in sale.body["lines"]] == totals
            self.sales[sale.id] = {
                "session": sid,
                "lines": totals,
                "returned": set(),
                "voided": False,
            }
            self.requests[key] = (where, requests, tenders, sale)
            self.appended("sale")

        @precondition(lambda self: self.requests)
        @rule(data=st.data())
        def resend_sale(self, data):
            key = data.draw(st.sampled_from(sorted(self.requests)))
            where, requests, tenders, first = self.requests[key]
            again = record_sale(
                self.engine, self.pm, key=key, lines=requests, tenders=tenders, **where
            )
            assert again.replayed
            assert (again.id, again.seq, again.hash) == (first.id, first.seq, first.hash)

        # -- refunds and voids -------------------------------------------------------------

        @precondition(lambda self: self.sales and self.open)
        @rule(data=st.data())
        def refund(self, data):
            sale_id = data.draw(st.sampled_from(sorted(self.sales)))
            sale = self.sales[sale_id]
            sid = self.open[data.draw(st.sampled_from(sorted(self.open)))]
            all_lines = range(1, len(sale["lines"]) + 1)
            line_nos = data.draw(
                st.none() | st.lists(st.sampled_from(all_lines), min_size=1, unique=True)
            )
            wanted = (
                sorted(set(all_lines) - sale["returned"]) if line_nos is None else sorted(line_nos)
            )
            amount = sum(sale["lines"][n - 1] for n in wanted)
            card_part = data.draw(st.integers(0, amount)) if amount else 0
            tenders = [TenderRequest("card", card_part)] if card_part else []
            if amount - card_part:
                tenders.append(TenderRequest("cash", amount - card_part))
            refused = sale["voided"] or not wanted or set(wanted) & sale["returned"]
            call = dict(
                sale_id=sale_id,
                key=self.key("refund"),
                user_id=fx.users["cashier"],
                session_id=sid,
                line_nos=line_nos,
                tenders=tenders,
            )
            if refused:
                with pytest.raises(RefundNotAllowed):
                    refund_sale(self.engine, self.pm, **call)
                return
            back = refund_sale(self.engine, self.pm, **call)
            assert back.total.amount == -amount
            assert [ln["refers_line"] for ln in back.body["lines"]] == wanted
            sale["returned"].update(wanted)
            self.corrections.add(back.id)
            self.appended("refund")

        @precondition(lambda self: self.sales)
        @rule(data=st.data(), by=st.sampled_from(["organizer", "organizer", "cashier"]))
        def void(self, data, by):
            sale_id = data.draw(st.sampled_from(sorted(self.sales)))
            sale = self.sales[sale_id]
            call = dict(sale_id=sale_id, key=self.key("void"), user_id=fx.users[by])
            if by != "organizer":
                with pytest.raises(NotAllowed):
                    void_sale(self.engine, self.pm, **call)
                return
            closed = sale["session"] is not None and not self.session_open[sale["session"]]
            if sale["voided"] or sale["returned"] or closed:
                with pytest.raises(RefundNotAllowed):
                    void_sale(self.engine, self.pm, **call)
                return
            cancel = void_sale(self.engine, self.pm, **call)
            assert cancel.total.amount == -sum(sale["lines"])
            sale["voided"] = True
            self.corrections.add(cancel.id)
            self.appended("void")
            with read_session(self.engine) as db:
                for column in (Split.gross, Split.withheld, Split.fee, Split.net):
                    assert (
                        db.scalar(
                            select(func.sum(column)).where(Split.sale_id.in_([sale_id, cancel.id]))
                        )
                        or 0
                    ) == 0

        # -- payouts -----------------------------------------------------------------------

        @rule(
            data=st.data(),
            code=st.sampled_from(["P01", "P02", "P07"]),
            cur=st.sampled_from(["CLP", "CLP", "USD"]),
        )
        def pay_out(self, data, code, cur):
            pid = fx.producers[code]
            with read_session(self.engine) as db:
                owed = balance_owed(db, fx.fair_id, pid, cur).amount
            call = dict(
                fair_id=fx.fair_id,
                producer_id=pid,
                currency=cur,
                method="transfer",
                reference="",
                user_id=fx.users["organizer"],
            )
            if owed <= 0:
                with pytest.raises(PayoutExceedsBalance):
                    record_payout(self.engine, amount=max(1, owed + 1), **call)
                return
            amount = data.draw(st.integers(1, owed + 1))
            if amount > owed:
                with pytest.raises(PayoutExceedsBalance):
                    record_payout(self.engine, amount=amount, **call)
                return
            payout = record_payout(self.engine, amount=amount, **call)
            self.payouts.append((payout.id, pid))
            self.appended("payout")
            acknowledging = {fx.producers["P01"]: "producer", coop: "producer2"}.get(pid)
            if acknowledging and data.draw(st.booleans()):
                acknowledge_payout(
                    self.engine, payout_id=payout.id, user_id=fx.users[acknowledging]
                )
                self.appended("payout_ack")

        # -- invariants ----------------------------------------------------------------------

        @invariant()
        def the_books_balance(self):
            applied: dict[tuple[int, str], int] = defaultdict(int)
            value: dict[int, int] = defaultdict(int)
            parts: dict[tuple[int, str], int] = defaultdict(int)
            coop_net: dict[tuple[int, str], int] = defaultdict(int)
            members: dict[tuple[int, str], int] = defaultdict(int)
            lines: dict[int, int] = defaultdict(int)
            with read_session(self.engine) as db:
                totals = dict(db.execute(select(Sale.id, Sale.total)).all())
                for sale_id, cur, a, v in db.execute(
                    select(Tender.sale_id, Tender.currency, Tender.applied, Tender.value)
                ):
                    applied[(sale_id, cur)] += a
                    value[sale_id] += v
                for s in db.scalars(select(Split)):
                    assert s.net == s.gross - s.withheld - s.fee
                    assert abs(s.withheld) <= abs(s.gross)
                    parts[(s.sale_id, s.currency)] += s.net + s.withheld + s.fee
                    if s.producer_id == coop:
                        coop_net[(s.sale_id, s.currency)] += s.net
                for m in db.scalars(select(MemberSplit)):
                    assert m.producer_id == coop
                    members[(m.sale_id, m.currency)] += m.amount
                for sale_id, total in db.execute(select(SaleLine.sale_id, SaleLine.total)):
                    lines[sale_id] += total
                head = verify(db).head
                settle(db, fx.fair_id).check()
                # Nothing lands in a session after its Z-report.
                late = db.scalars(
                    select(Sale.id)
                    .join(CashSession, CashSession.id == Sale.session_id)
                    .where(CashSession.close_seq.is_not(None), Sale.seq > CashSession.close_seq)
                ).all()
                assert late == []
            # Per sale and currency: Σ net + Σ withheld + Σ fee == Σ tenders applied.
            assert {k: v for k, v in parts.items() if v} == {k: v for k, v in applied.items() if v}
            # A tender's value in the fair currency pays the sale's total, and so do its lines.
            for sale_id, total in totals.items():
                assert value[sale_id] == total == lines[sale_id]
            # A cooperative's members share exactly its net.
            assert {k: v for k, v in members.items() if v} == {
                k: v for k, v in coop_net.items() if v
            }
            # Over the whole fair, per currency.
            fair_parts: dict[str, int] = defaultdict(int)
            fair_applied: dict[str, int] = defaultdict(int)
            for (_, cur), v in parts.items():
                fair_parts[cur] += v
            for (_, cur), v in applied.items():
                fair_applied[cur] += v
            assert fair_parts == fair_applied
            assert head.seq == self.entries
            assert set(totals) == set(self.sales) | self.corrections

    return CajaComun


SQLITE_RUN = settings(
    max_examples=25,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
POSTGRES_RUN = settings(
    max_examples=5,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def test_caja_comun_state_machine_sqlite(sqlite_fair, monkeypatch):
    # Durability is not what this test is about: let SQLite skip the fsyncs.
    monkeypatch.setenv("FERIA_SQLITE_SYNCHRONOUS", "OFF")
    made, new_database = sqlite_fair
    stats: Counter = Counter()
    run_state_machine_as_test(machine_for(made, new_database, stats), settings=SQLITE_RUN)
    # The runs did ring up, correct and settle sales, not only get refused.
    assert {"sale", "refund", "void", "payout", "session_close"} <= set(stats), stats


def test_caja_comun_state_machine_postgresql(postgres_fair):
    made, new_database = postgres_fair
    stats: Counter = Counter()
    run_state_machine_as_test(machine_for(made, new_database, stats), settings=POSTGRES_RUN)
    assert stats["sale"] > 0, stats


# -- the split rule on its own -----------------------------------------------------------------

WEIGHTS = st.dictionaries(st.integers(1, 50), st.integers(0, 10**7), min_size=1, max_size=6)
TENDERS = st.lists(
    st.tuples(
        st.sampled_from(["CLP", "USD", "BRL"]),
        st.integers(-(10**9), 10**9),
        st.integers(-(10**6), 10**6),
    ),
    min_size=1,
    max_size=4,
).map(lambda ts: [TenderShare(i + 1, cur, a, f) for i, (cur, a, f) in enumerate(ts)])
BP = st.integers(0, BP_WHOLE)
SPLIT_SETTINGS = settings(max_examples=200, deadline=None)


@SPLIT_SETTINGS
@given(weights=WEIGHTS, tenders=TENDERS, bp=BP)
def test_split_is_exact_for_every_tender(weights, tenders, bp):
    rows = split_sale(weights, tenders, bp)
    assert {r.tender_no for r in rows} <= {t.tender_no for t in tenders}
    for t in tenders:
        mine = [r for r in rows if r.tender_no == t.tender_no]
        assert all(r.currency == t.currency for r in mine)
        assert sum(r.gross for r in mine) == t.applied
        assert sum(r.fee for r in mine) == t.fee
        assert sum(r.net + r.withheld + r.fee for r in mine) == t.applied
        for r in mine:
            assert r.net == r.gross - r.withheld - r.fee
            assert r.producer_id in weights
            # Each part is within one unit of its exact share.
            wsum = sum(weights.values())
            share = Fraction(weights[r.producer_id], wsum) if wsum else Fraction(1, len(weights))
            assert abs(r.gross - t.applied * share) < 1
            assert abs(r.fee - t.fee * share) < 1
            assert abs(r.withheld - Fraction(r.gross * bp, BP_WHOLE)) <= Fraction(1, 2)


@SPLIT_SETTINGS
@given(
    weights=WEIGHTS,
    applied=st.integers(0, 10**9),
    fee=st.integers(0, 10**6),
    bp=BP,
)
def test_split_has_no_negative_parts_for_positive_inputs(weights, applied, fee, bp):
    rows = split_sale(weights, [TenderShare(1, "CLP", applied, fee)], bp)
    for r in rows:
        assert r.gross >= 0 and r.withheld >= 0 and r.fee >= 0
        assert r.withheld <= r.gross
    no_fee = split_sale(weights, [TenderShare(1, "CLP", applied, 0)], bp)
    assert all(r.net >= 0 for r in no_fee)
    # Producers with no weight get nothing (unless every weight is zero).
    if any(weights.values()):
        assert all(weights[r.producer_id] > 0 for r in rows)


@SPLIT_SETTINGS
@given(weights=WEIGHTS, tenders=TENDERS, bp=BP, seed=st.randoms())
def test_split_is_deterministic(weights, tenders, bp, seed):
    first = split_sale(weights, tenders, bp)
    assert split_sale(dict(weights), list(tenders), bp) == first
    shuffled = list(weights.items())
    seed.shuffle(shuffled)
    assert split_sale(dict(shuffled), tenders, bp) == first


@SPLIT_SETTINGS
@given(weights=WEIGHTS, applied=st.integers(1, 10**9), fee=st.integers(0, 10**6), bp=BP)
def test_refund_split_mirrors_the_sale(weights, applied, fee, bp):
    sale = split_sale(weights, [TenderShare(1, "CLP", applied, fee)], bp)
    back = split_sale(weights, [TenderShare(1, "CLP", -applied, -fee)], bp)
    assert [(r.producer_id, -r.gross, -r.withheld, -r.fee, -r.net) for r in back] == [
        (r.producer_id, r.gross, r.withheld, r.fee, r.net) for r in sale
    ]
