"""A refusal's message: English as raised, and in the reader's language on demand."""

from __future__ import annotations

from feria.errors import Conflict, FeriaError
from feria.i18n import N_
from feria.money import Money


def test_a_plain_message_is_kept_as_written_and_has_no_params():
    exc = Conflict("till T1 already has an open session", field="till", session=3)
    assert str(exc) == exc.message == "till T1 already has an open session"
    assert exc.template == exc.message and exc.params == {}
    assert exc.localized("es") == exc.message  # not in the catalogue: English, as written
    problem = exc.to_problem()
    assert problem["detail"] == exc.message and problem["session"] == 3


def test_a_template_is_filled_in_english_with_money_written_as_the_fair_writes_it():
    exc = FeriaError(
        N_("{due} still due"),
        field="tenders",
        params={"due": Money(1000, "CLP")},
        format_locale="es_CL",
        due=1000,
    )
    assert str(exc) == exc.message == "$1.000 still due"
    assert exc.localized("en") == "$1.000 still due"
    assert exc.details == {"due": 1000}
    assert exc.to_problem()["detail"] == "$1.000 still due"


def test_localized_translates_the_template_and_formats_money_for_the_reader():
    exc = FeriaError(N_("Cashier"), field="user")
    assert exc.localized("es") == "Cajero(a)"
    assert exc.localized("pt_BR") == "Caixa"
    assert exc.localized("en") == "Cashier"
    assert exc.localized("fr") == "Cashier"  # a language feria does not speak: English
    assert exc.to_problem("es_CL")["detail"] == "Cajero(a)"

    untranslated = FeriaError(N_("{due} still due!"), params={"due": Money(1050, "BRL")})
    assert untranslated.localized("pt_BR") == "R$\xa010,50 still due!"
