"""The settlement (liquidación) and payouts: what every producer is owed, what was paid,
and the caja común's promise that paid + withheld + fees + balances = collected.

Every test runs on SQLite and on PostgreSQL (the ``engine`` fixture).
"""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from feria import append_only, hookimpl
from feria.cashbox.errors import NotAllowed, UnknownProducer
from feria.cashbox.refunds import refund_sale
from feria.catalogue.models import Fair, Member, Producer
from feria.catalogue.rules import add_rule_version
from feria.cli import main
from feria.db import read_session, write_session
from feria.journal import JournalEntry
from feria.payments import Authorization, PaymentMethod
from feria.settlement import (
    InvalidPayout,
    PayoutAlreadyAcknowledged,
    PayoutExceedsBalance,
    SettlementUnbalanced,
    acknowledge_payout,
    record_payout,
    settle,
)


class Card(PaymentMethod):
    """A card terminal stand-in: always approves, states no fee (the rule's 3% applies)."""

    code = "card"
    name = "Card"
    supports_refund = True

    def authorize(self, tender, sale):
        return Authorization.approve(reference="AUTH")

    def refund(self, tender, sale):
        return Authorization.approve(reference="BACK")


class CardPlugin:
    @hookimpl
    def feria_payment_methods(self, fair):
        return [Card()]


@pytest.fixture
def card(pm):
    plugin = CardPlugin()
    pm.register(plugin, name="test-card")
    yield plugin
    pm.unregister(plugin)


@pytest.fixture
def day(engine, pm, fair, sell, cash_session, card):
    """A day at the fair, with the figures worked out by hand below.

    A: 1.235 kg of honey (P01, 9880) + a scarf (P07, 12990), cash 25000 (change 2130).
    B: 750 g of tomatoes (P02, 2250) + a scarf (12990), card 10000 (fee 300) + cash 5240.
    C: a free line for P02 typed by code, 1500, cash.
    Then the honey of A is refunded in cash.
    """
    a = sell(
        [{"product_id": fair.products["honey"], "quantity": "1.235"}, {"barcode": "7800000000023"}],
        [{"method": "cash", "amount": 25000}],
    )
    b = sell(
        [{"product_id": fair.products["tomato"], "quantity": "750"}, {"barcode": "7800000000023"}],
        [{"method": "card", "amount": 10000}, {"method": "cash", "amount": 5240}],
    )
    c = sell([{"producer_code": "P02", "amount": 1500}], [{"method": "cash", "amount": 1500}])
    r = refund_sale(
        engine,
        pm,
        sale_id=a.id,
        key=uuid.uuid4().hex,
        user_id=fair.users["cashier"],
        session_id=cash_session.id,
        line_nos=[1],
    )
    return {"a": a, "b": b, "c": c, "refund": r}


def settled(engine, fair, **kw):
    with read_session(engine) as db:
        return settle(db, fair.fair_id, **kw)


def row(settlement, fair, code, currency="CLP"):
    pid = fair.producers[code]
    (found,) = [p for p in settlement.producers if p.producer_id == pid and p.currency == currency]
    return found


def figures(r):
    return (
        r.gross.amount,
        r.refunds.amount,
        r.withheld.amount,
        r.fees.amount,
        r.net.amount,
        r.paid.amount,
        r.balance.amount,
    )


def pay(engine, fair, code, amount, currency="CLP", user="organizer", method="cash"):
    return record_payout(
        engine,
        fair_id=fair.fair_id,
        producer_id=fair.producers[code],
        currency=currency,
        amount=amount,
        method=method,
        reference="REC-1",
        user_id=fair.users[user],
    )


# -- the figures ---------------------------------------------------------------------------


def test_each_producer_gets_gross_refunds_withholding_fees_and_net_per_currency(engine, fair, day):
    s = settled(engine, fair)
    # gross, refunds, withheld, fees, net, paid, balance
    assert figures(row(s, fair, "P01")) == (9880, -9880, 0, 0, 0, 0, 0)
    # B's card tender: 1476 gross, 74 withheld, 44 fee; cash: 774 and 39; C: 1500 and 75.
    assert figures(row(s, fair, "P02")) == (3750, 0, 188, 44, 3518, 0, 3518)
    # A: 12990 and 650; B card: 8524, 426, fee 256; B cash: 4466 and 223.
    assert figures(row(s, fair, "P07")) == (25980, 0, 1299, 256, 24425, 0, 24425)
    assert [p.code for p in s.producers] == ["P01", "P02", "P07"]  # P09 does not take part


def test_paid_withheld_fees_and_balances_add_up_to_what_was_collected(engine, fair, day):
    pay(engine, fair, "P07", 10_000)
    s = settled(engine, fair)
    (clp,) = s.totals
    collected = 22870 + 10000 + 5240 + 1500 - 9880  # tenders kept, the refund paid back
    assert clp.collected.amount == collected
    assert (clp.paid + clp.withheld + clp.fees + clp.balance).amount == collected
    assert clp.balanced and s.balanced
    assert s.to_json()["totals"][0]["accounted"] == collected


def test_settlement_names_the_rule_version_that_split_the_sales(engine, fair, day):
    s = settled(engine, fair)
    (rule,) = s.rules
    assert (rule.version, rule.solidarity_bp, rule.fees) == (
        1,
        500,
        {"card": {"bp": 300, "fixed": 0}},
    )
    assert all(p.rule_ids == (rule.rule_id,) for p in s.producers if p.gross.amount)


def test_cooperative_members_figures_sum_to_the_cooperatives(engine, fair, day):
    pay(engine, fair, "P07", 10_000)
    coop = row(settled(engine, fair), fair, "P07")
    ana, luis = coop.members
    assert (ana.name, ana.share_bp, luis.name, luis.share_bp) == ("Ana", 6000, "Luis", 4000)
    assert (ana.net.amount, luis.net.amount) == (7404 + 7251, 4936 + 4834)
    assert (ana.paid.amount, luis.paid.amount) == (6000, 4000)  # paid split by the shares
    assert ana.net + luis.net == coop.net
    assert ana.paid + luis.paid == coop.paid
    assert ana.balance + luis.balance == coop.balance


def test_a_producers_view_holds_no_other_producer(engine, fair, day):
    pay(engine, fair, "P07", 10_000)
    pay(engine, fair, "P02", 1_000)
    view = settled(engine, fair).for_producer(fair.producers["P02"])
    assert [p.code for p in view.producers] == ["P02"]
    assert [p.producer_id for p in view.payouts] == [fair.producers["P02"]]
    (clp,) = view.totals
    assert (clp.gross.amount, clp.paid.amount, clp.balance.amount) == (3750, 1000, 2518)
    assert clp.collected.amount == 3750 and clp.balanced  # the producer's part of the tenders
    published = json.dumps(view.to_json(), ensure_ascii=False) + view.to_csv() + view.to_table()
    for other in ("P01", "Miel", "P07", "Cooperativa", "Ana", "Luis"):
        assert other not in published


def test_settlement_json_is_byte_identical_when_computed_twice(engine, fair, day):
    pay(engine, fair, "P07", 10_000)
    first, second = settled(engine, fair), settled(engine, fair)
    assert first.to_json_bytes() == second.to_json_bytes()
    assert json.dumps(first.to_json(), sort_keys=True) == json.dumps(
        second.to_json(), sort_keys=True
    )
    assert first.digest() == second.digest()


def test_an_earlier_settlement_is_reproduced_exactly_after_later_payouts(engine, fair, day):
    before = settled(engine, fair)
    pay(engine, fair, "P07", 10_000)
    assert settled(engine, fair).to_json_bytes() != before.to_json_bytes()
    again = settled(engine, fair, as_of=before.as_of.seq)
    assert again.to_json_bytes() == before.to_json_bytes()


def test_csv_opens_in_a_spanish_spreadsheet_with_semicolons_and_decimal_commas(
    engine, fair, sell, card
):
    with write_session(engine) as db:
        add_rule_version(
            db,
            db.get(Fair, fair.fair_id),
            solidarity_bp=500,
            fees={"card": {"bp": 300, "fixed": 0}},
            rates={"USD": "950"},
        )
    # A scarf paid 10.00 USD by card (9500 CLP at 950) and the rest in pesos.
    sell(
        [{"barcode": "7800000000023"}],
        [{"method": "card", "amount": 1000, "currency": "USD"}, {"method": "cash", "amount": 3490}],
    )
    s = settled(engine, fair)
    assert [(t.currency, t.collected.amount, t.balanced) for t in s.totals] == [
        ("CLP", 3490, True),
        ("USD", 1000, True),
    ]
    csv_es = s.to_csv("es")
    assert csv_es.startswith("\ufeff")
    lines = csv_es.lstrip("\ufeff").splitlines()
    assert lines[0].split(";")[:4] == ["Código", "Productor", "Socio/a", "Moneda"]
    usd = next(line for line in lines if line.startswith("P07;") and ";USD;" in line)
    # gross 10,00; no refunds; 5% fund 0,50; 3% fee 0,30; net 9,20; nothing paid yet.
    assert usd == "P07;Cooperativa Textil;;USD;10,00;0,00;0,50;0,30;9,20;0,00;9,20"
    assert "TOTAL;;;USD;10,00;0,00;0,50;0,30;9,20;0,00;9,20" in lines
    assert "Gross sales" in s.to_csv("en") and ",10.00," in s.to_csv("en")


def test_csv_writes_names_that_look_like_formulas_as_text_and_amounts_as_numbers(engine, fair, day):
    with write_session(engine) as db:  # names a producer typed in, read by an organizer
        db.get(Producer, fair.producers["P01"]).name = '=HYPERLINK("http://x.example","y")'
        db.get(Member, fair.members["Ana"]).name = "@SUM(1+1)"
    lines = settled(engine, fair).to_csv("es").lstrip("\ufeff").splitlines()
    honey = next(line for line in lines if line.startswith("P01;"))
    # The refund stays the number -9880 (pesos have no decimals); the name is text.
    assert honey == 'P01;"\'=HYPERLINK(""http://x.example"",""y"")";;CLP;9880;-9880;0;0;0;0;0'
    assert any(";'@SUM(1+1);CLP;" in line for line in lines)
    assert not any(cell.startswith(("=", "@")) for line in lines for cell in line.split(";"))


def test_weighed_quantities_are_settled_at_their_rounded_line_totals(engine, fair, sell):
    # 0.333 kg of honey at 8000/kg is 2664 (2664.0), 333 g of tomatoes at 3/g is 999.
    sell(
        [
            {"product_id": fair.products["honey"], "quantity": "0.333"},
            {"product_id": fair.products["tomato"], "quantity": "333"},
        ],
        [{"method": "cash", "amount": 3663}],
    )
    s = settled(engine, fair)
    assert row(s, fair, "P01").gross.amount == 2664
    assert row(s, fair, "P02").gross.amount == 999


# -- payouts -------------------------------------------------------------------------------


def test_payout_is_recorded_in_the_journal_and_lowers_the_balance(engine, fair, day):
    payout = pay(engine, fair, "P02", 3_000)
    with read_session(engine) as db:
        entry = db.get(JournalEntry, payout.seq)
        assert entry.kind == "payout"
        assert json.loads(entry.body)["amount"] == 3000
    p02 = row(settled(engine, fair), fair, "P02")
    assert (p02.paid.amount, p02.balance.amount) == (3000, 518)


def test_paying_more_than_the_balance_is_refused_with_what_is_owed(engine, fair, day):
    pay(engine, fair, "P02", 3_000)
    with pytest.raises(PayoutExceedsBalance) as refused:
        pay(engine, fair, "P02", 519)
    assert refused.value.field == "amount"
    assert "is owed $518" in refused.value.message
    pay(engine, fair, "P02", 518)  # exactly the balance is fine
    with pytest.raises(PayoutExceedsBalance, match="owed nothing"):
        pay(engine, fair, "P02", 1)


@pytest.mark.parametrize("amount", [0, -500])
def test_payout_of_nothing_or_less_is_refused(engine, fair, day, amount):
    with pytest.raises(InvalidPayout) as refused:
        pay(engine, fair, "P02", amount)
    assert refused.value.field == "amount"


def test_payout_to_an_unknown_producer_or_one_not_at_the_fair_is_refused(engine, fair, day):
    with pytest.raises(UnknownProducer) as unknown:
        record_payout(
            engine,
            fair_id=fair.fair_id,
            producer_id=99_999,
            currency="CLP",
            amount=100,
            method="cash",
            reference="",
            user_id=fair.users["organizer"],
        )
    assert unknown.value.field == "producer"
    with pytest.raises(UnknownProducer, match="does not take part") as absent:
        pay(engine, fair, "P09", 100)
    assert absent.value.field == "producer"


def test_only_an_organizer_records_payouts_and_in_a_known_currency(engine, fair, day):
    with pytest.raises(NotAllowed) as cashier:
        pay(engine, fair, "P02", 100, user="cashier")
    assert cashier.value.field == "user"
    with pytest.raises(InvalidPayout) as currency:
        pay(engine, fair, "P02", 100, currency="XXQ")
    assert currency.value.field == "currency"


def test_producer_acknowledges_their_payout_once(engine, fair, day):
    payout = pay(engine, fair, "P07", 5_000)
    acked = acknowledge_payout(engine, payout_id=payout.id, user_id=fair.users["producer2"])
    assert acked.acknowledged_by == fair.users["producer2"] and acked.ack_seq > payout.seq
    (listed,) = settled(engine, fair).payouts
    assert listed.acknowledged_at == acked.acknowledged_at and listed.ack_seq == acked.ack_seq
    with pytest.raises(PayoutAlreadyAcknowledged) as twice:
        acknowledge_payout(engine, payout_id=payout.id, user_id=fair.users["producer2"])
    assert twice.value.field == "payout"


@pytest.mark.parametrize("who", ["producer", "organizer", "cashier"])
def test_acknowledging_someone_elses_payout_is_refused(engine, fair, day, who):
    payout = pay(engine, fair, "P07", 5_000)  # P07's; "producer" is P01's user
    with pytest.raises(NotAllowed) as refused:
        acknowledge_payout(engine, payout_id=payout.id, user_id=fair.users[who])
    assert refused.value.field == "user"
    (listed,) = settled(engine, fair).payouts
    assert listed.acknowledged_at is None


def test_an_acknowledged_payout_row_is_frozen_by_the_database(engine, fair, day):
    payout = pay(engine, fair, "P07", 5_000)
    acknowledge_payout(engine, payout_id=payout.id, user_id=fair.users["producer2"])
    with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
        conn.execute(text("UPDATE payouts SET amount = 1 WHERE id = :i"), {"i": payout.id})


def test_settlement_refuses_to_balance_when_a_derived_row_was_edited(engine, fair, day):
    with engine.begin() as conn:
        for stmt in append_only.drop_statements(engine.dialect.name):
            conn.execute(text(stmt))
        conn.execute(
            text("UPDATE splits SET net = net + 100 WHERE sale_id = :s"), {"s": day["c"].id}
        )
    with pytest.raises(SettlementUnbalanced, match="run `feria verify`"):
        settled(engine, fair)


# -- the command line ----------------------------------------------------------------------


def test_cli_settles_a_fair_as_csv_and_records_a_payout_typed_in_the_fairs_locale(
    engine, fair, day, tmp_path
):
    url = engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    out = tmp_path / "liquidacion.csv"
    done = runner.invoke(
        main, ["--database", url, "settle", "feria-test", "--format", "csv", "-o", str(out)]
    )
    assert done.exit_code == 0, done.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    assert "P07;Cooperativa Textil;;CLP;25980;0;1299;256;24425;0;24425" in out.read_text("utf-8")

    paid = runner.invoke(
        main, ["--database", url, "payout", "feria-test", "p07", "$12.000", "--user", "org"]
    )
    assert paid.exit_code == 0, paid.output
    assert "$12.000 to P07" in paid.output and "balance now $12.425" in paid.output

    too_much = runner.invoke(
        main, ["--database", url, "payout", "feria-test", "P07", "12.426", "--user", "org"]
    )
    assert too_much.exit_code == 1
    assert "is owed $12.425" in too_much.output

    view = runner.invoke(
        main, ["--database", url, "settle", "feria-test", "--producer", "P07", "--format", "json"]
    )
    assert view.exit_code == 0, view.output
    data = json.loads(view.output)
    assert [p["code"] for p in data["producers"]] == ["P07"] and data["totals"][0]["paid"] == 12000
