"""Choosing a language and loading its catalogue."""

from __future__ import annotations

import pytest
from babel.messages.pofile import read_po

from feria import i18n


@pytest.mark.parametrize(
    ("tag", "locale"),
    [
        ("es", "es"),
        ("es-CL", "es"),
        ("ES_cl", "es"),
        ("pt", "pt_BR"),
        ("pt-BR", "pt_BR"),
        ("pt_PT", "pt_BR"),
        ("en-GB", "en"),
        ("de", None),
        ("*", None),
        ("", None),
        (None, None),
    ],
)
def test_supported_maps_a_tag_to_a_language_feria_speaks(tag, locale):
    assert i18n.supported(tag) == locale


def test_accept_language_is_read_by_quality():
    header = "de;q=0.9, pt-BR;q=0.95, fr;q=0, en;q=0.5"
    assert i18n.accept_language(header) == ["pt-BR", "de", "en"]
    assert i18n.accept_language(None) == []


def test_negotiation_order():
    assert i18n.negotiate(chosen="en", user="es", accept="pt-BR", fair="es_CL") == "en"
    assert i18n.negotiate(user="es", accept="pt-BR", fair="en") == "es"
    assert i18n.negotiate(accept="de, pt-BR;q=0.8", fair="es_CL") == "pt_BR"
    assert i18n.negotiate(accept="de", fair="es_CL") == "es"
    assert i18n.negotiate() == "en"


def test_catalogues_are_compiled_from_the_po_files_and_cached():
    spanish = i18n.translations("es")
    assert spanish.gettext("Log in") == "Iniciar sesión"
    assert i18n.translations("es") is spanish
    assert i18n.translations("pt_BR").gettext("Log in") == "Entrar"
    assert i18n.translations("en").gettext("Log in") == "Log in"


@pytest.mark.parametrize("locale", ["es", "pt_BR"])
def test_every_message_is_translated(locale):
    path = i18n.LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    untranslated = [
        m.id
        for m in catalog
        if m.id
        and ("fuzzy" in m.flags or not (all(m.string) if isinstance(m.string, tuple) else m.string))
    ]
    assert untranslated == []


def test_filters_format_money_and_times_in_the_readers_locale_and_the_fairs_zone():
    import datetime as dt

    from babel.dates import get_timezone

    from feria.web.templating import build_environment

    env = build_environment([])
    template = env.from_string(
        '{{ 12990 | money("CLP") }} | {{ 150 | money("BRL") }} | {{ at | datetime("short") }}'
    )
    context = {"timezone": get_timezone("America/Santiago"), "translations": None}
    at = dt.datetime(2026, 12, 1, 15, 30)  # stored as UTC: 12:30 in Santiago (UTC-3)

    chilean = template.render(format_locale="es_CL", at=at, **context)
    brazilian = template.render(format_locale="pt_BR", at=at, **context)

    assert chilean.startswith("$12.990 | ")
    assert "12:30" in chilean
    assert "R$\xa01,50" in brazilian
