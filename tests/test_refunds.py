"""Refunds and voids: corrections are new entries referring to the sale, never edits.

Every test runs on SQLite and on PostgreSQL (the ``engine`` fixture).
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from sqlalchemy import func, select

from feria import hookimpl, journal
from feria.cashbox.errors import (
    IdempotencyConflict,
    InvalidTender,
    NotAllowed,
    PaymentRefused,
    RefundNotAllowed,
    SaleNotFound,
    SessionClosed,
)
from feria.cashbox.models import MemberSplit, Sale, SaleLine, Split, Tender
from feria.cashbox.refunds import refund_sale, void_sale
from feria.cashbox.sales import LineRequest, TenderRequest
from feria.cashbox.sessions import close_session, x_report
from feria.db import read_session
from feria.payments import Authorization, PaymentMethod
from feria.verify import verify

SCARF_BARCODE = "7800000000023"
HONEY_BARCODE = "7800000000016"
THREE_LINES = [
    LineRequest(barcode=SCARF_BARCODE),  # line 1: P07, 12990
    LineRequest(barcode=HONEY_BARCODE, quantity="1.235"),  # line 2: P01, 9880
    LineRequest(producer_code="P07", amount=2500),  # line 3: P07, 2500
]


class CardMethod(PaymentMethod):
    code = "card"
    name = "Card"
    gives_change = False

    def __init__(self, plugin: CardPlugin) -> None:
        self.plugin = plugin
        self.supports_refund = plugin.supports_refund

    def authorize(self, tender, sale):
        return Authorization.approve(reference="AUTH")

    def refund(self, tender, sale):
        if not self.supports_refund:
            return super().refund(tender, sale)
        self.plugin.refunded.append((tender, sale))
        if self.plugin.refuse_refund:
            return Authorization.refuse(self.plugin.refuse_refund)
        return Authorization.approve(reference="REFUND")


class CardPlugin:
    def __init__(self) -> None:
        self.supports_refund = True
        self.refuse_refund = ""
        self.refunded: list = []

    @hookimpl
    def feria_payment_methods(self, fair):
        return [CardMethod(self)]


@pytest.fixture
def card(pm):
    plugin = CardPlugin()
    pm.register(plugin, name="test-card")
    yield plugin
    pm.unregister(plugin)


@pytest.fixture
def refund(engine, pm, fair, cash_session):
    """``refund(sale_id, key, **options)``: a refund by the cashier, in the open session."""

    def _refund(sale_id: int, key: str, **options):
        options.setdefault("session_id", cash_session.id)
        options.setdefault("user_id", fair.users["cashier"])
        return refund_sale(engine, pm, sale_id=sale_id, key=key, **options)

    return _refund


@pytest.fixture
def void(engine, pm, fair):
    def _void(sale_id: int, key: str, user: str = "organizer", **options):
        return void_sale(engine, pm, sale_id=sale_id, key=key, user_id=fair.users[user], **options)

    return _void


def written(engine) -> dict[str, object]:
    with read_session(engine) as db:
        counts = {
            m.__tablename__: db.scalar(select(func.count()).select_from(m))
            for m in (Sale, SaleLine, Tender, Split, MemberSplit, journal.JournalEntry)
        }
        counts["head"] = journal.head(db)
    return counts


def column_sums(engine, sale_ids) -> dict[str, dict[str, int]]:
    """Σ of every money column over ``sale_ids``, per table and currency."""
    sums: dict[str, int] = defaultdict(int)
    with read_session(engine) as db:
        for s in db.scalars(select(Split).where(Split.sale_id.in_(sale_ids))):
            for col in ("gross", "withheld", "fee", "net"):
                sums[f"split.{col}.{s.currency}"] += getattr(s, col)
        for t in db.scalars(select(Tender).where(Tender.sale_id.in_(sale_ids))):
            for col in ("applied", "value", "fee"):
                sums[f"tender.{col}.{t.currency}"] += getattr(t, col)
        for m in db.scalars(select(MemberSplit).where(MemberSplit.sale_id.in_(sale_ids))):
            sums[f"member.{m.member_id}.{m.currency}"] += m.amount
        for ln in db.scalars(select(SaleLine).where(SaleLine.sale_id.in_(sale_ids))):
            sums["line.total"] += ln.total
        for sale in db.scalars(select(Sale).where(Sale.id.in_(sale_ids))):
            sums["sale.total"] += sale.total
    return dict(sums)


def splits_by_producer(engine, sale_id: int) -> dict[int, tuple[int, int, int, int]]:
    out: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    with read_session(engine) as db:
        for s in db.scalars(select(Split).where(Split.sale_id == sale_id)):
            for i, col in enumerate(("gross", "withheld", "fee", "net")):
                out[s.producer_id][i] += getattr(s, col)
    return {p: tuple(v) for p, v in out.items()}


# -- refunds -----------------------------------------------------------------------------------


def test_refund_one_line_returns_its_money_and_withholding(engine, fair, sell, refund):
    sale = sell(THREE_LINES, [TenderRequest("cash", 30000)])
    back = refund(sale.id, "refund-0001", line_nos=[2], reason="crystallised")

    assert back.body["kind"] == "refund" and back.body["refers_to"] == sale.id
    assert back.total.amount == -9880
    (line,) = back.body["lines"]
    assert (line["no"], line["refers_line"], line["quantity"], line["total"]) == (
        1,
        2,
        "-1.235",
        -9880,
    )
    (tender,) = back.body["tenders"]
    assert (tender["method"], tender["applied"], tender["in_drawer"]) == ("cash", -9880, True)
    # The 5 % withheld on the honey (494) goes back with it.
    assert splits_by_producer(engine, back.id) == {fair.producers["P01"]: (-9880, -494, 0, -9386)}
    with read_session(engine) as db:
        row = db.get(Sale, back.id)
        assert (row.kind, row.refers_to, row.total) == ("refund", sale.id, -9880)
        assert db.get(journal.JournalEntry, row.seq).kind == "refund"
        assert db.get(Sale, sale.id).total == 25370  # the original is untouched
        verify(db)


def test_refund_of_the_remaining_lines_returns_them_all(engine, fair, sell, refund):
    sale = sell(THREE_LINES, [TenderRequest("cash", 30000)])
    refund(sale.id, "refund-0001", line_nos=[2])
    rest = refund(sale.id, "refund-0002")

    assert [ln["refers_line"] for ln in rest.body["lines"]] == [1, 3]
    assert rest.total.amount == -(12990 + 2500)
    assert splits_by_producer(engine, rest.id) == {fair.producers["P07"]: (-15490, -775, 0, -14715)}
    with read_session(engine) as db:
        members = {
            m.member_id: m.amount
            for m in db.scalars(select(MemberSplit).where(MemberSplit.sale_id == rest.id))
        }
        refunds = db.scalars(select(Sale.id).where(Sale.refers_to == sale.id)).all()
    assert members == {fair.members["Ana"]: -8829, fair.members["Luis"]: -5886}
    # Sale and refunds together leave nothing for anybody.
    sums = column_sums(engine, [sale.id, *refunds])
    assert set(sums.values()) == {0}
    with pytest.raises(RefundNotAllowed) as err:
        refund(sale.id, "refund-0003")
    assert err.value.field == "lines"


def test_refund_of_more_than_was_sold_is_refused(engine, fair, sell, refund):
    sale = sell(THREE_LINES, [TenderRequest("cash", 30000)])
    refund(sale.id, "refund-0001", line_nos=[2])
    before = written(engine)
    with pytest.raises(RefundNotAllowed, match="already returned") as err:
        refund(sale.id, "refund-0002", line_nos=[1, 2])
    assert err.value.field == "lines"
    with pytest.raises(RefundNotAllowed, match="no line 4"):
        refund(sale.id, "refund-0003", line_nos=[4])
    assert written(engine) == before


def test_refund_tenders_must_add_up_exactly(engine, fair, sell, refund, card):
    sale = sell(THREE_LINES, [TenderRequest("cash", 30000)])
    before = written(engine)
    for tenders in (
        [TenderRequest("cash", 5000)],
        [TenderRequest("cash", 9881)],
        [TenderRequest("cash", 5000), TenderRequest("card", 4879)],
    ):
        with pytest.raises(InvalidTender) as err:
            refund(sale.id, "refund-0001", line_nos=[2], tenders=tenders)
        assert err.value.field == "tenders"
    assert written(engine) == before

    mixed = refund(
        sale.id,
        "refund-0001",
        line_nos=[2],
        tenders=[TenderRequest("cash", 5000), TenderRequest("card", 4880)],
    )
    assert [(t["method"], t["applied"], t["fee"]) for t in mixed.body["tenders"]] == [
        ("cash", -5000, 0),
        ("card", -4880, 0),
    ]
    assert splits_by_producer(engine, mixed.id)[fair.producers["P01"]][0] == -9880


def test_refund_with_a_method_that_cannot_pay_back_is_refused(engine, fair, sell, refund, card):
    sale = sell(THREE_LINES, [TenderRequest("card", 25370)])
    card.supports_refund = False
    before = written(engine)
    with pytest.raises(RefundNotAllowed) as err:
        refund(sale.id, "refund-0001", line_nos=[2], tenders=[TenderRequest("card", 9880)])
    assert err.value.field == "tenders[0].method"
    assert written(engine) == before
    assert card.refunded == []


def test_refund_refused_by_the_provider_writes_nothing(engine, fair, sell, refund, card):
    sale = sell(THREE_LINES, [TenderRequest("card", 25370)])
    card.refuse_refund = "card expired"
    before = written(engine)
    with pytest.raises(PaymentRefused, match="card expired"):
        refund(sale.id, "refund-0001", line_nos=[2], tenders=[TenderRequest("card", 9880)])
    assert written(engine) == before


def test_cash_refund_needs_an_open_session(engine, fair, pm, sell, refund, cash_session):
    sale = sell(THREE_LINES, [TenderRequest("cash", 30000)])
    with pytest.raises(SessionClosed) as err:
        refund(sale.id, "refund-0001", line_nos=[2], session_id=None)
    assert err.value.field == "session"
    close_session(
        engine, pm, session_id=cash_session.id, user_id=fair.users["cashier"], counted={"CLP": 0}
    )
    with pytest.raises(SessionClosed):
        refund(sale.id, "refund-0001", line_nos=[2])


def test_refund_of_an_unknown_sale_or_of_a_refund_is_refused(engine, fair, sell, refund):
    sale = sell(THREE_LINES, [TenderRequest("cash", 30000)])
    back = refund(sale.id, "refund-0001", line_nos=[2])
    for sale_id in (999, back.id):
        with pytest.raises(SaleNotFound) as err:
            refund(sale_id, f"refund-of-{sale_id}")
        assert err.value.field == "sale"


def test_refund_resent_with_the_same_key_is_recorded_once(engine, fair, sell, refund):
    sale = sell(THREE_LINES, [TenderRequest("cash", 30000)])
    first = refund(sale.id, "refund-0001", line_nos=[2], reason="broken jar")
    again = refund(sale.id, "refund-0001", line_nos=[2], reason="broken jar")

    assert again.replayed is True and first.replayed is False
    assert (again.id, again.seq, again.hash) == (first.id, first.seq, first.hash)
    with read_session(engine) as db:
        assert db.scalar(select(func.count()).where(Sale.refers_to == sale.id)) == 1
    with pytest.raises(IdempotencyConflict):
        refund(sale.id, "refund-0001", line_nos=[1], reason="broken jar")


def test_refund_of_a_voided_sale_is_refused(engine, fair, sell, refund, void):
    sale = sell(THREE_LINES, [TenderRequest("cash", 30000)])
    void(sale.id, "void-00001")
    before = written(engine)
    with pytest.raises(RefundNotAllowed, match="voided") as err:
        refund(sale.id, "refund-0001", line_nos=[2])
    assert err.value.field == "sale"
    assert written(engine) == before


# -- voids -------------------------------------------------------------------------------------


def test_cashier_cannot_void(engine, fair, sell, void):
    sale = sell(THREE_LINES, [TenderRequest("cash", 30000)])
    before = written(engine)
    with pytest.raises(NotAllowed) as err:
        void(sale.id, "void-00001", user="cashier")
    assert err.value.field == "user"
    assert err.value.status == 403
    assert written(engine) == before


def test_organizer_void_negates_everything_exactly(engine, fair, sell, void, card, cash_session):
    sale = sell(
        THREE_LINES + [LineRequest(product_id=fair.products["tomato"], quantity="437")],
        [TenderRequest("card", 20000), TenderRequest("cash", 10000)],
    )
    # 25370 + 437 g × 3 = 26681; the card pays 20000, the drawer keeps 6681 of the 10000.
    assert x_report(engine, cash_session.id)["expected_cash"] == {"CLP": 20000 + 6681}
    cancel = void(sale.id, "void-00001", reason="rung up twice")

    assert cancel.body["kind"] == "void" and cancel.body["refers_to"] == sale.id
    assert cancel.total.amount == -sale.total.amount
    assert len(card.refunded) == 1  # the card payment was given back through the provider
    # Settle-neutral: every column of sale + void sums to zero, fees included.
    sums = column_sums(engine, [sale.id, cancel.id])
    assert set(sums.values()) == {0}, sums
    assert "split.fee.CLP" in sums and f"member.{fair.members['Ana']}.CLP" in sums
    with read_session(engine) as db:
        sale_splits = db.scalars(select(Split).where(Split.sale_id == sale.id)).all()
        void_splits = db.scalars(select(Split).where(Split.sale_id == cancel.id)).all()
        assert sorted(
            (s.tender_no, s.producer_id, -s.gross, -s.withheld, -s.fee, -s.net) for s in sale_splits
        ) == sorted(
            (s.tender_no, s.producer_id, s.gross, s.withheld, s.fee, s.net) for s in void_splits
        )
        assert db.get(Sale, cancel.id).session_id == cash_session.id
        verify(db)
    # The cash the sale put in the drawer is out again.
    assert x_report(engine, cash_session.id)["expected_cash"] == {"CLP": 20000}


def test_void_after_the_session_is_closed_is_refused(engine, fair, pm, sell, void, cash_session):
    sale = sell(THREE_LINES, [TenderRequest("cash", 30000)])
    close_session(
        engine,
        pm,
        session_id=cash_session.id,
        user_id=fair.users["cashier"],
        counted={"CLP": 45370},
    )
    before = written(engine)
    with pytest.raises(RefundNotAllowed, match="refund it instead") as err:
        void(sale.id, "void-00001")
    assert err.value.field == "sale"
    assert written(engine) == before


def test_void_twice_or_after_a_refund_is_refused(engine, fair, sell, void, refund):
    voided = sell(THREE_LINES, [TenderRequest("cash", 30000)])
    void(voided.id, "void-00001")
    with pytest.raises(RefundNotAllowed, match="already voided"):
        void(voided.id, "void-00002")

    refunded = sell(THREE_LINES, [TenderRequest("cash", 30000)])
    refund(refunded.id, "refund-0001", line_nos=[3])
    with pytest.raises(RefundNotAllowed, match="refunded lines"):
        void(refunded.id, "void-00003")


def test_void_resent_with_the_same_key_is_recorded_once(engine, fair, sell, void):
    sale = sell(THREE_LINES, [TenderRequest("cash", 30000)])
    first = void(sale.id, "void-00001", reason="wrong fair")
    again = void(sale.id, "void-00001", reason="wrong fair")
    assert again.replayed is True and again.id == first.id
    with read_session(engine) as db:
        assert db.scalar(select(func.count()).where(Sale.kind == "void")) == 1
