"""Recording sales at the caja común: lines, tenders, splits, refusals, idempotency, journal.

Every test runs on SQLite and on PostgreSQL (the ``engine`` fixture).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from feria import hookimpl, journal
from feria.cashbox.errors import (
    IdempotencyConflict,
    InsufficientPayment,
    InvalidLine,
    InvalidTender,
    Overpayment,
    PaymentRefused,
    SessionClosed,
    UnknownPaymentMethod,
    UnknownProducer,
    UnknownProduct,
)
from feria.cashbox.models import MemberSplit, Sale, SaleLine, Split, Tender, Till
from feria.cashbox.refunds import refund_sale, void_sale
from feria.cashbox.sales import LineRequest, TenderRequest
from feria.cashbox.sessions import close_session, open_session, record_movement
from feria.catalogue.models import Fair, RuleVersion
from feria.catalogue.rules import add_rule_version
from feria.db import read_session, write_session
from feria.money import Money
from feria.payments import Authorization, PaymentMethod
from feria.settlement import acknowledge_payout, record_payout
from feria.verify import verify

HONEY_BARCODE = "7800000000016"
SCARF_BARCODE = "7800000000023"


# -- a card-like payment method, registered by the test that needs it --------------------------


class CardMethod(PaymentMethod):
    """A card terminal stand-in whose answers the test controls through its plugin."""

    code = "card"
    name = "Card"
    gives_change = False

    def __init__(self, plugin: CardPlugin) -> None:
        self.plugin = plugin

    @property
    def supports_refund(self) -> bool:  # type: ignore[override]
        return self.plugin.supports_refund

    def authorize(self, tender, sale):
        self.plugin.authorized.append((tender, sale))
        if self.plugin.fail:
            raise RuntimeError("terminal offline")
        if self.plugin.refuse:
            return Authorization.refuse(self.plugin.refuse)
        return Authorization.approve(
            reference=f"AUTH{len(self.plugin.authorized)}", fee=self.plugin.fee
        )

    def refund(self, tender, sale):
        if not self.plugin.supports_refund:
            return super().refund(tender, sale)
        return Authorization.approve(reference="REFUND")


class CardPlugin:
    def __init__(self) -> None:
        self.fee: Money | None = None
        self.refuse: str = ""
        self.fail = False
        self.supports_refund = True
        self.authorized: list = []

    @hookimpl
    def feria_payment_methods(self, fair):
        return [CardMethod(self)]


@pytest.fixture
def card(pm):
    plugin = CardPlugin()
    pm.register(plugin, name="test-card")
    yield plugin
    pm.unregister(plugin)


# -- helpers -----------------------------------------------------------------------------------

THREE_LINES = [
    LineRequest(barcode=SCARF_BARCODE),  # P07, 12990
    {"barcode": HONEY_BARCODE, "quantity": "1.235"},  # P01, 9880 (a dict works too)
    LineRequest(producer_code="P07", amount=2500),  # free line
]
THREE_LINES_TOTAL = 12990 + 9880 + 2500  # 25370


def written(engine) -> dict[str, object]:
    """Everything a sale could write: row counts of the derived tables and the head."""
    with read_session(engine) as db:
        counts = {
            m.__tablename__: db.scalar(select(func.count()).select_from(m))
            for m in (Sale, SaleLine, Tender, Split, MemberSplit, journal.JournalEntry)
        }
        counts["head"] = journal.head(db)
    return counts


def splits_of(engine, sale_id: int) -> list[Split]:
    with read_session(engine) as db:
        return list(db.scalars(select(Split).where(Split.sale_id == sale_id).order_by(Split.id)))


def by_producer(splits, column: str) -> dict[int, int]:
    out: dict[int, int] = defaultdict(int)
    for s in splits:
        out[s.producer_id] += getattr(s, column)
    return dict(out)


def assert_balanced(engine, sale_id: int) -> None:
    """Per currency: Σ net + Σ withheld + Σ fee == Σ applied tenders, and Σ value == total."""
    with read_session(engine) as db:
        sale = db.get(Sale, sale_id)
        applied: dict[str, int] = defaultdict(int)
        for t in sale.tenders:
            applied[t.currency] += t.applied
        parts: dict[str, int] = defaultdict(int)
        for s in sale.splits:
            assert s.net == s.gross - s.withheld - s.fee
            parts[s.currency] += s.net + s.withheld + s.fee
        assert dict(parts) == dict(applied)
        assert sum(t.value for t in sale.tenders) == sale.total


def verify_all(engine) -> journal.Head:
    """The chain and every table derived from it, as ``feria verify`` checks them."""
    with read_session(engine) as db:
        return verify(db).head


# -- a sale ------------------------------------------------------------------------------------


def test_three_line_sale_paid_cash_gives_change(engine, fair, sell):
    sale = sell(THREE_LINES, [TenderRequest("cash", 30000)])

    assert sale.replayed is False
    assert sale.total == Money(THREE_LINES_TOTAL, "CLP")
    assert sale.change == Money(30000 - THREE_LINES_TOTAL, "CLP")
    lines = sale.body["lines"]
    assert [(ln["producer"], ln["quantity"], ln["unit"], ln["total"]) for ln in lines] == [
        (fair.producers["P07"], "1", "piece", 12990),
        (fair.producers["P01"], "1.235", "kg", 9880),  # 1.235 × 8000 = 9880
        (fair.producers["P07"], "1", "piece", 2500),
    ]
    (tender,) = sale.body["tenders"]
    assert (tender["amount"], tender["change"], tender["applied"]) == (30000, 4630, 25370)
    assert tender["in_drawer"] is True
    with read_session(engine) as db:
        row = db.get(Sale, sale.id)
        assert (row.kind, row.total, row.seq, row.currency) == ("sale", 25370, sale.seq, "CLP")
        assert [ln.total for ln in row.lines] == [12990, 9880, 2500]
    assert verify_all(engine).hash == sale.hash


def test_split_per_producer_is_exact_with_solidarity_and_cooperative_members(engine, fair, sell):
    sale = sell(THREE_LINES, [TenderRequest("cash", 30000)])
    splits = splits_of(engine, sale.id)
    p1, p7 = fair.producers["P01"], fair.producers["P07"]

    assert by_producer(splits, "gross") == {p1: 9880, p7: 12990 + 2500}
    # 5 % of 9880 = 494; 5 % of 15490 = 774.5, rounded half away from zero to 775.
    assert by_producer(splits, "withheld") == {p1: 494, p7: 775}
    assert by_producer(splits, "fee") == {p1: 0, p7: 0}
    assert by_producer(splits, "net") == {p1: 9386, p7: 14715}
    with read_session(engine) as db:
        members = {
            m.member_id: m.amount
            for m in db.scalars(select(MemberSplit).where(MemberSplit.sale_id == sale.id))
        }
    # The cooperative's net 14715 divided 60/40 between Ana and Luis.
    assert members == {fair.members["Ana"]: 8829, fair.members["Luis"]: 5886}
    assert sum(members.values()) == by_producer(splits, "net")[p7]
    assert_balanced(engine, sale.id)


def test_split_adds_up_to_tenders_applied(engine, fair, sell):
    sale = sell(
        [LineRequest(product_id=fair.products["tomato"], quantity="333"), *THREE_LINES],
        [TenderRequest("cash", 40000)],
    )
    splits = splits_of(engine, sale.id)
    total = sum(s.net + s.withheld + s.fee for s in splits)
    assert total == sale.total.amount == 25370 + 999
    assert_balanced(engine, sale.id)


# -- several tenders ---------------------------------------------------------------------------


def test_card_and_cash_split_the_rule_fee_by_the_same_weights(engine, fair, sell, card):
    sale = sell(THREE_LINES, [TenderRequest("card", 20000), TenderRequest("cash", 10000)])
    p1, p7 = fair.producers["P01"], fair.producers["P07"]

    card_t, cash_t = sale.body["tenders"]
    assert (card_t["method"], card_t["applied"], card_t["change"], card_t["fee"]) == (
        "card",
        20000,
        0,
        600,  # the rule's 3 % of 20000
    )
    assert card_t["in_drawer"] is False and card_t["reference"] == "AUTH1"
    assert (cash_t["applied"], cash_t["change"], cash_t["fee"]) == (5370, 4630, 0)

    splits = splits_of(engine, sale.id)
    card_splits = [s for s in splits if s.tender_no == 1]
    cash_splits = [s for s in splits if s.tender_no == 2]
    # 600 × 9880/25370 = 233.66…, 600 × 15490/25370 = 366.34…: the spare unit goes to P01.
    assert by_producer(card_splits, "fee") == {p1: 234, p7: 366}
    assert by_producer(card_splits, "gross") == {p1: 7789, p7: 12211}
    assert by_producer(card_splits, "withheld") == {p1: 389, p7: 611}
    assert by_producer(card_splits, "net") == {p1: 7166, p7: 11234}
    assert by_producer(cash_splits, "gross") == {p1: 2091, p7: 3279}
    assert by_producer(cash_splits, "fee") == {p1: 0, p7: 0}
    # Over both tenders each producer still gets exactly its lines' total as gross.
    assert by_producer(splits, "gross") == {p1: 9880, p7: 15490}
    with read_session(engine) as db:
        members = {
            m.member_id: m.amount
            for m in db.scalars(select(MemberSplit).where(MemberSplit.sale_id == sale.id))
        }
    assert sum(members.values()) == by_producer(splits, "net")[p7] == 14349
    assert members == {fair.members["Ana"]: 8609, fair.members["Luis"]: 5740}
    assert_balanced(engine, sale.id)


def test_fee_stated_by_the_provider_overrides_the_rule(engine, fair, sell, card):
    card.fee = Money(450, "CLP")
    sale = sell(THREE_LINES, [TenderRequest("card", 20000), TenderRequest("cash", 5370)])

    assert sale.body["tenders"][0]["fee"] == 450
    splits = splits_of(engine, sale.id)
    # 450 × 9880/25370 = 175.25, 450 × 15490/25370 = 274.75: the spare unit goes to P07.
    assert by_producer(splits, "fee") == {fair.producers["P01"]: 175, fair.producers["P07"]: 275}
    assert_balanced(engine, sale.id)


def test_invalid_provider_fee_is_refused(engine, fair, sell, card):
    card.fee = Money(-1, "CLP")
    before = written(engine)
    with pytest.raises(PaymentRefused) as err:
        sell(THREE_LINES, [TenderRequest("card", 25370)])
    assert err.value.field == "tenders[0]"
    assert written(engine) == before


def _add_usd_rule(engine, fair, *, rate: str, solidarity_bp: int = 500) -> int:
    with write_session(engine) as db:
        rule = add_rule_version(
            db,
            db.get(Fair, fair.fair_id),
            solidarity_bp=solidarity_bp,
            fees={"card": {"bp": 300}},
            rates={"USD": rate},
            note="dollars accepted",
            user_id=fair.users["organizer"],
        )
        return rule.id


def test_foreign_currency_tender_converted_at_the_rule_rate(engine, fair, sell):
    rule_id = _add_usd_rule(engine, fair, rate="950")
    lines = [
        LineRequest(barcode=SCARF_BARCODE),
        LineRequest(barcode=HONEY_BARCODE, quantity="1.235"),
    ]
    # 20.00 USD at 950 CLP = 19000 CLP; the rest (3870) in pesos, with change.
    sale = sell(lines, [TenderRequest("cash", 2000, "USD"), TenderRequest("cash", 5000)])
    p1, p7 = fair.producers["P01"], fair.producers["P07"]

    assert sale.body["rule"] == rule_id
    usd, clp = sale.body["tenders"]
    assert (usd["currency"], usd["applied"], usd["rate"], usd["value"]) == (
        "USD",
        2000,
        "950",
        19000,
    )
    assert (clp["currency"], clp["applied"], clp["change"], clp["value"]) == (
        "CLP",
        3870,
        1130,
        3870,
    )
    splits = splits_of(engine, sale.id)
    usd_splits = [s for s in splits if s.currency == "USD"]
    # 2000 cents split 9880 : 12990 → 864.01 / 1135.98: the spare cent goes to P07.
    assert by_producer(usd_splits, "gross") == {p1: 864, p7: 1136}
    assert by_producer(usd_splits, "withheld") == {p1: 43, p7: 57}
    assert by_producer(usd_splits, "net") == {p1: 821, p7: 1079}
    with read_session(engine) as db:
        assert db.get(Sale, sale.id).rule_version_id == rule_id
        usd_members = list(
            db.scalars(
                select(MemberSplit).where(
                    MemberSplit.sale_id == sale.id, MemberSplit.currency == "USD"
                )
            )
        )
    assert sum(m.amount for m in usd_members) == 1079
    assert_balanced(engine, sale.id)


def test_later_rule_version_does_not_change_recorded_splits(engine, fair, sell):
    first_rule = _add_usd_rule(engine, fair, rate="950")
    lines = [LineRequest(barcode=SCARF_BARCODE)]
    first = sell(lines, [TenderRequest("cash", 1000, "USD"), TenderRequest("cash", 3490)])
    recorded = [
        (s.tender_no, s.producer_id, s.currency, s.gross, s.withheld, s.fee, s.net)
        for s in splits_of(engine, first.id)
    ]

    later_rule = _add_usd_rule(engine, fair, rate="1000", solidarity_bp=1000)
    second = sell(lines, [TenderRequest("cash", 1000, "USD"), TenderRequest("cash", 2990)])

    assert [
        (s.tender_no, s.producer_id, s.currency, s.gross, s.withheld, s.fee, s.net)
        for s in splits_of(engine, first.id)
    ] == recorded
    with read_session(engine) as db:
        assert db.get(Sale, first.id).rule_version_id == first_rule
        assert db.get(Sale, second.id).rule_version_id == later_rule
        versions = [
            r.version
            for r in db.scalars(
                select(RuleVersion)
                .where(RuleVersion.fair_id == fair.fair_id)
                .order_by(RuleVersion.version)
            )
        ]
    assert versions == [1, 2, 3]
    assert second.body["tenders"][0]["value"] == 10000
    # The later version's 10 % applies to the later sale only: 100 USD cents and 299 CLP.
    second_splits = splits_of(engine, second.id)
    assert {(s.currency, s.withheld) for s in second_splits} == {("USD", 100), ("CLP", 299)}
    assert_balanced(engine, first.id)
    assert_balanced(engine, second.id)


def test_currency_without_a_stated_rate_is_refused(engine, fair, sell):
    before = written(engine)
    with pytest.raises(InvalidTender) as err:
        sell(THREE_LINES, [TenderRequest("cash", 1000, "USD"), TenderRequest("cash", 30000)])
    assert err.value.field == "tenders[0].currency"
    assert written(engine) == before


# -- payment refusals --------------------------------------------------------------------------


def test_non_cash_tender_above_what_is_due_is_overpayment(engine, fair, sell, card):
    before = written(engine)
    with pytest.raises(Overpayment) as err:
        sell(THREE_LINES, [TenderRequest("card", THREE_LINES_TOTAL + 1)])
    assert err.value.field == "tenders[0].amount"
    with pytest.raises(Overpayment) as err:
        sell(THREE_LINES, [TenderRequest("cash", 30000), TenderRequest("card", 1)])
    assert err.value.field == "tenders[1].amount"
    assert written(engine) == before
    assert card.authorized == []  # refused before asking the provider


def test_insufficient_payment_says_what_is_due(engine, fair, sell, card):
    before = written(engine)
    with pytest.raises(InsufficientPayment) as err:
        sell(THREE_LINES, [TenderRequest("card", 5000), TenderRequest("cash", 20000)])
    assert err.value.details["due"] == 370
    assert err.value.to_problem()["due"] == 370
    assert err.value.field == "tenders"
    assert written(engine) == before


@pytest.mark.parametrize("how", ["refuses", "raises"])
def test_payment_plugin_refusing_or_failing_writes_nothing(engine, fair, sell, card, how):
    if how == "refuses":
        card.refuse = "insufficient funds"
    else:
        card.fail = True
    before = written(engine)
    with pytest.raises(PaymentRefused) as err:
        sell(THREE_LINES, [TenderRequest("cash", 5370), TenderRequest("card", 20000)])
    assert err.value.field == "tenders[1]"
    assert ("insufficient funds" if how == "refuses" else "terminal offline") in err.value.message
    assert written(engine) == before
    with read_session(engine) as db:
        assert db.scalar(select(func.count()).select_from(Sale)) == 0


def test_unknown_payment_method_is_refused(engine, fair, sell):
    with pytest.raises(UnknownPaymentMethod) as err:
        sell(THREE_LINES, [TenderRequest("cash", 5370), TenderRequest("bitcoin", 20000)])
    assert err.value.field == "tenders[1].method"


def test_unknown_currency_is_refused(engine, fair, sell):
    with pytest.raises(InvalidTender) as err:
        sell(THREE_LINES, [TenderRequest("cash", 30000, "ZZZ")])
    assert err.value.field == "tenders[0].amount"


# -- line refusals -----------------------------------------------------------------------------

GOOD = LineRequest(barcode=SCARF_BARCODE)


@pytest.mark.parametrize(
    ("bad_line", "error", "field"),
    [
        (LineRequest(barcode="7800000000030"), UnknownProduct, "lines[2]"),
        (LineRequest(product_id=99_999), UnknownProduct, "lines[2]"),
        (LineRequest(sku="NO-SUCH-SKU"), UnknownProduct, "lines[2]"),
        ("other", UnknownProduct, "lines[2]"),  # a product of P09, who does not sell here
        (LineRequest(producer_code="P09", amount=1000), UnknownProducer, "lines[2].producer_code"),
        (LineRequest(producer_code="P99", amount=1000), UnknownProducer, "lines[2].producer_code"),
        (LineRequest(barcode=SCARF_BARCODE, quantity="1.5"), InvalidLine, "lines[2].quantity"),
        (LineRequest(barcode=HONEY_BARCODE, quantity="1.2345"), InvalidLine, "lines[2].quantity"),
        (LineRequest(barcode=HONEY_BARCODE, quantity="0"), InvalidLine, "lines[2].quantity"),
        (LineRequest(barcode=HONEY_BARCODE, quantity="-1"), InvalidLine, "lines[2].quantity"),
        (LineRequest(barcode=HONEY_BARCODE, quantity="kilo"), InvalidLine, "lines[2].quantity"),
        (LineRequest(producer_code="P07", amount=0), InvalidLine, "lines[2].amount"),
        (LineRequest(producer_code="P07", barcode=SCARF_BARCODE), InvalidLine, "lines[2]"),
        (LineRequest(), InvalidLine, "lines[2]"),
    ],
    ids=[
        "unknown-barcode",
        "unknown-product-id",
        "unknown-sku",
        "product-of-non-participating-producer",
        "free-line-of-non-participating-producer",
        "unknown-producer-code",
        "fraction-of-a-piece",
        "more-than-3-decimals",
        "zero-quantity",
        "negative-quantity",
        "not-a-quantity",
        "free-line-without-amount",
        "product-and-producer-code",
        "empty-line",
    ],
)
def test_bad_line_is_refused_naming_the_field(engine, fair, sell, bad_line, error, field):
    if bad_line == "other":
        bad_line = LineRequest(product_id=fair.products["other"])
    before = written(engine)
    with pytest.raises(error) as err:
        sell(
            [GOOD, LineRequest(barcode=HONEY_BARCODE, quantity="0.5"), bad_line],
            [TenderRequest("cash", 50000)],
        )
    assert err.value.field == field
    assert err.value.to_problem()["field"] == field
    assert written(engine) == before


def test_weighed_quantity_accepts_a_decimal_comma(engine, fair, sell):
    sale = sell([LineRequest(barcode=HONEY_BARCODE, quantity="0,5")], [TenderRequest("cash", 4000)])
    assert sale.body["lines"][0]["quantity"] == "0.5"
    assert sale.total == Money(4000, "CLP")


# -- idempotency -------------------------------------------------------------------------------


def test_resend_with_the_same_key_returns_the_first_sale(engine, fair, sell):
    first = sell(THREE_LINES, [TenderRequest("cash", 30000)], key="till1-000001")
    again = sell(THREE_LINES, [TenderRequest("cash", 30000)], key="till1-000001")

    assert again.replayed is True
    assert (again.id, again.seq, again.hash) == (first.id, first.seq, first.hash)
    assert again.body == first.body
    with read_session(engine) as db:
        assert db.scalar(select(func.count()).select_from(Sale)) == 1
        assert journal.head(db).seq == first.seq


def test_same_key_with_different_content_is_a_conflict(engine, fair, sell):
    first = sell(THREE_LINES, [TenderRequest("cash", 30000)], key="till1-000001")
    before = written(engine)
    with pytest.raises(IdempotencyConflict) as err:
        sell(THREE_LINES, [TenderRequest("cash", 40000)], key="till1-000001")
    assert err.value.field == "key"
    assert err.value.details["sale"] == first.id
    assert written(engine) == before


def test_too_short_idempotency_key_is_refused(engine, fair, sell):
    with pytest.raises(InvalidTender) as err:
        sell(THREE_LINES, [TenderRequest("cash", 30000)], key="abc")
    assert err.value.field == "key"


# -- sessions and the journal ------------------------------------------------------------------


def test_closed_session_refuses_sales(engine, fair, pm, sell, cash_session):
    close_session(
        engine,
        pm,
        session_id=cash_session.id,
        user_id=fair.users["cashier"],
        counted={"CLP": 20000},
    )
    before = written(engine)
    with pytest.raises(SessionClosed) as err:
        sell(THREE_LINES, [TenderRequest("cash", 30000)])
    assert err.value.field == "session"
    assert written(engine) == before


def test_journal_records_every_event_kind(engine, fair, pm, sell, cash_session, card):
    cashier, organizer = fair.users["cashier"], fair.users["organizer"]
    _add_usd_rule(engine, fair, rate="950")
    record_movement(
        engine,
        session_id=cash_session.id,
        kind="paid_in",
        amount=5000,
        reason="coins",
        user_id=cashier,
    )
    record_movement(
        engine,
        session_id=cash_session.id,
        kind="paid_out",
        amount=2000,
        reason="bags",
        user_id=cashier,
    )
    kept = sell(THREE_LINES, [TenderRequest("cash", 30000)])
    voided = sell([GOOD], [TenderRequest("card", 12990)])
    refund_sale(
        engine,
        pm,
        sale_id=kept.id,
        key="refund-0001",
        user_id=cashier,
        session_id=cash_session.id,
        line_nos=[3],
    )
    void_sale(engine, pm, sale_id=voided.id, key="void-00001", user_id=organizer)
    close_session(engine, pm, session_id=cash_session.id, user_id=cashier, counted={"CLP": 50000})
    payout = record_payout(
        engine,
        fair_id=fair.fair_id,
        producer_id=fair.producers["P01"],
        currency="CLP",
        amount=9386,
        method="cash",
        reference="envelope 1",
        user_id=organizer,
    )
    acknowledge_payout(engine, payout_id=payout.id, user_id=fair.users["producer"])

    with read_session(engine) as db:
        entries = journal.entries(db, limit=1000)
        head = verify(db).head
    kinds = [e.kind for e in entries]
    assert kinds == [
        "rule_version",  # the fair's first rules
        "session_open",
        "rule_version",
        "paid_in",
        "paid_out",
        "sale",
        "sale",
        "refund",
        "void",
        "session_close",
        "payout",
        "payout_ack",
    ]
    assert set(kinds) == set(journal.ENTRY_KINDS)
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert head.seq == len(entries)
    for prev, entry in zip(entries, entries[1:], strict=False):
        assert entry.prev_hash == prev.hash
    for entry in entries:
        body = json.loads(entry.body)
        assert body["kind"] == entry.kind
        assert entry.fair_id == fair.fair_id
        assert dt.datetime.fromisoformat(body["at"]) == entry.at
    with read_session(engine) as db:
        for sale in db.scalars(select(Sale)):
            assert db.get(journal.JournalEntry, sale.seq).kind == sale.kind


def test_open_sessions_are_recorded_in_the_journal(engine, fair):
    cs = open_session(
        engine, till_id=fair.till_id, user_id=fair.users["cashier"], float_detail={"1000": 3}
    )
    with read_session(engine) as db:
        entry = db.get(journal.JournalEntry, cs.open_seq)
    body = json.loads(entry.body)
    assert (entry.kind, body["session"], body["float"]) == ("session_open", cs.id, 3000)


@pytest.mark.parametrize("table", ["sales", "journal_entries", "tenders", "splits"])
def test_database_refuses_to_change_or_delete_recorded_rows(engine, fair, sell, table):
    sell(THREE_LINES, [TenderRequest("cash", 30000)])
    column = {"sales": "total", "journal_entries": "body", "tenders": "amount", "splits": "net"}
    value = "'{}'" if table == "journal_entries" else "0"
    for statement in (f"UPDATE {table} SET {column[table]} = {value}", f"DELETE FROM {table}"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.exec_driver_sql(statement)
    verify_all(engine)
    with read_session(engine) as db:
        assert db.scalar(select(func.count()).select_from(Sale)) == 1


# -- what the hooks after a sale are given -----------------------------------------------------


class _Recorder:
    def __init__(self) -> None:
        self.sales: list = []
        self.tills: list = []
        self.refunds: list = []

    @hookimpl
    def feria_sale_recorded(self, sale, fair, till):
        self.sales.append(sale)
        self.tills.append(till)

    @hookimpl
    def feria_sale_refunded(self, refund, original, fair):
        self.refunds.append(refund)


def _columns(row, skip=("id",)) -> dict[str, object]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns if c.key not in skip}


def test_the_sale_given_to_hooks_equals_the_rows_read_back(engine, pm, fair, sell, cash_session):
    recorder = _Recorder()
    pm.register(recorder, name="test-recorder")
    try:
        recorded = sell(THREE_LINES, [{"method": "cash", "amount": 30000}])
        refund = refund_sale(
            engine,
            pm,
            sale_id=recorded.id,
            key="refund-key-0001",
            user_id=fair.users["cashier"],
            session_id=cash_session.id,
        )
    finally:
        pm.unregister(recorder)
    [given], [till], [given_refund] = recorder.sales, recorder.tills, recorder.refunds
    with read_session(engine) as db:
        for hooked, sale_id in ((given, recorded.id), (given_refund, refund.id)):
            stored = db.get(Sale, sale_id)
            assert _columns(hooked, skip=()) == _columns(stored, skip=())
            for rel in ("lines", "tenders", "splits"):
                assert [_columns(r) for r in getattr(hooked, rel)] == [
                    _columns(r) for r in getattr(stored, rel)
                ], rel
        assert till.id == cash_session.till_id
        stored_till = db.get(Till, cash_session.till_id)
        assert (till.code, till.name, till.printer, till.fair_id) == (
            stored_till.code,
            stored_till.name,
            stored_till.printer,
            stored_till.fair_id,
        )


class _CarelessMethod(PaymentMethod):
    """A method that hands the tender's data back unfiltered, PIN included."""

    code = "careless"
    name = "Careless"
    gives_change = False

    def authorize(self, tender, sale):
        return Authorization.approve(reference="ok", **tender.data)


class _CarelessPlugin:
    @hookimpl
    def feria_payment_methods(self, fair):
        return [_CarelessMethod()]


def test_a_pin_never_reaches_the_journal_even_if_a_method_returns_it(engine, pm, sell):
    plugin = _CarelessPlugin()
    pm.register(plugin, name="test-careless")
    try:
        recorded = sell(
            [LineRequest(producer_code="P07", amount=2500)],
            [{"method": "careless", "amount": 2500, "data": {"account": "A-1", "PIN": "4321"}}],
        )
    finally:
        pm.unregister(plugin)
    with read_session(engine) as db:
        body = db.get(journal.JournalEntry, recorded.seq).body
        tender = db.scalar(select(Tender).where(Tender.sale_id == recorded.id))
    assert "4321" not in body
    assert tender.data == {"account": "A-1"}
    assert recorded.body["tenders"][0]["data"] == {"account": "A-1"}
