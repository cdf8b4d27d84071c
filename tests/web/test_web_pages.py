"""The pages every site has: home, health, errors, static files, start-up refusals."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from feria.db import make_engine
from feria.migrate import DatabaseNotMigrated
from feria.web.app import create_app
from feria.web.settings import DemoLogin, Settings


@pytest.mark.parametrize(
    ("lang", "says"),
    [
        ("es", "Cada productor vende en su propio puesto"),
        ("pt_BR", "Cada produtor vende na sua própria banca"),
        ("en", "Every producer sells at their own stall"),
    ],
)
def test_home_page_names_the_running_fair_in_the_readers_language(client, lang, says):
    page = client.get("/", headers={"Accept-Language": lang.replace("_", "-")})

    assert page.status_code == 200
    assert "Feria de prueba" in page.text
    assert "Santiago" in page.text
    assert says in page.text
    assert f'<html lang="{lang.replace("_", "-")}">' in page.text


def _plain_spaces(text: str) -> str:
    # CLDR puts thin and no-break spaces around the dash of a date range.
    return text.replace("\u2009", " ").replace("\u202f", " ").replace("\xa0", " ")


def test_home_page_formats_the_fair_dates_per_locale(client):
    spanish = _plain_spaces(client.get("/?lang=es").text)
    english = _plain_spaces(client.get("/?lang=en").text)
    portuguese = _plain_spaces(client.get("/?lang=pt_BR").text)

    assert "1 – 24 de dic de 2026" in spanish  # es_CL, the fair's own locale
    assert "Dec 1 – 24, 2026" in english
    assert "1 – 24 de dez. de 2026" in portuguese


def test_chosen_language_beats_the_browser_and_is_remembered(client):
    chosen = client.get("/?lang=pt_BR", headers={"Accept-Language": "en"})
    assert "Cada produtor" in chosen.text
    assert chosen.cookies.get("feria_lang") == "pt_BR"

    again = client.get("/", headers={"Accept-Language": "en"})
    assert "Cada produtor" in again.text


def test_without_any_preference_the_fair_language_is_used(client):
    page = client.get("/", headers={"Accept-Language": "de, fr;q=0.8"})
    assert '<html lang="es">' in page.text


def test_a_logged_in_users_own_language_beats_the_browser(client, engine, fair):
    from sqlalchemy import update

    from feria.accounts import User
    from feria.db import write_session

    with write_session(engine) as db:
        db.execute(update(User).where(User.id == fair.users["organizer"]).values(locale="pt_BR"))
    form = client.get("/login")
    client.post(
        "/login",
        data={
            "username": "org",
            "password": fair.passwords["organizer"],
            "csrftoken": form.cookies["csrftoken"],
        },
        follow_redirects=False,
    )
    page = client.get("/", headers={"Accept-Language": "en"})
    assert '<html lang="pt-BR">' in page.text


def test_the_layout_is_phone_friendly_and_accessible(client):
    page = client.get("/").text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert 'class="skip-link" href="#main"' in page
    assert '<main id="main"' in page
    css = client.get("/static/feria.css")
    assert css.status_code == 200
    assert ":focus-visible" in css.text
    assert "--tap: 2.75rem" in css.text


def test_every_page_has_a_favicon_and_favicon_ico_is_no_404(client):
    page = client.get("/").text
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    linked = client.get("/static/favicon.svg")
    asked = client.get("/favicon.ico")
    assert linked.status_code == asked.status_code == 200
    assert asked.headers["content-type"] == "image/svg+xml"
    assert asked.content == linked.content and b"<svg" in asked.content


def test_demo_logins_are_listed_with_what_to_open(engine, web_pm, fair):
    settings = Settings(
        secret_key="test",
        demo_logins=[
            ("caja", "demo-pass-1", "cashier", "/pos"),
            DemoLogin("org", "demo-pass-2", "organizer", "/admin"),
        ],
    )
    with TestClient(create_app(engine, web_pm, settings=settings)) as client:
        page = client.get("/?lang=en").text

    assert "Try the demo" in page
    assert "demo-pass-1" in page and "demo-pass-2" in page
    assert "/login?next=/pos" in page or "/login?next=%2Fpos" in page
    assert "Ring up sales at the central cashbox" in page


def test_no_demo_logins_unless_the_demo_gives_them(client):
    assert "Try the demo" not in client.get("/?lang=en").text


def test_healthz_answers_json(client):
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"
    assert answer.json()["database"] == "ok"


def test_unknown_page_is_a_translated_404_page(client):
    page = client.get("/no/such/page?lang=es")
    assert page.status_code == 404
    assert "Página no encontrada" in page.text
    assert page.headers["content-type"].startswith("text/html")


def test_a_crash_shows_a_page_not_a_traceback(engine, web_pm, fair, settings):
    from starlette.routing import Route

    from feria import hookimpl

    def boom(request):
        raise RuntimeError("secret internals")

    class Crashing:
        @hookimpl
        def feria_routes(self):
            return [Route("/-/plugins/crash/", boom)]

    web_pm.register(Crashing(), name="crashing")
    try:
        app = create_app(engine, web_pm, settings=settings)
        with TestClient(app, raise_server_exceptions=False) as client:
            page = client.get("/-/plugins/crash/?lang=en")
    finally:
        web_pm.unregister(name="crashing")

    assert page.status_code == 500
    assert "Something went wrong on our side" in page.text
    assert "secret internals" not in page.text
    assert "Traceback" not in page.text


def test_plugin_templates_menu_items_and_static_files_are_served(
    engine, web_pm, fair, settings, tmp_path
):
    from starlette.routing import Route

    from feria import hookimpl
    from feria.web.menu import MenuItem
    from feria.web.state import app_state

    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "hello.html").write_text(
        '{% extends "base.html" %}{% block content %}<p>hello {{ _("Log in") }}</p>{% endblock %}'
    )
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "x.js").write_text("console.log(1)")

    def hello(request):
        return app_state(request).templates.response(request, "hello.html")

    class Extra:
        @hookimpl
        def feria_routes(self):
            return [Route("/-/plugins/extra/", hello)]

        @hookimpl
        def feria_template_dirs(self):
            return [tmp_path / "templates"]

        @hookimpl
        def feria_static_dirs(self):
            return [("extra", tmp_path / "static")]

        @hookimpl
        def feria_menu_items(self, user):
            return [
                MenuItem("storefront", "Everyone's link", "/-/plugins/extra/"),
                MenuItem("backoffice", "Organizers only", "/-/secret", roles=("organizer",)),
            ]

    web_pm.register(Extra(), name="extra")
    try:
        with TestClient(create_app(engine, web_pm, settings=settings)) as client:
            page = client.get("/-/plugins/extra/?lang=es")
            script = client.get("/static/plugins/extra/x.js")
    finally:
        web_pm.unregister(name="extra")

    assert "hello Iniciar sesión" in page.text
    assert "Everyone&#39;s link" in page.text
    assert "Organizers only" not in page.text
    assert script.text == "console.log(1)"


def test_an_unmigrated_database_is_refused_at_start(tmp_path, web_pm):
    empty = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with pytest.raises(DatabaseNotMigrated, match="feria db upgrade"):
            create_app(empty, web_pm, settings=Settings(secret_key="test"))
    finally:
        empty.dispose()


def test_without_a_secret_key_a_random_one_is_used_and_warned_about(caplog):
    settings = Settings.from_env({})
    other = Settings.from_env({})
    assert settings.secret_generated
    assert settings.secret_key != other.secret_key
    assert "FERIA_SECRET_KEY" in caplog.text

    given = Settings.from_env({"FERIA_SECRET_KEY": "abc", "FERIA_BASE_URL": "https://x.org/"})
    assert given.secret_key == "abc" and not given.secret_generated
    assert given.https_only and given.base_url == "https://x.org"


def test_home_page_before_any_fair_exists(engine, web_pm, settings):
    with TestClient(create_app(engine, web_pm, settings=settings)) as client:
        page = client.get("/?lang=en")
    assert page.status_code == 200
    assert "No fair has been set up yet" in page.text
