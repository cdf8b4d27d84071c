"""``feria verify``: an administrator with full database access changes the record, and
verify names the first entry that no longer fits.

The tamper tests drop the append-only triggers first, as such an administrator could; the
last tests show the triggers, while installed, refuse the same edits. Every test runs on
SQLite and on PostgreSQL (the ``engine`` fixture).
"""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner
from sqlalchemy import insert, select, text
from sqlalchemy.exc import DBAPIError

from feria import append_only, journal
from feria.cashbox.models import Sale
from feria.cashbox.refunds import refund_sale
from feria.cashbox.sessions import record_movement
from feria.cli import main
from feria.db import read_session
from feria.journal import JournalTampered
from feria.settlement import acknowledge_payout, record_payout
from feria.verify import verify, verify_chain_only, verify_engine


@pytest.fixture
def history(engine, pm, fair, sell, cash_session):
    """Sales (one weighed, one for a cooperative), a refund, a paid-in, a payout and its
    acknowledgement: every kind of derived row."""
    a = sell(
        [{"product_id": fair.products["honey"], "quantity": "1.235"}, {"barcode": "7800000000023"}],
        [{"method": "cash", "amount": 25000}],
    )
    b = sell(
        [{"product_id": fair.products["tomato"], "quantity": "750"}, {"barcode": "7800000000023"}],
        [{"method": "cash", "amount": 15240}],
    )
    refund = refund_sale(
        engine,
        pm,
        sale_id=a.id,
        key=uuid.uuid4().hex,
        user_id=fair.users["cashier"],
        session_id=cash_session.id,
        line_nos=[1],
    )
    movement = record_movement(
        engine,
        session_id=cash_session.id,
        kind="paid_in",
        amount=5000,
        reason="more coins",
        user_id=fair.users["cashier"],
    )
    payout = record_payout(
        engine,
        fair_id=fair.fair_id,
        producer_id=fair.producers["P07"],
        currency="CLP",
        amount=10_000,
        method="transfer",
        reference="TR-1",
        user_id=fair.users["organizer"],
    )
    ack = acknowledge_payout(engine, payout_id=payout.id, user_id=fair.users["producer2"])
    return {"a": a, "b": b, "refund": refund, "movement": movement, "payout": ack}


def tamper(engine, *statements: tuple[str, dict]) -> None:
    """Drop the triggers, then run raw SQL, as an administrator with database access could."""
    with engine.begin() as conn:
        for stmt in append_only.drop_statements(engine.dialect.name):
            conn.execute(text(stmt))
        for sql, params in statements:
            conn.execute(text(sql), params)


def tampered_at(engine) -> JournalTampered:
    with read_session(engine) as db, pytest.raises(JournalTampered) as caught:
        verify(db)
    return caught.value


def body_of(engine, seq: int) -> str:
    with read_session(engine) as db:
        return db.scalar(select(journal.JournalEntry.body).where(journal.JournalEntry.seq == seq))


def test_untouched_journal_verifies_with_every_derived_row(engine, history):
    with read_session(engine) as db:
        result = verify(db)
        head = journal.head(db)
    assert (result.count, result.head) == (head.seq, head)
    assert result.rows["sales"] == 3 and result.rows["splits"] == 5
    assert result.rows["sale_lines"] == 5 and result.rows["member_splits"] == 4
    assert result.rows["payouts"] == 1 and result.rows["cash_movements"] == 1
    assert result.unchecked_kinds == ()


def test_changed_amount_in_a_journal_body_is_found_at_that_entry(engine, history):
    seq = history["b"].seq
    body = body_of(engine, seq)
    assert '"total":15240' in body
    forged = body.replace('"total":15240', '"total":15200')
    tamper(engine, ("UPDATE journal_entries SET body = :b WHERE seq = :s", {"b": forged, "s": seq}))
    caught = tampered_at(engine)
    assert caught.seq == seq
    assert "does not match its hash" in caught.message


def test_deleted_entry_is_found(engine, history):
    seq = history["b"].seq
    tamper(engine, ("DELETE FROM journal_entries WHERE seq = :s", {"s": seq}))
    caught = tampered_at(engine)
    assert caught.seq == seq
    assert "missing" in caught.message


def test_swapped_bodies_of_two_entries_are_found_at_the_first(engine, history):
    first, second = history["a"].seq, history["b"].seq
    one, two = body_of(engine, first), body_of(engine, second)
    tamper(
        engine,
        ("UPDATE journal_entries SET body = :b WHERE seq = :s", {"b": two, "s": first}),
        ("UPDATE journal_entries SET body = :b WHERE seq = :s", {"b": one, "s": second}),
    )
    assert tampered_at(engine).seq == first


def test_edited_split_row_is_found_at_its_sales_entry(engine, fair, history):
    b = history["b"]
    coop = fair.producers["P07"]
    (split,) = [s for s in b.body["splits"] if s[1] == coop]
    tamper(
        engine,
        (
            "UPDATE splits SET net = net - 25 WHERE sale_id = :s AND producer_id = :p",
            {"s": b.id, "p": coop},
        ),
    )
    caught = tampered_at(engine)
    assert caught.seq == b.seq
    assert caught.message == (
        f"entry {b.seq}: splits row for producer {coop}, tender 1: net is {split[6] - 25}, "
        f"the entry says {split[6]}"
    )


def test_deleted_sale_line_is_found_at_its_sales_entry(engine, history):
    a = history["a"]
    tamper(engine, ("DELETE FROM sale_lines WHERE sale_id = :s AND line_no = 2", {"s": a.id}))
    caught = tampered_at(engine)
    assert caught.seq == a.seq
    assert "sale_lines row for line 2 is missing" in caught.message


def test_sales_row_with_no_entry_behind_it_is_found(engine, history):
    with read_session(engine) as db:
        head = journal.head(db)
        real = db.get(Sale, history["b"].id)
        fake = {c.name: getattr(real, c.key) for c in Sale.__table__.columns if c.name != "id"}
    fake.update(id=real.id + 10, idempotency_key="forged-sale-0001", seq=head.seq + 1)
    with engine.begin() as conn:
        for stmt in append_only.drop_statements(engine.dialect.name):
            conn.execute(text(stmt))
        conn.execute(insert(Sale).values(**fake))
    caught = tampered_at(engine)
    assert caught.seq == head.seq + 1
    assert f"sales row {real.id + 10}" in caught.message


def test_sales_row_claiming_another_kind_of_entry_is_found_at_that_entry(engine, history):
    payout_seq = history["payout"].seq
    with read_session(engine) as db:
        real = db.get(Sale, history["b"].id)
        fake = {c.name: getattr(real, c.key) for c in Sale.__table__.columns}
    fake.update(id=real.id + 10, idempotency_key="forged-sale-0002", seq=payout_seq)
    tamper(engine)
    with engine.begin() as conn:
        conn.execute(insert(Sale).values(**fake))
    caught = tampered_at(engine)
    assert caught.seq == payout_seq
    assert "is a payout that does not record it" in caught.message


def test_edited_payout_row_is_found_at_the_payout_entry(engine, history):
    payout = history["payout"]
    tamper(engine, ("UPDATE payouts SET amount = 1000 WHERE id = :i", {"i": payout.id}))
    caught = tampered_at(engine)
    assert caught.seq == payout.seq
    assert "amount is 1000, the entry says 10000" in caught.message


def test_edited_cash_movement_is_found(engine, history):
    mv = history["movement"]
    tamper(engine, ("UPDATE cash_movements SET amount = 50 WHERE id = :i", {"i": mv.id}))
    assert tampered_at(engine).seq == mv.seq


def test_journal_columns_outside_the_hash_are_checked_against_the_body(engine, history):
    seq = history["refund"].seq
    tamper(engine, ("UPDATE journal_entries SET kind = 'sale' WHERE seq = :s", {"s": seq}))
    caught = tampered_at(engine)
    assert caught.seq == seq
    assert "kind column is 'sale', the entry says 'refund'" in caught.message


def test_chain_only_check_is_blind_to_derived_rows_the_full_check_catches(engine, history):
    a = history["a"]
    tamper(engine, ("UPDATE sales SET total = total + 1 WHERE id = :i", {"i": a.id}))
    with read_session(engine) as db:
        assert verify_chain_only(db).count == journal.head(db).seq
    assert tampered_at(engine).seq == a.seq


def test_the_first_bad_entry_is_named_when_several_are_bad(engine, history):
    a, b = history["a"], history["b"]
    tamper(
        engine,
        ("UPDATE splits SET gross = gross + 1 WHERE sale_id = :s", {"s": b.id}),
        ("DELETE FROM tenders WHERE sale_id = :s", {"s": a.id}),
    )
    caught = tampered_at(engine)
    assert caught.seq == a.seq
    assert "tenders row for tender 1 is missing" in caught.message


# -- the triggers, still installed ----------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE journal_entries SET body = '{}' WHERE seq = 1",
        "DELETE FROM journal_entries WHERE seq = 1",
        "UPDATE sales SET total = 1",
        "DELETE FROM sales",
    ],
)
def test_database_refuses_to_change_journal_entries_and_sales(engine, history, sql):
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(sql))
    with read_session(engine) as db:
        verify(db)


# -- the command line ----------------------------------------------------------------------


def test_cli_verify_prints_the_head_or_the_tampered_entry(engine, history):
    url = engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    ok = runner.invoke(main, ["--database", url, "verify"])
    head = verify_engine(engine).head
    assert ok.exit_code == 0, ok.output
    assert ok.output == f"journal verified: {head.seq} entries, head {head.seq} {head.hash}\n"

    seq = history["b"].seq
    forged = json.loads(body_of(engine, seq))
    forged["total"] += 1
    tamper(
        engine,
        (
            "UPDATE journal_entries SET body = :b WHERE seq = :s",
            {"b": journal.canonical_bytes(forged).decode(), "s": seq},
        ),
    )
    bad = runner.invoke(main, ["--database", url, "verify"])
    assert bad.exit_code == 1
    assert bad.output.startswith(f"journal TAMPERED at entry {seq}: ")
