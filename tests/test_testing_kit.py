"""The test kit's web clients and local stand-ins work as documented (docs/plugins.md)."""

from __future__ import annotations

import os
import socket

import httpx


def test_client_as_logs_in_through_the_login_form(client_as):
    organizer = client_as("organizer")
    assert organizer.get("/backoffice").status_code == 200

    producer = client_as("producer")  # another browser, with its own session
    assert producer.get("/backoffice").status_code == 403
    assert organizer.get("/backoffice").status_code == 200


def test_api_as_sends_the_roles_bearer_token(api_as, fair):
    answer = api_as("cashier").post("/api/v1/sessions", json={"till": fair.till_id, "float": 20000})

    assert answer.status_code == 201, answer.text
    assert answer.json()["cashier"] == fair.users["cashier"]


def test_the_anonymous_client_is_not_logged_in(client, fair):
    assert client.get("/backoffice", follow_redirects=False).status_code in (303, 401)


def test_local_stripe_answers_in_stripes_wire_format(local_stripe):
    assert os.environ["FERIA_STRIPE_API_BASE"] == local_stripe.url
    key = os.environ["FERIA_STRIPE_SECRET_KEY"]

    missing = httpx.get(
        f"{local_stripe.url}/v1/payment_intents/pi_nothing",
        headers={"Authorization": f"Bearer {key}"},
    )

    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "resource_missing"


def test_the_virtual_printer_prints_the_bytes_it_receives(virtual_printer):
    with socket.create_connection(("127.0.0.1", virtual_printer.port), timeout=5) as conn:
        conn.sendall(b"\x1b@Hola desde el kit\n\n\n\x1dV\x00")

    receipt = virtual_printer.wait_for(1)[-1]
    assert "Hola desde el kit" in receipt.text
