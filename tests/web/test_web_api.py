"""The JSON API v1, driven through the real app on both databases."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import func, select

from feria.cashbox.models import Sale
from feria.db import read_session

PROBLEM = "application/problem+json"


def _key() -> str:
    return uuid.uuid4().hex


def _problem(answer, status: int) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    problem = answer.json()
    assert problem["status"] == status
    assert problem["type"].startswith("urn:feria:problem:")
    assert problem["detail"]
    return problem


@pytest.fixture
def cashier(api):
    return api("cashier")


@pytest.fixture
def session_id(cashier, fair):
    answer = cashier.post("/api/v1/sessions", json={"till": fair.till_id, "float": 20000})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def _sale(session_id, **overrides):
    body = {
        "session": session_id,
        "lines": [
            {"barcode": "7800000000023", "quantity": 1},
            {"producer_code": "P02", "amount": 1500, "description": "lechugas"},
        ],
        "tenders": [{"method": "cash", "amount": 20000}],
    }
    body.update(overrides)
    return body


def _count_sales(engine) -> int:
    with read_session(engine) as db:
        return db.scalar(select(func.count()).select_from(Sale))


# -- cash sessions ----------------------------------------------------------------------------


def test_a_cashier_opens_a_session_through_the_api(cashier, fair):
    answer = cashier.post(
        "/api/v1/sessions",
        json={"till": fair.till_id, "float_detail": {"10000": 1, "5000": 2}},
    )

    assert answer.status_code == 201
    opened = answer.json()
    assert opened["till"] == fair.till_id
    assert opened["cashier"] == fair.users["cashier"]
    assert (opened["float"], opened["currency"]) == (20000, "CLP")


def test_opening_a_second_session_at_the_same_till_is_a_conflict(cashier, fair, session_id):
    answer = cashier.post("/api/v1/sessions", json={"till": fair.till_id})
    assert _problem(answer, 409)["field"] == "till"


def test_x_report_movements_and_z_report(cashier, session_id):
    sold = cashier.post("/api/v1/sales", json=_sale(session_id), key=_key())
    assert sold.status_code == 201
    moved = cashier.post(
        f"/api/v1/sessions/{session_id}/movements",
        json={"kind": "paid_out", "amount": 1000, "reason": "bolsas"},
    )
    assert moved.status_code == 201
    assert moved.json()["kind"] == "paid_out"

    x = cashier.get(f"/api/v1/sessions/{session_id}")
    assert x.status_code == 200
    assert x.json()["expected_cash"] == {"CLP": 20000 + 14490 - 1000}
    assert x.json()["closed_at"] is None

    z = cashier.post(f"/api/v1/sessions/{session_id}/close", json={"counted": {"CLP": 33000}})
    assert z.status_code == 200
    assert z.json()["discrepancy"] == {"CLP": 33000 - 33490}
    assert z.json()["closed_at"] is not None


def test_a_movement_without_a_reason_names_the_field(cashier, session_id):
    answer = cashier.post(
        f"/api/v1/sessions/{session_id}/movements", json={"kind": "paid_in", "amount": 500}
    )
    assert _problem(answer, 422)["field"] == "reason"


# -- sales ------------------------------------------------------------------------------------


def test_a_sale_is_recorded_with_its_lines_tenders_and_splits(cashier, session_id, fair):
    answer = cashier.post("/api/v1/sales", json=_sale(session_id), key=_key())

    assert answer.status_code == 201
    sale = answer.json()
    assert (sale["total"], sale["change"], sale["currency"]) == (14490, 5510, "CLP")
    assert sale["seq"] > 0 and len(sale["hash"]) == 64
    assert [ln["total"] for ln in sale["lines"]] == [12990, 1500]
    assert sale["tenders"][0]["method"] == "cash"
    # Splits are exact: net + withheld + fee add up to the total, to the peso.
    assert sum(s["net"] + s["withheld"] + s["fee"] for s in sale["splits"]) == 14490
    assert {s["producer"] for s in sale["splits"]} == {fair.producers["P02"], fair.producers["P07"]}


def test_resending_the_same_sale_returns_the_first_recording(cashier, session_id, engine):
    key = _key()
    first = cashier.post("/api/v1/sales", json=_sale(session_id), key=key)
    again = cashier.post("/api/v1/sales", json=_sale(session_id), key=key)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["hash"] == first.json()["hash"]
    assert _count_sales(engine) == 1


def test_the_same_key_with_a_different_sale_is_a_conflict(cashier, session_id, engine):
    key = _key()
    assert cashier.post("/api/v1/sales", json=_sale(session_id), key=key).status_code == 201

    other = _sale(session_id, tenders=[{"method": "cash", "amount": 15000}])
    problem = _problem(cashier.post("/api/v1/sales", json=other, key=key), 409)

    assert problem["field"] == "Idempotency-Key"
    assert _count_sales(engine) == 1


def test_a_sale_without_an_idempotency_key_is_refused(cashier, session_id):
    problem = _problem(cashier.post("/api/v1/sales", json=_sale(session_id)), 400)
    assert problem["field"] == "Idempotency-Key"


def test_insufficient_payment_names_the_tenders(cashier, session_id, engine):
    body = _sale(session_id, tenders=[{"method": "cash", "amount": 10000}])
    problem = _problem(cashier.post("/api/v1/sales", json=body, key=_key()), 422)

    assert problem["field"] == "tenders"
    assert problem["due"] == 4490
    assert _count_sales(engine) == 0


def test_an_unknown_product_names_the_line(cashier, session_id):
    body = _sale(session_id, lines=[{"barcode": "0000000000000"}])
    problem = _problem(cashier.post("/api/v1/sales", json=body, key=_key()), 404)
    assert problem["field"] == "lines[0]"


def test_an_unknown_field_is_refused_by_name(cashier, session_id, engine):
    body = _sale(session_id, lines=[{"barcode": "7800000000023", "quantiy": 2}])
    problem = _problem(cashier.post("/api/v1/sales", json=body, key=_key()), 422)

    assert problem["field"] == "lines[0].quantiy"
    assert _count_sales(engine) == 0


def test_a_wrong_type_is_refused_by_name(cashier, session_id):
    float_amount = _sale(session_id, tenders=[{"method": "cash", "amount": 20000.5}])
    text_amount = _sale(session_id, tenders=[{"method": "cash", "amount": "20000"}])
    text_session = _sale(str(session_id))

    for body, field in (
        (float_amount, "tenders[0].amount"),
        (text_amount, "tenders[0].amount"),
        (text_session, "session"),
    ):
        problem = _problem(cashier.post("/api/v1/sales", json=body, key=_key()), 422)
        assert problem["field"] == field


def test_decimal_quantities_are_exact(cashier, session_id):
    body = _sale(
        session_id,
        lines=[{"barcode": "7800000000016", "quantity": 1.235}, {"sku": "BUF", "quantity": "2"}],
        tenders=[{"method": "cash", "amount": 40000}],
    )
    answer = cashier.post("/api/v1/sales", json=body, key=_key())

    assert answer.status_code == 201, answer.text
    lines = answer.json()["lines"]
    assert (lines[0]["quantity"], lines[0]["total"]) == ("1.235", 9880)
    assert (lines[1]["quantity"], lines[1]["total"]) == ("2", 25980)


def test_malformed_json_is_a_400_problem(cashier, session_id, client, token):
    answer = client.post(
        "/api/v1/sales",
        content=b'{"session": 1, "lines": [',
        headers={
            "Authorization": f"Bearer {token('cashier')}",
            "Idempotency-Key": _key(),
            "Content-Type": "application/json",
        },
    )
    _problem(answer, 400)


def test_a_body_that_is_not_an_object_is_refused(cashier, session_id):
    answer = cashier.post("/api/v1/sales", json=[1, 2], key=_key())
    _problem(answer, 422)


# -- who may do what --------------------------------------------------------------------------


def test_no_token_is_a_401_problem(api, session_id):
    answer = api(None).post("/api/v1/sales", json=_sale(session_id), key=_key())
    _problem(answer, 401)
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_a_wrong_token_is_a_401_problem(client):
    answer = client.get(
        "/api/v1/journal/entries", headers={"Authorization": "Bearer feria_not-a-real-token"}
    )
    _problem(answer, 401)


def test_a_shopper_cannot_ring_up_sales(api, session_id):
    answer = api("shopper").post("/api/v1/sales", json=_sale(session_id), key=_key())
    _problem(answer, 403)


def test_a_cashier_cannot_read_the_settlement(api):
    _problem(api("cashier").get("/api/v1/fairs/feria-test/settlement"), 403)


def test_a_producer_sees_only_their_own_lines_of_a_sale(api, cashier, session_id, fair):
    sale = cashier.post("/api/v1/sales", json=_sale(session_id), key=_key()).json()

    coop = api("producer2").get(f"/api/v1/sales/{sale['id']}")
    assert coop.status_code == 200
    seen = coop.json()
    assert [ln["producer"] for ln in seen["lines"]] == [fair.producers["P07"]]
    assert {s["producer"] for s in seen["splits"]} == {fair.producers["P07"]}
    assert "tenders" not in seen and seen["partial"] is True


def test_a_producer_cannot_read_another_producers_sale(api, cashier, session_id):
    sale = cashier.post("/api/v1/sales", json=_sale(session_id), key=_key()).json()
    # P01 (honey) has no line in this sale.
    _problem(api("producer").get(f"/api/v1/sales/{sale['id']}"), 403)


def test_a_producer_cannot_read_another_producers_settlement(api):
    answer = api("producer").get("/api/v1/fairs/feria-test/settlement?producer=P07")
    assert _problem(answer, 403)["field"] == "producer"


def test_an_organizer_reads_any_sale(api, cashier, session_id):
    sale = cashier.post("/api/v1/sales", json=_sale(session_id), key=_key()).json()
    answer = api("organizer").get(f"/api/v1/sales/{sale['id']}")
    assert answer.status_code == 200
    assert answer.json()["hash"] == sale["hash"]


def test_an_unknown_sale_is_a_404_problem(api):
    _problem(api("organizer").get("/api/v1/sales/999"), 404)


def test_an_unknown_api_address_is_a_problem_not_a_page(api):
    _problem(api("organizer").get("/api/v1/nothing-here"), 404)


# -- refunds and voids ------------------------------------------------------------------------


def test_a_refund_of_one_line_is_recorded_once(api, cashier, session_id, engine):
    sale = cashier.post("/api/v1/sales", json=_sale(session_id), key=_key()).json()
    key = _key()
    body = {"lines": [2], "reason": "lechugas mustias", "session": session_id}

    refund = cashier.post(f"/api/v1/sales/{sale['id']}/refund", json=body, key=key)
    again = cashier.post(f"/api/v1/sales/{sale['id']}/refund", json=body, key=key)

    assert refund.status_code == 201, refund.text
    assert refund.json()["kind"] == "refund"
    assert refund.json()["total"] == -1500
    assert refund.json()["refers_to"] == sale["id"]
    assert again.status_code == 200 and again.json()["id"] == refund.json()["id"]
    assert _count_sales(engine) == 2


def test_a_refund_needs_a_reason(cashier, session_id):
    sale = cashier.post("/api/v1/sales", json=_sale(session_id), key=_key()).json()
    answer = cashier.post(f"/api/v1/sales/{sale['id']}/refund", json={}, key=_key())
    assert _problem(answer, 422)["field"] == "reason"


def test_only_an_organizer_voids_a_sale(api, cashier, session_id):
    sale = cashier.post("/api/v1/sales", json=_sale(session_id), key=_key()).json()
    url = f"/api/v1/sales/{sale['id']}/void"

    _problem(cashier.post(url, json={"reason": "error"}, key=_key()), 403)
    voided = api("organizer").post(url, json={"reason": "cobrado dos veces"}, key=_key())

    assert voided.status_code == 201, voided.text
    assert voided.json()["kind"] == "void"
    assert voided.json()["total"] == -sale["total"]


# -- settlement and payouts -------------------------------------------------------------------


def test_an_organizer_reads_the_whole_settlement(api, cashier, session_id, fair):
    cashier.post("/api/v1/sales", json=_sale(session_id), key=_key())

    answer = api("organizer").get("/api/v1/fairs/feria-test/settlement")

    assert answer.status_code == 200, answer.text
    settled = answer.json()
    assert settled["fair"]["slug"] == "feria-test"
    assert settled["balanced"] is True
    assert len(settled["producers"]) >= 2


def test_a_producer_reads_only_their_own_settlement(api, cashier, session_id, fair):
    cashier.post("/api/v1/sales", json=_sale(session_id), key=_key())

    answer = api("producer2").get("/api/v1/fairs/feria-test/settlement")

    assert answer.status_code == 200, answer.text
    assert answer.json()["producer"] == fair.producers["P07"]
    assert len(answer.json()["producers"]) == 1


def test_a_payout_is_recorded_and_acknowledged_by_its_producer(api, cashier, session_id):
    cashier.post("/api/v1/sales", json=_sale(session_id), key=_key())
    organizer = api("organizer")

    paid = organizer.post(
        "/api/v1/fairs/feria-test/payouts",
        json={
            "producer_code": "P07",
            "currency": "CLP",
            "amount": 10000,
            "method": "transfer",
            "reference": "TRX-1",
        },
    )
    assert paid.status_code == 201, paid.text
    payout = paid.json()
    assert (payout["amount"], payout["currency"]) == (10000, "CLP")

    url = f"/api/v1/payouts/{payout['id']}/acknowledge"
    _problem(api("producer").post(url), 403)  # P01 did not receive it
    acked = api("producer2").post(url)
    assert acked.status_code == 200, acked.text
    assert acked.json()["acknowledged_at"] is not None
    _problem(api("producer2").post(url), 409)


def test_a_payout_over_the_balance_names_the_amount(api, cashier, session_id):
    cashier.post("/api/v1/sales", json=_sale(session_id), key=_key())
    answer = api("organizer").post(
        "/api/v1/fairs/feria-test/payouts",
        json={"producer_code": "P07", "currency": "CLP", "amount": 10**9, "method": "cash"},
    )
    assert 400 <= answer.status_code < 500
    assert _problem(answer, answer.status_code)["field"] == "amount"


# -- the journal ------------------------------------------------------------------------------


def test_the_journal_head_is_public(client, cashier, session_id):
    sale = cashier.post("/api/v1/sales", json=_sale(session_id), key=_key()).json()

    head = client.get("/api/v1/journal/head")

    assert head.status_code == 200
    assert head.json() == {"seq": sale["seq"], "hash": sale["hash"]}


def test_journal_entries_are_paged_and_verifiable(api, cashier, session_id):
    import hashlib

    for _ in range(3):
        cashier.post("/api/v1/sales", json=_sale(session_id), key=_key())
    organizer = api("organizer")

    first = organizer.get("/api/v1/journal/entries?limit=2").json()
    rest = organizer.get(f"/api/v1/journal/entries?after={first['next_after']}").json()
    entries = first["entries"] + rest["entries"]

    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    assert rest["next_after"] is None
    prev = "0" * 64
    for e in entries:
        digest = hashlib.sha256(bytes.fromhex(prev) + e["body"].encode("utf-8")).hexdigest()
        assert digest == e["hash"]
        prev = e["hash"]
    assert json.loads(entries[-1]["body"])["kind"] == "sale"


def test_journal_entries_are_for_organizers_and_pages_are_bounded(api):
    _problem(api("cashier").get("/api/v1/journal/entries"), 403)
    problem = _problem(api("organizer").get("/api/v1/journal/entries?limit=501"), 422)
    assert problem["field"] == "limit"
