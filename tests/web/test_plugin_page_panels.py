"""Plugins add panels to a producer's page and to the organizers' dashboard
(``feria_producer_panels``, ``feria_backoffice_panels``): drawn by the plugin's template in
the reader's language, in order, and a plugin that fails never takes the page down."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import text

from feria import hookimpl
from feria.i18n import N_
from feria.panels import Panel
from feria.web.live import LiveSettings


class Stall:
    """A well-behaved plugin: one panel on each page, from a template of its own."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @hookimpl
    def feria_template_dirs(self):
        return [self.folder]

    @hookimpl
    def feria_producer_panels(self, producer, fair, user):
        context = {"who": producer.code, "fair_name": fair.name, "looker": user.role}
        return [Panel(N_("Balance"), "stall/panel.html", context, id="stall")]

    @hookimpl
    def feria_backoffice_panels(self, fair, user):
        return [Panel(N_("Balance"), "stall/board.html", {"fair_name": fair.name})]


class Raises:
    """A plugin whose answer raises."""

    @hookimpl
    def feria_producer_panels(self, producer):
        raise RuntimeError("the stall plugin fell over")

    @hookimpl
    def feria_backoffice_panels(self, fair):
        raise RuntimeError("the stall plugin fell over")


class BadQuery:
    """A plugin whose query fails in the page's own transaction (on PostgreSQL, without a
    savepoint, every later query of the page would then fail too)."""

    @hookimpl
    def feria_producer_panels(self, db):
        db.execute(text("SELECT * FROM no_such_table"))
        return []

    @hookimpl
    def feria_backoffice_panels(self, db):
        db.execute(text("SELECT * FROM no_such_table"))
        return []


class MissingTemplate:
    """A plugin whose panel names a template nobody ships."""

    @hookimpl
    def feria_producer_panels(self):
        return [Panel(N_("Payouts"), "nowhere/panel.html"), "not a panel"]


@pytest.fixture
def panel_templates(tmp_path) -> Path:
    folder = tmp_path / "templates"
    (folder / "stall").mkdir(parents=True)
    (folder / "stall" / "panel.html").write_text(
        '<p data-stall="{{ who }}">{{ fair_name }} · {{ looker }} · '
        '{{ 12990|money("CLP") }} · {{ _("Sold") }}</p>\n',
        encoding="utf-8",
    )
    (folder / "stall" / "board.html").write_text(
        '<p data-board="{{ fair_name }}">{{ 1500|money("CLP") }}</p>\n', encoding="utf-8"
    )
    return folder


@pytest.fixture
def web_pm(web_pm, panel_templates):
    """The app's plugins, with the panel plugins registered before the app is built. pluggy
    asks the last registered first: the failing plugins answer before the good one."""
    web_pm.register(Stall(panel_templates), name="stall")
    web_pm.register(MissingTemplate(), name="missing_template")
    web_pm.register(Raises(), name="raises")
    web_pm.register(BadQuery(), name="bad_query")
    return web_pm


def test_a_plugin_panel_shows_on_the_producer_page_in_the_readers_language(client_as, fair):
    page = client_as("producer").get(f"/producer/{fair.producers['P01']}?lang=es")

    assert page.status_code == 200
    assert '<section class="panel" id="stall" aria-labelledby="stall-title">' in page.text
    assert '<h2 id="stall-title">Saldo</h2>' in page.text
    assert '<p data-stall="P01">Feria de prueba · producer · $12.990 · Vendido</p>' in page.text


def test_a_failing_plugin_is_logged_and_left_out_and_the_page_still_shows(client_as, fair, caplog):
    with caplog.at_level(logging.ERROR):
        page = client_as("producer").get(f"/producer/{fair.producers['P01']}?lang=en")

    assert page.status_code == 200
    assert "Your sales" in page.text and "Payouts" in page.text  # the page's own sections
    assert 'data-stall="P01"' in page.text  # the good plugin, asked after the bad ones
    assert page.text.count('<section class="panel"') == 1
    logged = caplog.text
    assert "plugin 'raises' failed to answer feria_producer_panels" in logged
    assert "plugin 'bad_query' failed to answer feria_producer_panels" in logged
    assert "could not render the panel 'Payouts' (nowhere/panel.html)" in logged
    assert "plugin 'missing_template' answered feria_producer_panels with 'not a panel'" in logged


def test_an_organizer_opening_a_producer_page_is_the_user_the_plugin_is_told_about(client_as, fair):
    page = client_as("organizer").get(f"/producer/{fair.producers['P01']}")

    assert page.status_code == 200
    assert " · organizer · " in page.text


def test_the_live_part_of_the_producer_page_keeps_the_panels(app, client_as, fair, sell):
    # The stream sends the page's fragment again after a sale; the panels are part of it.
    app.state.feria_live = LiveSettings(poll_interval=0.05, lifetime=0.5, keepalive=10)
    sell([{"producer_code": "P01", "amount": 1_500}], [{"method": "cash", "amount": 1_500}])
    url = f"/producer/{fair.producers['P01']}/events?fair=feria-test&since=0"

    answer = client_as("producer").get(url)

    sent = [
        json.loads(line[6:])["html"] for line in answer.text.splitlines() if line[:6] == "data: "
    ]
    assert sent and 'data-stall="P01"' in sent[-1]


def test_the_dashboard_shows_plugin_panels_and_survives_failing_ones(client_as, fair, caplog):
    with caplog.at_level(logging.ERROR):
        page = client_as("organizer").get("/backoffice/fairs/feria-test?lang=es")

    assert page.status_code == 200
    assert '<h2 id="recent">' in page.text  # the dashboard's own figures
    assert '<p data-board="Feria de prueba">$1.500</p>' in page.text
    assert "plugin 'bad_query' failed to answer feria_backoffice_panels" in caplog.text
