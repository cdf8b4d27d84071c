"""The engine's refusals reach the till and the API in the reader's language: the one the
request asks for (the till sends its page's), English when it asks for none."""

from __future__ import annotations

import re

import pytest

PROBLEM = "application/problem+json"


@pytest.fixture
def till(client_as):
    """The till page's browser: the cashier's login cookie, and the CSRF token the page
    hands to ``pos.js``."""
    browser = client_as("cashier")
    page = browser.get("/pos")
    assert page.status_code == 200, page.text
    token = browser.cookies.get("csrftoken") or re.search(r'"csrf":\s*"([^"]+)"', page.text)[1]

    def post(url, json, *, lang=None, key=None):
        headers = {"X-CSRFToken": token}
        if lang:
            headers["Accept-Language"] = lang
        if key:
            headers["Idempotency-Key"] = key
        return browser.post(url, json=json, headers=headers)

    return post


def refusal(answer, status: int) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    return answer.json()


def test_a_refusal_says_which_language_it_is_in_and_keeps_its_shape(api):
    cashier = api("cashier")
    english = cashier.post("/api/v1/sessions", json={"till": 999999, "float": 0})
    spanish = cashier.post(
        "/api/v1/sessions",
        json={"till": 999999, "float": 0},
        headers={"Accept-Language": "es-CL,es;q=0.9"},
    )

    en, es = refusal(english, 404), refusal(spanish, 404)
    assert english.headers["content-language"] == "en"
    assert spanish.headers["content-language"] == "es"
    assert {k: v for k, v in en.items() if k != "detail"} == {
        k: v for k, v in es.items() if k != "detail"
    }
    assert en["field"] == "till"


def test_the_till_asks_in_its_page_language(till, fair):
    answer = till("/pos/api/v1/sessions", {"till": 999999, "float": 0}, lang="pt-BR")
    assert refusal(answer, 404)["field"] == "till"
    assert answer.headers["content-language"] == "pt-BR"
