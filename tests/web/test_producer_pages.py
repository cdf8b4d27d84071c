"""A producer's own pages: their sale lines, withholdings, balance and payouts, live; and
nothing of any other producer."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest
from sqlalchemy import select

from feria.cashbox.models import Payout
from feria.cashbox.refunds import refund_sale
from feria.db import read_session
from feria.settlement import record_payout
from feria.web import producer as producer_pages
from feria.web.live import LiveSettings


def log_in(client, username: str, password: str) -> None:
    form = client.get("/login")
    answer = client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "csrftoken": form.cookies.get("csrftoken") or client.cookies.get("csrftoken"),
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def token_of(page) -> str:
    found = re.search(r'name="csrftoken" value="([^"]+)"', page.text)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def updates(text: str) -> list[dict]:
    out = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if fields.get("event") == "update":
            out.append(json.loads(fields["data"]))
    return out


@pytest.fixture
def honey(client, fair):
    """Logged in as ``miel``, the user of producer P01 (Miel del Sur)."""
    log_in(client, "miel", fair.passwords["producer"])
    return client


@pytest.fixture
def mixed_sale(sell, fair):
    """Honey (P01), tomatoes (P02) and a scarf (P07) in one sale, paid in cash."""
    return sell(
        [
            {"barcode": "7800000000016", "quantity": "1.25"},
            {"product_id": fair.products["tomato"], "quantity": "500"},
            {"barcode": "7800000000023"},
        ],
        [{"method": "cash", "amount": 30_000}],
    )


def test_a_producer_is_sent_to_their_own_page(honey, fair):
    answer = honey.get("/producer", follow_redirects=False)

    assert answer.status_code == 303
    assert answer.headers["location"] == f"/producer/{fair.producers['P01']}"


def test_a_producer_sees_every_line_of_theirs_with_what_was_withheld_and_why(
    honey, fair, mixed_sale
):
    page = honey.get(f"/producer/{fair.producers['P01']}?lang=es")

    assert page.status_code == 200
    sale = re.search(rf'data-sale="{mixed_sale.id}">(.*?)</li>\s*</ol>', page.text, re.S).group(1)
    assert "Miel" in sale and "1,25" in sale and "$10.000" in sale  # 1.25 kg × 8,000
    assert "Efectivo" in sale
    assert "Fondo solidario 5% (reglas versión 1): $500" in sale
    assert "tuyo: $9.500" in sale
    assert f'href="/verify/{mixed_sale.id}"' in sale
    # The balance: 9,500 owed, nothing paid yet.
    assert re.search(r'data-figure="balance">\$9\.500<', page.text)
    # Nothing of the other producers in the same sale.
    assert "Tomates" not in page.text and "Bufanda" not in page.text
    assert "$12.990" not in page.text and "$1.500" not in page.text
    assert "Huerta" not in page.text and "Cooperativa" not in page.text


def test_a_refund_shows_up_as_its_own_entry_with_what_was_returned(
    honey, engine, pm, fair, mixed_sale, cash_session
):
    refund = refund_sale(
        engine,
        pm,
        sale_id=mixed_sale.id,
        key="refund-honey-1",
        user_id=fair.users["cashier"],
        session_id=cash_session.id,
        line_nos=[1],
        reason="la miel venía abierta",
    )

    page = honey.get(f"/producer/{fair.producers['P01']}?lang=es")

    entry = re.search(rf'data-sale="{refund.id}">(.*?)</li>\s*<li', page.text, re.S).group(1)
    assert "Devolución" in entry and f"de la venta {mixed_sale.id}" in entry
    assert "$-10.000" in entry
    assert re.search(r'data-figure="balance">\$0<', page.text)


def test_a_cooperatives_delegate_sees_the_members_parts(client, fair, mixed_sale):
    log_in(client, "coop", fair.passwords["producer2"])

    page = client.get(f"/producer/{fair.producers['P07']}?lang=es")

    assert page.status_code == 200
    assert "Bufanda" in page.text and "Miel" not in page.text
    assert "Ana" in page.text and "Luis" in page.text
    assert 'Ana</th>\n        <td class="num">60%' in page.text
    assert 'Luis</th>\n        <td class="num">40%' in page.text


def test_older_sales_are_a_page_away(honey, fair, sell, monkeypatch):
    monkeypatch.setattr(producer_pages, "PAGE_SIZE", 2)
    sales = [
        sell(
            [{"producer_code": "P01", "amount": 1000 + i}], [{"method": "cash", "amount": 1000 + i}]
        )
        for i in range(3)
    ]
    url = f"/producer/{fair.producers['P01']}"

    first = honey.get(url)
    assert (
        f'data-sale="{sales[2].id}"' in first.text
        and f'data-sale="{sales[0].id}"' not in first.text
    )
    older = re.search(r'href="([^"]*before=\d+)"', first.text).group(1).replace("&amp;", "&")
    second = honey.get(older)

    assert f'data-sale="{sales[0].id}"' in second.text
    assert f'data-sale="{sales[2].id}"' not in second.text
    assert "data-live-src" not in second.text  # an older page does not jump to new sales


def test_the_producer_stream_pushes_their_new_sale_and_ignores_other_producers(
    honey, app, fair, sell
):
    app.state.feria_live = LiveSettings(poll_interval=0.05, lifetime=2.5, keepalive=10)
    sell([{"producer_code": "P01", "amount": 1_110}], [{"method": "cash", "amount": 1_110}])

    def ring_up_later():
        time.sleep(0.4)
        sell([{"producer_code": "P02", "amount": 4_447}], [{"method": "cash", "amount": 4_447}])
        time.sleep(0.4)
        sell([{"producer_code": "P01", "amount": 3_330}], [{"method": "cash", "amount": 3_330}])

    seller = threading.Thread(target=ring_up_later)
    seller.start()
    answer = honey.get(f"/producer/{fair.producers['P01']}/events?fair=feria-test&lang=es")
    seller.join()

    got = updates(answer.text)
    assert answer.headers["content-type"].startswith("text/event-stream")
    # The page as it was, then only the sale with a line of theirs: the other producer's
    # sale moved the journal head but changed nothing on this page, so nothing was sent.
    assert len(got) == 2
    assert "$1.110" in got[0]["html"] and "$3.330" not in got[0]["html"]
    assert "$3.330" in got[1]["html"]
    assert all("$4.447" not in u["html"] for u in got)


def test_a_producer_acknowledges_a_payout_once(honey, engine, fair, mixed_sale):
    payout = record_payout(
        engine,
        fair_id=fair.fair_id,
        producer_id=fair.producers["P01"],
        currency="CLP",
        amount=9_000,
        method="cash",
        reference="",
        user_id=fair.users["organizer"],
    )
    url = f"/producer/{fair.producers['P01']}"
    page = honey.get(url + "?lang=es")
    action = f"{url}/payouts/{payout.id}/acknowledge"
    assert f'action="{action}"' in page.text
    assert "Recibí $9.000" in page.text

    answer = honey.post(action, data={"csrftoken": token_of(page)}, follow_redirects=False)

    assert answer.status_code == 303
    with read_session(engine) as db:
        row = db.get(Payout, payout.id)
    assert row.ack_seq is not None and row.acknowledged_by == fair.users["producer"]
    after = honey.get(url + "?lang=es")
    assert f'action="{action}"' not in after.text and "Recibido el" in after.text
    again = honey.post(action, data={"csrftoken": token_of(page)}, follow_redirects=False)
    assert again.status_code == 409


def test_an_acknowledgement_without_the_csrf_token_is_refused(honey, engine, fair, mixed_sale):
    payout = record_payout(
        engine,
        fair_id=fair.fair_id,
        producer_id=fair.producers["P01"],
        currency="CLP",
        amount=1_000,
        method="cash",
        reference="",
        user_id=fair.users["organizer"],
    )
    honey.get(f"/producer/{fair.producers['P01']}")

    answer = honey.post(
        f"/producer/{fair.producers['P01']}/payouts/{payout.id}/acknowledge",
        follow_redirects=False,
    )

    assert answer.status_code == 403
    with read_session(engine) as db:
        assert db.get(Payout, payout.id).ack_seq is None


# -- nothing of anyone else --------------------------------------------------------------------


@pytest.mark.parametrize("other", ["P02", "P07", "P09"])
def test_any_url_with_another_producers_id_is_refused(honey, fair, mixed_sale, other):
    pid = fair.producers[other]

    for url in (f"/producer/{pid}", f"/producer/{pid}?fair=feria-test", f"/producer/{pid}/events"):
        answer = honey.get(url)
        assert answer.status_code == 403, url
        assert "Cooperativa" not in answer.text and "Huerta" not in answer.text


def test_even_a_producer_id_that_does_not_exist_is_a_403(honey):
    assert honey.get("/producer/999999").status_code == 403
    assert honey.get("/producer/99999999999").status_code == 403


def test_an_organizer_asking_for_a_producer_that_does_not_exist_gets_a_404(client, fair):
    log_in(client, "org", fair.passwords["organizer"])

    assert client.get("/producer/999999").status_code == 404
    assert client.get("/producer/99999999999").status_code == 404


def test_a_producer_cannot_acknowledge_another_producers_payout(honey, engine, fair, mixed_sale):
    payout = record_payout(
        engine,
        fair_id=fair.fair_id,
        producer_id=fair.producers["P07"],
        currency="CLP",
        amount=1_000,
        method="cash",
        reference="",
        user_id=fair.users["organizer"],
    )
    page = honey.get(f"/producer/{fair.producers['P01']}")
    token = token_of(page)

    theirs = honey.post(
        f"/producer/{fair.producers['P07']}/payouts/{payout.id}/acknowledge",
        data={"csrftoken": token},
        follow_redirects=False,
    )
    # Through their own URL, naming the other producer's payout: not theirs either.
    mine = honey.post(
        f"/producer/{fair.producers['P01']}/payouts/{payout.id}/acknowledge",
        data={"csrftoken": token},
        follow_redirects=False,
    )

    assert theirs.status_code == 403
    assert mine.status_code == 404
    with read_session(engine) as db:
        assert db.scalar(select(Payout.ack_seq).where(Payout.id == payout.id)) is None


def test_a_producer_cannot_open_the_back_office(honey):
    assert honey.get("/backoffice").status_code == 403
    assert honey.get("/backoffice/fairs/feria-test/settlement").status_code == 403


@pytest.mark.parametrize(("username", "role"), [("caja", "cashier"), ("compra", "shopper")])
def test_cashiers_and_shoppers_see_no_producer_page(client, fair, username, role):
    log_in(client, username, fair.passwords[role])

    assert client.get("/producer").status_code == 403
    assert client.get(f"/producer/{fair.producers['P01']}").status_code == 403


def test_an_organizer_may_open_any_producers_page_but_not_acknowledge_for_them(
    client, engine, fair, mixed_sale
):
    record_payout(
        engine,
        fair_id=fair.fair_id,
        producer_id=fair.producers["P02"],
        currency="CLP",
        amount=500,
        method="cash",
        reference="",
        user_id=fair.users["organizer"],
    )
    log_in(client, "org", fair.passwords["organizer"])

    page = client.get(f"/producer/{fair.producers['P02']}?lang=en")

    assert page.status_code == 200
    assert "Tomates" in page.text
    assert "/acknowledge" not in page.text and "Not acknowledged yet" in page.text


def test_the_language_chosen_survives_the_redirects_to_the_login_and_back(client, fair):
    """``/producer?lang=es`` from a browser that asks for English: the login it is sent to
    and the producer's own page it then opens both speak Spanish."""
    english = {"Accept-Language": "en"}

    login = client.get("/producer?lang=es", headers=english)

    assert login.url.path == "/login"
    assert '<html lang="es">' in login.text and "Iniciar sesión" in login.text
    answer = client.post(
        "/login",
        data={
            "username": "miel",
            "password": fair.passwords["producer"],
            "next": login.url.params["next"],
            "csrftoken": client.cookies.get("csrftoken"),
        },
        headers=english,
    )
    assert answer.url.path == f"/producer/{fair.producers['P01']}"
    assert '<html lang="es">' in answer.text


def test_a_logged_in_producer_keeps_the_language_chosen_through_the_redirect(honey, fair):
    page = honey.get("/producer?lang=pt_BR", headers={"Accept-Language": "en"})

    assert page.url.path == f"/producer/{fair.producers['P01']}"
    assert '<html lang="pt-BR">' in page.text
    assert honey.cookies.get("feria_lang") == "pt_BR"


def test_the_api_sets_no_language_cookie(client):
    answer = client.get("/api/openapi.json?lang=es")

    assert "feria_lang" not in answer.headers.get("set-cookie", "")
