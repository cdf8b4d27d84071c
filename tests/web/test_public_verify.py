"""The public verification page a receipt's QR code leads to: the sale as the journal holds
it, for anyone, without login and without personal data."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from feria import hookimpl, journal
from feria.accounts import User
from feria.cashbox.refunds import refund_sale, void_sale
from feria.db import read_session
from feria.payments import Authorization, PaymentMethod

CARD_REFERENCE = "AUTH-7731-PRIVATE"
CARD_HOLDER = "Josefina Quispe"


class _Card(PaymentMethod):
    """A card terminal that keeps an authorization code and the holder's name."""

    code = "card"
    name = "Card"

    def authorize(self, tender, sale):
        return Authorization.approve(reference=CARD_REFERENCE, holder=CARD_HOLDER)


class _CardPlugin:
    @hookimpl
    def feria_payment_methods(self, fair):
        return [_Card()]


@pytest.fixture
def card(web_pm):
    plugin = _CardPlugin()
    web_pm.register(plugin, name="test-card")
    yield
    web_pm.unregister(plugin)


@pytest.fixture
def paid_by_card_and_cash(card, client, fair, sell):
    """Honey and a scarf, paid 10,000 by card (with a reference and the holder's name in its
    data) and the rest in cash with a reference typed by the cashier."""
    return sell(
        [{"barcode": "7800000000016", "quantity": "1.25"}, {"barcode": "7800000000023"}],
        [
            {"method": "card", "amount": 10_000, "data": {"last4": "4242"}},
            {"method": "cash", "amount": 20_000, "reference": "CAJA-NOTE-99"},
        ],
    )


def test_anyone_sees_the_sale_grouped_by_producer_with_its_place_in_the_journal(
    client, engine, fair, paid_by_card_and_cash
):
    sale = paid_by_card_and_cash

    page = client.get(f"/verify/{sale.id}?lang=es")

    assert page.status_code == 200
    text = page.text
    assert f"Venta n.º {sale.id}" in text
    honey = re.search(r'data-producer="P01">(.*?)</table>', text, re.S).group(1)
    scarf = re.search(r'data-producer="P07">(.*?)</table>', text, re.S).group(1)
    assert "Miel del Sur" in honey and "1,25" in honey and "$10.000" in honey
    assert "Cooperativa Textil" in scarf and "$12.990" in scarf
    assert "$22.990" in text  # the total
    assert "vuelto $7.010" in text  # the cash change
    with read_session(engine) as db:
        entry = db.get(journal.JournalEntry, sale.seq)
        head = journal.head(db)
    assert re.search(rf"data-seq>{sale.seq}<", text)
    assert f"data-hash>{entry.hash}<" in text and entry.prev_hash in text
    assert f"data-head-seq>{head.seq}<" in text and head.hash in text
    assert "SHA-256" in text


def test_the_public_page_shows_no_personal_data(client, engine, fair, paid_by_card_and_cash):
    sale = paid_by_card_and_cash
    with read_session(engine) as db:
        cashier = db.get(User, fair.users["cashier"])
        body = db.get(journal.JournalEntry, sale.seq).body
    # The journal does hold them: the page must leave them out.
    assert CARD_REFERENCE in body and CARD_HOLDER in body and "CAJA-NOTE-99" in body

    text = client.get(f"/verify/{sale.id}?lang=en").text
    # The page's sha256 hashes are public and random: a short marker such as "4242" turns up
    # in one now and then, so the markers are looked for in the page without them.
    assert re.search(r"\b[0-9a-f]{64}\b", text)
    text = re.sub(r"\b[0-9a-f]{64}\b", "", text)

    for private in (
        cashier.username,
        cashier.display_name,
        CARD_REFERENCE,
        CARD_HOLDER,
        "4242",
        "CAJA-NOTE-99",
        sale.body["key"],
    ):
        assert private not in text, private
    assert '"user"' not in text and "cashier" not in text.lower()


def test_refunds_and_voids_that_refer_to_a_sale_are_shown_on_it(
    client, engine, pm, fair, sell, cash_session
):
    sale = sell(
        [{"barcode": "7800000000016"}, {"barcode": "7800000000023"}],
        [{"method": "cash", "amount": 30_000}],
    )
    refund = refund_sale(
        engine,
        pm,
        sale_id=sale.id,
        key="refund-public-1",
        user_id=fair.users["cashier"],
        session_id=cash_session.id,
        line_nos=[1],
        reason="Don Pedro, vecino del 4B, la devolvió",
    )
    other = sell([{"producer_code": "P02", "amount": 900}], [{"method": "cash", "amount": 900}])
    void = void_sale(
        engine,
        pm,
        sale_id=other.id,
        key="void-public-1",
        user_id=fair.users["organizer"],
        reason="error de tipeo",
    )

    original = client.get(f"/verify/{sale.id}?lang=es").text
    refund_page = client.get(f"/verify/{refund.id}?lang=es").text
    voided = client.get(f"/verify/{other.id}?lang=es").text

    assert "Esta venta fue corregida después" in original
    assert f'href="/verify/{refund.id}"' in original and "$-8.000" in original
    assert f"Devolución n.º {refund.id}" in refund_page
    assert f'href="/verify/{sale.id}"' in refund_page
    assert "Don Pedro" not in refund_page  # a refund's reason may name a person
    assert f'href="/verify/{void.id}"' in voided and "Anulación" in voided


@pytest.mark.parametrize(
    ("lang", "says"),
    [
        ("es", "Cómo comprobarlo"),
        ("pt_BR", "Como conferir"),
        ("en", "How to check it"),
    ],
)
def test_the_explanation_is_in_the_readers_language(client, fair, sell, lang, says):
    sale = sell([{"producer_code": "P01", "amount": 1000}], [{"method": "cash", "amount": 1000}])

    page = client.get(f"/verify/{sale.id}?lang={lang}")

    assert says in page.text
    assert f'<html lang="{lang.replace("_", "-")}">' in page.text


def test_an_unknown_sale_is_a_404_page(client, fair):
    answer = client.get("/verify/987654?lang=en")

    assert answer.status_code == 404
    assert "Page not found" in answer.text
    assert client.get("/verify/not-a-number").status_code == 404
    assert client.get("/verify/99999999999").status_code == 404  # beyond any row id
    assert client.get("/verify/0").status_code == 404


def test_a_receipt_number_can_be_typed_in(client, fair, sell):
    sale = sell([{"producer_code": "P01", "amount": 1000}], [{"method": "cash", "amount": 1000}])

    form = client.get("/verify?lang=en")
    answer = client.get(f"/verify?sale=%23{sale.id}", follow_redirects=False)
    wrong = client.get("/verify?sale=abc&lang=en")

    assert form.status_code == 200
    assert '<label for="sale-number">' in form.text
    assert answer.status_code == 303 and answer.headers["location"] == f"/verify/{sale.id}"
    assert wrong.status_code == 400 and 'aria-invalid="true"' in wrong.text


def test_the_page_needs_no_login_and_is_never_cached_stale(client, fair, sell):
    sale = sell([{"producer_code": "P01", "amount": 1000}], [{"method": "cash", "amount": 1000}])

    answer = client.get(f"/verify/{sale.id}", follow_redirects=False)

    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-cache"
    with read_session(client.app.state.feria.engine) as db:
        assert db.scalar(select(User.id).where(User.username == "caja")) is not None


@pytest.mark.parametrize(
    ("lang", "two", "one", "weighed"),
    [
        ("es", "2 unidades", "1 unidad", "1,25 kg"),
        ("pt_BR", "2 unidades", "1 unidade", "1,25 kg"),
        ("en", "2 pieces", "1 piece", "1.25 kg"),
    ],
)
def test_quantities_read_in_the_right_plural_form(client, fair, sell, lang, two, one, weighed):
    scarves = sell(
        [
            {"barcode": "7800000000023", "quantity": "2"},
            {"barcode": "7800000000016", "quantity": "1.25"},
        ],
        [{"method": "cash", "amount": 40_000}],
    )
    scarf = sell([{"barcode": "7800000000023"}], [{"method": "cash", "amount": 20_000}])

    many = client.get(f"/verify/{scarves.id}?lang={lang}").text
    single = client.get(f"/verify/{scarf.id}?lang={lang}").text

    assert f"{two} ×" in many and f"{weighed} ×" in many
    assert f"{one} ×" in single
