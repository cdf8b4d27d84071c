"""What every template receives: the language the reader gets, and nothing left over from
before the language middleware set the cookie."""

from __future__ import annotations

import pytest
from jinja2 import Environment
from starlette.requests import Request

from feria.web.templating import Templates


def request(query: bytes) -> Request:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "query_string": query,
        "headers": [(b"accept-language", b"en")],
        "session": {},
    }
    return Request(scope)


def test_the_context_has_the_chosen_language_and_no_unused_keys(engine, pm):
    context = Templates(Environment(), engine, pm).context(request(b"lang=es"))

    assert context["locale"] == "es" and context["lang_tag"] == "es"
    assert "chosen_locale" not in context  # the language middleware sets the cookie


def test_templates_take_no_cookie_setting(engine, pm):
    with pytest.raises(TypeError):
        Templates(Environment(), engine, pm, secure_cookies=True)
