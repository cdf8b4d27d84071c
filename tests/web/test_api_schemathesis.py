"""Property-based fuzzing of the JSON API from its own OpenAPI document: no input is a 5xx.

Schemathesis reads ``/api/openapi.json`` from the real app (in-process, over ASGI) and, for
every operation it describes, sends generated requests as an organizer with a bearer token.
Whatever it sends, the answer must not be a server error: an input the API does not accept
is a 4xx problem+json, never an unhandled exception.

Half of the generated requests keep their path parameters; the other half point them at
things that exist (the fair's slug, an open session, a sale), so the bodies also reach the
code behind the 404s.
"""

from __future__ import annotations

import traceback
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

# Runs on SQLite only: this test is about how the web layer validates what it is sent,
# which does not depend on the database, and hundreds of generated requests on both
# backends would double the time for no extra coverage (the API's behaviour on PostgreSQL
# is covered by test_web_api.py).
pytestmark = pytest.mark.backends("sqlite")

# Per operation: bounded, and the same examples on every run (a failure is reproducible).
MAX_EXAMPLES = 25


@pytest.fixture
def api_schema(app):
    return schemathesis.openapi.from_asgi("/api/openapi.json", app)


@pytest.fixture
def real_ids(fair, cash_session, sell) -> dict[str, object]:
    """Path parameter values that name things that exist, by parameter name."""
    sale = sell([{"producer_code": "P02", "amount": 7_770}], [{"method": "cash", "amount": 7_770}])
    return {"slug": "feria-test", "session": cash_session.id, "sale": sale.id}


def _real_path_parameters(path: str, params: dict, ids: dict) -> dict:
    """``params`` with each one that names a thing replaced by one that exists."""
    out = dict(params)
    if "slug" in out:
        out["slug"] = ids["slug"]
    if "id" in out:
        if path.startswith("/api/v1/sessions/"):
            out["id"] = ids["session"]
        elif path.startswith("/api/v1/sales/"):
            out["id"] = ids["sale"]
    return out


def test_no_generated_request_is_a_server_error(api_schema, token, real_ids):
    headers = {"Authorization": f"Bearer {token('organizer')}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert operations, "the OpenAPI document describes no operation"
    failures: list[str] = []
    statuses: Counter[int] = Counter()

    for operation in operations:

        @settings(
            max_examples=MAX_EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(), real=st.booleans())
        def run(case, real):
            if real and case.path_parameters:
                case.path_parameters = _real_path_parameters(
                    case.operation.path, case.path_parameters, real_ids
                )
            response = case.call_and_validate(headers=headers, checks=[not_a_server_error])
            statuses[response.status_code] += 1

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - every operation is tried, all are reported
            # Hypothesis notes the falsifying example; the last frame says where it broke.
            notes = "\n".join(getattr(exc, "__notes__", []))
            where = traceback.extract_tb(exc.__traceback__)[-1]
            failures.append(
                f"{operation.label}: {type(exc).__name__}: {exc}\n"
                f"  at {where.filename}:{where.lineno}\n{notes}"
            )

    assert not failures, "\n\n".join(failures)
    # Not vacuous: the token is accepted and some generated requests succeed.
    assert statuses[401] < statuses.total(), statuses
    assert any(200 <= status < 300 for status in statuses), statuses
