"""``feria token create`` and ``feria serve`` refusing an unmigrated database."""

from __future__ import annotations

from click.testing import CliRunner
from starlette.testclient import TestClient

from feria.cli import main


def test_token_create_prints_a_token_that_opens_the_api(app, database_url, fair):
    result = CliRunner().invoke(
        main, ["--database", database_url, "token", "create", "org", "--name", "laptop"]
    )

    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert secret.startswith("feria_")
    with TestClient(app) as client:
        answer = client.get(
            "/api/v1/journal/entries", headers={"Authorization": f"Bearer {secret}"}
        )
    assert answer.status_code == 200


def test_token_create_for_an_unknown_user_is_a_one_line_error(database_url, fair):
    result = CliRunner().invoke(main, ["--database", database_url, "token", "create", "nadie"])
    assert result.exit_code == 1
    assert "error: there is no user 'nadie'" in result.output


def test_serve_refuses_an_unmigrated_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = CliRunner().invoke(main, ["--database", url, "serve", "--port", "0"])
    assert result.exit_code == 1
    assert "feria db upgrade" in result.output
