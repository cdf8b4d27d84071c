"""What a newcomer trying the demo runs into, page by page: every page answers, speaks the
reader's language and adds up."""

from __future__ import annotations

from feria.cashbox.models import Till
from feria.cashbox.printjobs import STATUSES
from feria.db import write_session
from feria.receipts import attach

STATES_ES = ("Pendiente", "Imprimiendo", "Impreso", "Falló")


def test_the_print_queue_names_each_job_and_its_state_in_the_readers_language(
    client_as, engine, web_pm, fair, sell
):
    with write_session(engine) as db:
        till = db.get(Till, fair.till_id)
        till.printer = {"driver": "escpos", "connection": "network", "host": "127.0.0.1", "port": 9}
    attach(engine, web_pm)
    sell([{"producer_code": "P01", "amount": 1500}], [{"method": "cash", "amount": 2000}])
    page = client_as("organizer").get("/backoffice/printed?lang=es")
    assert page.status_code == 200
    assert "<h1>Boletas impresas</h1>" in page.text
    assert "<td>Boleta</td>" in page.text
    assert "<td>receipt</td>" not in page.text
    # The spooler may be at it: any state, but in Spanish.
    assert any(f"<td>{state}</td>" in page.text for state in STATES_ES)
    assert not any(f"<td>{state}</td>" in page.text for state in STATUSES)
