"""Properties under random payments: mutual credit's balances always sum to zero, no account
ever passes its limits, and a payment is refused exactly when it would pass one (whether a
member pays another or pays at the till)."""

from __future__ import annotations

import uuid

import feria_social_currency as sc
from feria_social_currency import ledger, models
from feria_social_currency.errors import LimitExceeded
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feria.cashbox.errors import PaymentRefused
from feria.cashbox.sales import LineRequest, TenderRequest, record_sale
from feria.catalogue.models import Fair
from feria.catalogue.rules import add_rule_version, rule_in_force
from feria.db import read_session, write_session

PIN = "4321"  # the hours fixture's PIN
DEBIT, CREDIT = 5_000, 8_000  # the hours fixture's limits

random_payments = st.lists(
    st.tuples(
        st.sampled_from(["transfer", "till"]),
        st.integers(0, 3),
        st.integers(0, 3),
        st.integers(1, 7_000),
    ),
    min_size=1,
    max_size=10,
)


def _accept_hours_at_the_fair(engine, fair_id: int) -> None:
    with write_session(engine) as db:
        fair = db.get(Fair, fair_id)
        rule = rule_in_force(db, fair.id, models.utcnow())
        if "HORA" not in (rule.rates or {}):
            add_rule_version(
                db,
                fair,
                solidarity_bp=rule.solidarity_bp,
                fees=dict(rule.fees),
                rates={**rule.rates, "HORA": "100"},  # one hour is worth 100 CLP
            )


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(payments=random_payments)
def test_sum_zero_and_limits_hold_under_random_payments(engine, pm, fair, hours, payments):
    _accept_hours_at_the_fair(engine, fair.fair_id)
    session = _open_session(engine, fair)
    with read_session(engine) as db:
        model = ledger.balances(db, "HORA")  # where the earlier examples left the accounts
    caja = f"HORA-FAIR{fair.fair_id}"
    model.setdefault(caja, 0)
    for how, a, b, amount in payments:
        payer = hours.accounts[a]
        payee = hours.accounts[b] if how == "transfer" else caja
        if payer == payee:
            continue
        allowed = model[payer] - amount >= -DEBIT and (
            payee == caja or model[payee] + amount <= CREDIT
        )
        try:
            if how == "transfer":
                sc.transfer(engine, from_=payer, to=payee, amount=amount, pin=PIN)
            else:
                record_sale(
                    engine,
                    pm,
                    key=uuid.uuid4().hex,
                    session_id=session,
                    lines=[LineRequest(producer_code="P01", amount=amount)],  # CLP = hours/100
                    tenders=[
                        TenderRequest(
                            "social_currency",
                            amount,
                            currency="HORA",
                            data={"account": payer, "pin": PIN},
                        )
                    ],
                )
        except (LimitExceeded, PaymentRefused) as exc:
            assert not allowed, exc
            assert "may not go below" in str(exc) or "may hold at most" in str(exc)
        else:
            assert allowed, f"{payer} paid {amount} to {payee} past a limit"
            model[payer] -= amount
            model[payee] += amount
    with read_session(engine) as db:
        actual = ledger.balances(db, "HORA")
        assert sum(actual.values()) == 0
        for number in hours.accounts:
            assert -DEBIT <= actual[number] <= CREDIT
            assert actual[number] == model[number]
        assert actual.get(caja, 0) == model[caja]


_sessions: dict[str, int] = {}


def _open_session(engine, fair) -> int:
    """One open cash session per database, shared by the examples of a test."""
    from feria.cashbox.models import CashSession
    from feria.cashbox.sessions import open_session

    url = engine.url.render_as_string(hide_password=False)
    with read_session(engine) as db:
        known = _sessions.get(url)
        if known is not None and db.get(CashSession, known) is not None:
            return known
    cs = open_session(engine, till_id=fair.till_id, user_id=fair.users["cashier"], float_amount=0)
    _sessions[url] = cs.id
    return cs.id


QR_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:"


@settings(max_examples=300, deadline=None)
@given(
    serial=st.integers(1, 999_999),
    amount=st.integers(1, 10**9),
    position=st.integers(0, 10_000),
    replacement=st.sampled_from(QR_CHARS),
)
def test_any_changed_character_makes_a_voucher_or_card_worthless(
    serial, amount, position, replacement
):
    from feria_social_currency import tokens

    voucher = tokens.voucher_payload("LUCA", f"LUCA{serial:06d}", amount)
    card = tokens.card_payload("LUCA", f"LUCA-{serial:04d}", amount % 1000)
    for payload, read in ((voucher, tokens.read_voucher), (card, tokens.read_card)):
        assert read(payload)  # the untouched payload is good
        i = position % len(payload)
        if payload[i] == replacement:
            continue
        changed = payload[:i] + replacement + payload[i + 1 :]
        try:
            read(changed)
        except tokens.BadSignature:
            continue
        raise AssertionError(f"{changed!r} was accepted")
