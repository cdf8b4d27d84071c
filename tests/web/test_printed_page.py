"""The back office shows the print queue and what the virtual printer rendered."""

from __future__ import annotations

from feria.cashbox.models import Till
from feria.db import write_session
from feria.receipts import attach


def log_in(client, username: str, password: str) -> None:
    form = client.get("/login")
    token = form.cookies.get("csrftoken") or client.cookies.get("csrftoken")
    answer = client.post(
        "/login",
        data={"username": username, "password": password, "csrftoken": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def test_the_print_queue_shows_each_receipt_and_why_it_did_not_print(
    client, engine, web_pm, fair, sell
):
    with write_session(engine) as db:
        till = db.get(Till, fair.till_id)
        till.printer = {"driver": "escpos", "connection": "network", "host": "127.0.0.1", "port": 9}
    attach(engine, web_pm)
    sale = sell([{"producer_code": "P01", "amount": 1500}], [{"method": "cash", "amount": 2000}])
    log_in(client, "org", fair.passwords["organizer"])
    page = client.get("/backoffice/printed")
    assert page.status_code == 200
    assert f'href="/verify/{sale.id}"' in page.text
    assert "pending" in page.text or "printed" in page.text


def test_the_rendered_receipts_of_the_virtual_printer_are_shown(
    client, fair, tmp_path, monkeypatch
):
    (tmp_path / "receipt-00001.txt").write_text("TOTAL   $13.727\nVuelto  $6.273\n", "utf-8")
    (tmp_path / "receipt-00001.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    monkeypatch.setenv("FERIA_VIRTUAL_RECEIPTS_DIR", str(tmp_path))
    log_in(client, "org", fair.passwords["organizer"])
    page = client.get("/backoffice/printed")
    assert "TOTAL   $13.727" in page.text
    png = client.get("/backoffice/printed/receipt-00001.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert client.get("/backoffice/printed/..%2Fsecret.png").status_code == 404


def test_a_producer_cannot_see_the_print_queue(client, fair):
    log_in(client, "miel", fair.passwords["producer"])
    assert client.get("/backoffice/printed").status_code == 403
