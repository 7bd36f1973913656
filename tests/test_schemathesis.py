"""Generated requests against the whole API, on SQLite and on PostgreSQL, with an admin key.

Schemathesis reads the OpenAPI document the app serves and sends valid and invalid requests to
every operation: no answer may be a 5xx, fall outside its documented schema, or carry a status
the document does not name. Each backend must see at least 1,000 generated requests; a case
with reports is made first, so generated ids 1, 2, 3 reach real rows and not only 404s.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from conftest import People, new_case, reset_settings
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tracker.api.app import create_app

MIN_REQUESTS = 1000
EXAMPLES_PER_OPERATION = 45
COUNTS: Counter[str] = Counter()

# One app for the module; the fixture below binds it to each backend's database in turn.
APP = create_app(None)  # type: ignore[arg-type]
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
ADMIN_KEY: dict[str, str] = {}


@schema.auth(refresh_interval=None)
class AdminKey:
    """The admin key of the backend under test, on every case but those that test auth."""

    def get(self, case: Any, context: Any) -> str:
        return ADMIN_KEY.get("key", "")

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@pytest.fixture(scope="module")
def enough_requests(backend: str) -> Iterator[None]:
    """After every operation ran on a backend, at least MIN_REQUESTS were sent to it.

    Schemathesis sends many requests with a wrong key on purpose and expects 401 to each;
    the failed-authentication throttle (tested on its own) is widened here so they stay 401.
    """
    reset_settings(TRACKER_AUTH_FAILURE_LIMIT="1000000")
    APP.middleware_stack = None  # built again, with the wide limit, at the next request
    yield
    reset_settings(TRACKER_AUTH_FAILURE_LIMIT="20")
    APP.middleware_stack = None
    assert COUNTS[backend] >= MIN_REQUESTS, (backend, COUNTS[backend])


@pytest.fixture
def admin_key(db: Any, enough_requests: None) -> Iterator[str]:
    """The app bound to this backend, a case with reports, and an admin key."""
    APP.state.database = db
    with TestClient(APP, raise_server_exceptions=False) as client:
        people = People(db)
        case_id = new_case(client, people, who="admin")
        intake = client.post(
            f"/api/v1/cases/{case_id}/reports",
            json={
                "urls": ["https://x.com/fakeuser/status/101", "https://x.com/fakeuser/status/102"]
            },
            headers=people.auth("admin"),
        )
        assert intake.status_code == 200, intake.text
        ADMIN_KEY["key"] = people.keys["admin"]
        yield people.keys["admin"]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_generated_requests_stay_inside_the_contract(case, backend, admin_key):
    COUNTS[backend] += 1
    # Every check but "schema-valid request rejected": the domain rightly refuses some
    # schema-valid input (a jurisdiction with no policy in force, a URL intake refuses), with a
    # documented 4xx. 5xx, undocumented statuses and off-schema answers all still fail.
    case.call_and_validate(excluded_checks=[positive_data_acceptance])


def test_stateful_sequences_stay_inside_the_contract(backend, admin_key):
    """Sequences that feed one answer's ids into the next request (links schemathesis infers
    from the document): create a case, add reports to it, read, pause, resume, recheck."""
    machine = schema.as_state_machine()
    before = COUNTS[backend]

    class Counting(machine):  # type: ignore[misc,valid-type]
        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            COUNTS[backend] += 1

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            case.validate_response(
                response,
                additional_checks=additional_checks,
                excluded_checks=[positive_data_acceptance],
                transport_kwargs=kwargs or None,
            )

    Counting.run(
        settings=settings(
            max_examples=25,
            stateful_step_count=8,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        )
    )
    assert COUNTS[backend] - before >= 50
