"""The OpenAPI document describes every API route, and only real ones."""

from __future__ import annotations

import re

from starlette.routing import Route

from feria.web import api
from feria.web.openapi import document


def _openapi_path(route: Route) -> str:
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)


def test_every_api_route_is_in_the_openapi_document(client):
    served = client.get("/api/openapi.json")
    assert served.status_code == 200
    doc = served.json()
    assert doc["openapi"].startswith("3.1")

    described = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    routed = {
        (_openapi_path(route), method)
        for route in client.app.routes
        if isinstance(route, Route) and route.path.startswith("/api/")
        for method in route.methods - {"HEAD"}
    }

    assert routed == described
    assert {(_openapi_path(r), m) for r in api.routes for m in r.methods - {"HEAD"}} <= described


def test_every_schema_reference_resolves():
    doc = document()
    text = repr(doc)
    for name in re.findall(r"#/components/schemas/(\w+)", text):
        assert name in doc["components"]["schemas"], name


def test_request_schemas_list_the_fields_the_api_reads(api, fair):
    """Each documented request field is accepted; an undocumented one is refused by name."""
    schemas = document()["components"]["schemas"]
    cashier = api("cashier")
    body = {"till": fair.till_id, "float": 0, "float_detail": {}, "unknown": 1}
    assert set(body) - {"unknown"} == set(schemas["SessionOpen"]["properties"])

    answer = cashier.post("/api/v1/sessions", json=body)

    assert answer.status_code == 422
    assert answer.json()["field"] == "unknown"


def test_the_base_url_is_the_server():
    assert document("https://feria.example")["servers"] == [{"url": "https://feria.example"}]
