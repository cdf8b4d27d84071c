"""The demo fair: what it creates, that loading it twice changes nothing, and that its
sales are as trustworthy as any other (the chain verifies, the splits add up)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from stdnum import ean

from feria import journal
from feria.accounts import User, authenticate
from feria.cashbox.models import CashMovement, CashSession, Sale, SaleLine, Split, Tender, Till
from feria.cashbox.sales import payment_methods
from feria.cashbox.sessions import x_report
from feria.catalogue.models import (
    SHARES_WHOLE,
    WEIGHED_UNITS,
    Fair,
    Member,
    Participation,
    Producer,
    Product,
    RuleVersion,
)
from feria.db import Base, read_session
from feria.demo import (
    DEMO_FAIR_SLUG,
    DEMO_PASSWORD,
    OPENING_FLOAT,
    PRODUCERS,
    SALES,
    load_demo,
)


@pytest.fixture
def demo_pm(pm):
    """``pm`` when feria-cash is installed; else a manager with the cash plugin added, so
    the tests also run from a source checkout."""
    import feria_cash

    if pm.is_registered(feria_cash):
        return pm
    from feria.plugins import get_plugin_manager

    return get_plugin_manager(load_entry_points=False, extra=[feria_cash])


def snapshot(engine) -> dict[str, object]:
    """Row counts of every table, and the journal head."""
    with read_session(engine) as db:
        counts: dict[str, object] = {
            table.name: db.scalar(select(func.count()).select_from(table))
            for table in Base.metadata.sorted_tables
        }
        counts["journal_head"] = journal.head(db)
    return counts


def test_load_creates_the_demo_fair(engine, demo_pm):
    info = load_demo(engine, demo_pm)

    assert info.fair_slug == DEMO_FAIR_SLUG
    assert info.currency == "CLP"
    assert info.producers == len(PRODUCERS) == 12
    assert 55 <= info.products <= 65
    assert info.sales == len(SALES)
    assert set(info.tills) == {"T1", "T2"}
    assert info.session_id is not None
    assert {login.opens for login in info.logins} >= {"/pos", "/backoffice", "/producer", "/shop"}
    assert all(login.password == DEMO_PASSWORD for login in info.logins)

    with read_session(engine) as db:
        fair = db.get(Fair, info.fair_id)
        assert (fair.locale, fair.timezone) == ("es_CL", "America/Santiago")
        assert (fair.starts_on.isoformat(), fair.ends_on.isoformat()) == (
            "2026-12-18",
            "2026-12-23",
        )
        assert fair.place and fair.receipt_footer
        rule = db.scalar(select(RuleVersion).where(RuleVersion.fair_id == fair.id))
        assert rule.solidarity_bp == 500
        # A fee only for a method the demo has: its card payments (Stripe) state their own.
        assert set(rule.fees or {}) <= set(payment_methods(demo_pm, fair))

        kinds = defaultdict(list)
        for producer in db.scalars(
            select(Producer)
            .join(Participation, Participation.producer_id == Producer.id)
            .where(Participation.fair_id == fair.id)
        ):
            kinds[producer.kind].append(producer)
            assert producer.story and producer.place
        assert kinds["association"], "a neighbourhood association sells at the fair"
        (coop,) = kinds["cooperative"]
        shares = [
            m.share_bp for m in db.scalars(select(Member).where(Member.producer_id == coop.id))
        ]
        assert 3 <= len(shares) <= 4
        assert sum(shares) == SHARES_WHOLE

        products = list(
            db.scalars(select(Product).join(Producer).where(Producer.network_id == fair.network_id))
        )
        assert all(type(p.price) is int and p.price > 0 and p.currency == "CLP" for p in products)
        units = {p.unit for p in products}
        assert {"kg", "g"} <= units
        honey = [p for p in products if p.unit == "kg" and p.category == "Miel"]
        assert honey, "honey is sold by the kilo"
        assert any(p.unit == "g" and p.price in (2, 3) for p in products)
        barcodes = [p.barcode for p in products if p.barcode]
        assert len(barcodes) >= 10
        for code in barcodes:
            assert len(code) == 13 and ean.is_valid(code)
            # Chilean product codes, or a scale label's base code for a weighed product.
            assert code.startswith("780") or (
                code.startswith("2") and code.endswith("00000", 0, 12)
            )
        weighed_by_label = [p for p in products if p.barcode and p.barcode.startswith("2")]
        assert weighed_by_label and all(p.unit in ("kg", "g", "l") for p in weighed_by_label)
        assert any(p.stock is not None for p in products)
        assert len({p.category for p in products}) >= 9

        t1 = db.scalar(select(Till).where(Till.fair_id == fair.id, Till.code == "T1"))
        assert t1.name == "Caja 1"
        assert t1.printer == {
            "driver": "escpos",
            "connection": "network",
            "host": "127.0.0.1",
            "port": 9100,
            "profile": "80mm",
        }

        session = db.get(CashSession, info.session_id)
        assert session.till_id == t1.id and session.closed_at is None
        assert session.float_detail == OPENING_FLOAT
        assert session.float_amount == sum(int(v) * n for v, n in OPENING_FLOAT.items())
        movement = db.scalar(select(CashMovement).where(CashMovement.session_id == session.id))
        assert movement.kind in ("paid_in", "paid_out") and movement.reason


def test_loading_twice_changes_nothing(engine, demo_pm):
    first = load_demo(engine, demo_pm)
    before = snapshot(engine)

    second = load_demo(engine, demo_pm)

    assert second == first
    assert snapshot(engine) == before


def test_catalogue_only_then_with_sales(engine, demo_pm):
    bare = load_demo(engine, demo_pm, with_sales=False)
    assert bare.sales == 0 and bare.session_id is None
    before = snapshot(engine)
    assert load_demo(engine, demo_pm, with_sales=False) == bare
    assert snapshot(engine) == before

    full = load_demo(engine, demo_pm)
    assert full.sales == len(SALES)
    assert (full.producers, full.products) == (bare.producers, bare.products)
    after = snapshot(engine)
    assert load_demo(engine, demo_pm) == full
    assert snapshot(engine) == after


def test_demo_sales_verify_and_splits_add_up(engine, demo_pm):
    info = load_demo(engine, demo_pm)

    with read_session(engine) as db:
        head = journal.verify_chain(db)
        assert head == journal.head(db)
        sales = list(db.scalars(select(Sale).where(Sale.fair_id == info.fair_id)))
        assert sorted(s.idempotency_key for s in sales) == [s.key for s in SALES]
        for sale in sales:
            kept: dict[str, int] = defaultdict(int)
            for tender in db.scalars(select(Tender).where(Tender.sale_id == sale.id)):
                assert tender.method == "cash"
                assert tender.amount - tender.change == tender.applied
                kept[tender.currency] += tender.applied
            parts: dict[str, int] = defaultdict(int)
            for split in db.scalars(select(Split).where(Split.sale_id == sale.id)):
                assert split.gross - split.withheld - split.fee == split.net
                parts[split.currency] += split.net + split.withheld + split.fee
            assert parts == kept, sale.idempotency_key
            lines = db.scalar(select(func.sum(SaleLine.total)).where(SaleLine.sale_id == sale.id))
            assert lines == sale.total

        assert db.scalar(select(func.sum(Tender.change))) > 0, "some sales gave change"
        weighed = {
            (ln.unit, Decimal(ln.quantity))
            for ln in db.scalars(select(SaleLine).where(SaleLine.unit.in_(WEIGHED_UNITS)))
        }
        assert ("kg", Decimal("1.235")) in weighed
        assert ("g", Decimal("750")) in weighed
        honey_line = db.scalar(
            select(SaleLine).where(SaleLine.unit == "kg", SaleLine.quantity == "1.235")
        )
        price = db.get(Product, honey_line.product_id).price
        expected = int((Decimal("1.235") * price).quantize(Decimal(1), "ROUND_HALF_UP"))
        assert honey_line.total == expected
        p07 = db.scalar(select(Producer.id).where(Producer.code == "P07"))
        free = db.scalar(
            select(SaleLine).where(SaleLine.product_id.is_(None), SaleLine.producer_id == p07)
        )
        assert free is not None and free.total == 2500

    report = x_report(engine, info.session_id)
    float_amount = sum(int(v) * n for v, n in OPENING_FLOAT.items())
    movements = report["movements"]
    expected_cash = (
        float_amount
        + report["by_method"]["cash"]["CLP"]
        + movements.get("paid_in", {}).get("CLP", 0)
        - movements.get("paid_out", {}).get("CLP", 0)
    )
    assert report["expected_cash"] == {"CLP": expected_cash}
    assert report["counts"]["sale"] == len(SALES)


def test_cashier_can_keep_selling_after_the_demo(engine, demo_pm):
    from feria.cashbox.sales import LineRequest, TenderRequest, record_sale

    info = load_demo(engine, demo_pm)
    sale = record_sale(
        engine,
        demo_pm,
        key="after-the-demo-0001",
        session_id=info.session_id,
        lines=[LineRequest(producer_code="P09", amount=2500)],
        tenders=[TenderRequest(method="cash", amount=5000)],
    )
    assert sale.change.amount == 2500
    with read_session(engine) as db:
        journal.verify_chain(db)


def test_every_product_belongs_to_a_producer_at_the_fair(engine, demo_pm):
    info = load_demo(engine, demo_pm, with_sales=False)
    with read_session(engine) as db:
        network_id = db.scalar(select(Fair.network_id).where(Fair.id == info.fair_id))
        at_fair = set(
            db.scalars(
                select(Participation.producer_id).where(Participation.fair_id == info.fair_id)
            )
        )
        owners = set(
            db.scalars(
                select(Product.producer_id)
                .join(Producer, Producer.id == Product.producer_id)
                .where(Producer.network_id == network_id)
            )
        )
        assert owners and owners <= at_fair
        assert at_fair <= owners, "every producer at the fair has something to sell"
        assert all(
            fair_id == info.fair_id
            for fair_id in db.scalars(
                select(Participation.fair_id).where(Participation.producer_id.in_(owners))
            )
        )
        methods = payment_methods(demo_pm, db.get(Fair, info.fair_id))
        assert "cash" in methods


def test_demo_users_can_log_in(engine, demo_pm):
    info = load_demo(engine, demo_pm, with_sales=False)
    roles = {login.role for login in info.logins}
    assert roles == {"organizer", "cashier", "producer", "shopper"}
    with read_session(engine) as db:
        for login in info.logins:
            user = authenticate(db, login.username, login.password)
            assert user is not None, login.username
            assert user.role == login.role
            if login.role == "producer":
                code = db.scalar(select(Producer.code).where(Producer.id == user.producer_id))
                assert code == login.producer_code
            else:
                assert user.producer_id is None
        assert authenticate(db, "cajera", "not-the-password") is None
        by_name = {login.username: login for login in info.logins}
        assert by_name["productor"].producer_code == "P01"
        coop = db.scalar(
            select(Producer).where(Producer.code == by_name["cooperativa"].producer_code)
        )
        assert coop.kind == "cooperative"
        assert db.scalar(select(func.count()).select_from(User)) == len(info.logins)


def _user_id(engine, username: str) -> int:
    with read_session(engine) as db:
        return db.scalar(select(User.id).where(User.username == username))


def test_sales_resume_in_an_untouched_demo_session(engine, demo_pm):
    from feria.cashbox.sessions import open_session

    info = load_demo(engine, demo_pm, with_sales=False)
    # As if a loader stopped right after opening the session: the next one carries on in it.
    opened = open_session(
        engine,
        till_id=info.tills["T1"],
        user_id=_user_id(engine, "cajera"),
        float_detail=OPENING_FLOAT,
    )
    resumed = load_demo(engine, demo_pm)
    assert resumed.session_id == opened.id
    assert resumed.sales == len(SALES)


def test_no_demo_sales_in_a_fair_already_in_use(engine, demo_pm):
    from feria.cashbox.sessions import open_session

    info = load_demo(engine, demo_pm, with_sales=False)
    open_session(
        engine, till_id=info.tills["T2"], user_id=_user_id(engine, "organizadora"), float_amount=0
    )
    before = snapshot(engine)
    again = load_demo(engine, demo_pm)
    assert again.sales == 0 and again.session_id is None
    assert snapshot(engine) == before
