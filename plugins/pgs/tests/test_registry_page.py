"""The public registry a shopper opens from a label or from the QR code on a stall sign:
who holds which label, granted by which committee after which visit, until when, and each
label's whole history. Driven through feria's real web app."""

from __future__ import annotations

import datetime as dt
import io
import uuid

import pytest
from feria_pgs.certification import reinstate, revoke, suspend
from starlette.testclient import TestClient

from feria.db import write_session
from feria.web.app import create_app
from feria.web.settings import Settings

TODAY = dt.date.today()


@pytest.fixture
def client(engine, pm, fair):
    settings = Settings(secret_key="test-only-" + uuid.uuid4().hex)
    with TestClient(create_app(engine, pm, settings=settings)) as c:
        yield c


def test_registry_says_who_holds_which_label_granted_by_whom_until_when(client, grant):
    grant("sin-patron", "P07", decided_on=dt.date(2026, 2, 1))
    grant("agro", "P01", products=("honey",), decided_on=TODAY)

    page = client.get("/-/plugins/pgs/registry?lang=en")

    assert page.status_code == 200
    valid, _, not_valid = page.text.partition("Not valid today")
    # Granted today for a year: valid. Granted in February 2026 for two years: valid until
    # 31 January 2028, so it is in the valid list exactly while that date is ahead.
    assert "Agroecológico SPG" in valid and "Miel del Sur" in valid
    assert "Only these products: Miel" in valid
    assert "Comité de garantía de la Red" in valid
    assert "Hecho sin patrón" in (valid if dt.date(2028, 1, 31) >= TODAY else not_valid)
    assert "Cooperativa Textil" in page.text
    assert "January 31, 2028" in page.text  # valid until
    assert "January 20, 2026" in page.text  # the peer visit before the decision


def test_the_registry_speaks_the_readers_language(client, grant):
    grant()
    spanish = client.get("/-/plugins/pgs/registry?lang=es").text
    portuguese = client.get("/-/plugins/pgs/registry?lang=pt_BR").text

    assert "Registro de sellos" in spanish and "Otorgado por" in spanish
    assert "Registro de selos" in portuguese and "Concedido por" in portuguese
    assert "Iniciar sesión" in spanish  # the layout's strings still come from feria


def test_a_label_page_shows_its_whole_history(client, engine, grant):
    holding_id = grant("sin-patron", "P07", decided_on=dt.date(2026, 2, 1))
    with write_session(engine) as db:
        suspend(db, holding_id, reason="Falta el acta de mayo.", on=dt.date(2026, 6, 1))
        reinstate(db, holding_id, reason="Presentó el acta.", on=dt.date(2026, 6, 20))
        revoke(db, holding_id, reason="Contrató personal asalariado.", on=dt.date(2026, 9, 1))

    page = client.get(f"/-/plugins/pgs/registry/{holding_id}?lang=en")

    assert page.status_code == 200
    text = page.text
    for said in (
        "Application",
        "January 5, 2026",
        "Peer visit",
        "January 20, 2026",
        "Huerta Comunitaria",  # the visiting producer
        "Marta Quiroz",  # the visiting consumer
        "Asamblea semanal con actas",  # the findings
        "Committee decision",
        "Approved",
        "Comité de garantía de la Red",
        "compra",  # a committee member, a shopper with an account
        "Cumple los criterios del sello.",
        "Label granted from February 1, 2026 until January 31, 2028.",
        "Falta el acta de mayo.",
        "Presentó el acta.",
        "Contrató personal asalariado.",
        "Autogestión: sin patrón",  # the scheme's criteria
    ):
        assert said in text, said
    # The events read in the order they happened, and the label now says revoked.
    order = ["Falta el acta de mayo.", "Presentó el acta.", "Contrató personal asalariado."]
    assert [text.index(s) for s in order] == sorted(text.index(s) for s in order)
    assert 'pgs-status-revoked">Revoked' in text


def test_a_revoked_label_leaves_the_valid_list_at_once(client, engine, grant):
    holding_id = grant("sin-patron", "P07", decided_on=TODAY - dt.timedelta(days=10))
    before = client.get("/-/plugins/pgs/registry?lang=en").text
    assert "Hecho sin patrón" in before.partition("Not valid today")[0]

    with write_session(engine) as db:
        revoke(db, holding_id, reason="Contrató personal asalariado.")

    after = client.get("/-/plugins/pgs/registry?lang=en").text
    valid, _, not_valid = after.partition("Not valid today")
    assert "Hecho sin patrón" not in valid and "No label is valid today." in valid
    assert "Hecho sin patrón" in not_valid and "Revoked" in not_valid


def test_an_unknown_label_is_a_404_page(client):
    page = client.get("/-/plugins/pgs/registry/999999?lang=es")
    assert page.status_code == 404
    assert "Página no encontrada" in page.text


def test_the_stall_sign_qr_code_leads_to_the_producers_registry_entries(client, grant):
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    grant()
    png = client.get("/-/plugins/pgs/sign/P07.png")
    svg = client.get("/-/plugins/pgs/sign/p07.svg")

    assert png.headers["content-type"] == "image/png"
    (code,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))
    assert code.text == "http://testserver/-/plugins/pgs/registry?producer=P07"
    assert svg.headers["content-type"] == "image/svg+xml" and b"<svg" in svg.content

    entries = client.get(code.text.removeprefix("http://testserver") + "&lang=en")
    assert "Cooperativa Textil" in entries.text
    assert "Showing the labels of producer P07." in entries.text
    assert client.get("/-/plugins/pgs/sign/P99.png").status_code == 404


def test_the_printable_stall_sign_lists_the_valid_labels(client, grant):
    grant("agro", "P01", products=("honey",), decided_on=TODAY)
    page = client.get("/-/plugins/pgs/sign/P01?lang=es")

    assert page.status_code == 200
    assert "Miel del Sur" in page.text and "Agroecológico SPG" in page.text
    assert 'src="/-/plugins/pgs/sign/P01.svg"' in page.text
    assert "http://testserver/-/plugins/pgs/registry?producer=P01" in page.text
    assert client.get("/static/plugins/pgs/pgs.css").status_code == 200
