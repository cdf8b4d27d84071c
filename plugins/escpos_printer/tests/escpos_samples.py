"""A receipt payload shaped as feria's core builds it, shared by this plugin's tests."""

from __future__ import annotations

URL = "https://feria.example.org/verify/42"


def sample_receipt(**changes) -> dict:
    """A receipt payload as feria's core builds it (see ``feria.receipts``)."""
    payload = {
        "fair": {
            "id": 1,
            "name": "Feria Navideña de la Economía Solidaria",
            "place": "Plaza Ñuñoa, Santiago",
            "currency": "CLP",
            "locale": "es_CL",
            "footer": "¡Gracias por comprar a quien produce!",
        },
        "till": {"id": 1, "code": "T1", "name": "Caja 1"},
        "sale": {
            "id": 42,
            "kind": "sale",
            "refers_to": None,
            "at": "2026-12-24T18:03:00",
            "seq": 128,
            "hash": "0123456789abcdef" * 4,
            "reason": "",
        },
        "cashier": "Ana Pérez",
        "groups": [
            {
                "producer": {"code": "P01", "name": "Miel del Sur"},
                "lines": [
                    {
                        "no": 1,
                        "description": "Miel de ulmo",
                        "quantity": "0.5",
                        "unit": "kg",
                        "unit_price": 8000,
                        "total": 4000,
                    }
                ],
                "total": 4000,
            },
            {
                "producer": {"code": "P07", "name": "Cooperativa Têxtil São João"},
                "lines": [
                    {
                        "no": 2,
                        "description": "Piñón, açaí e pão: ñ á é í ó ú ç ã õ",
                        "quantity": "2",
                        "unit": "piece",
                        "unit_price": 12990,
                        "total": 25980,
                    }
                ],
                "total": 25980,
            },
        ],
        "currency": "CLP",
        "total": 29980,
        "tenders": [
            {
                "method": "cash",
                "name": "Cash",
                "currency": "CLP",
                "amount": 30000,
                "change": 20,
                "applied": 29980,
                "cash": True,
            }
        ],
        "change": 20,
        "solidarity": [{"currency": "CLP", "amount": 1499}],
        "solidarity_bp": 500,
        "verify_path": "/verify/42",
        "verify_url": URL,
    }
    payload.update(changes)
    return payload
