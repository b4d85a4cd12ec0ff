"""schemathesis against the running app: generated requests to every operation in /openapi.json,
with an agent key and with a reviewer key, get no 5xx and no answer the description does not
allow (status code, content type, headers, body schema).

Bounded: a few examples per operation and key (hypothesis' ``max_examples``), no shrinking
database, long-polls capped at a fraction of a second by the settings. Every failure is
collected, so one run shows them all.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.testclient import TestClient

from foureyes.server.settings import Settings

from ..fast_hashing import FAST_HASHING
from .test_long_poll import served

pytestmark = pytest.mark.slow

API = "/humanlayer/v1"
EXAMPLES_PER_OPERATION = 15
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def settings(database_url: str) -> Settings:
    # A generated ?wait= is capped at 0.2 s, so long-polls cannot stretch the run.
    return Settings(database_url=database_url, long_poll_max_seconds=0.2, **FAST_HASHING)


def test_generated_requests_get_no_server_error_and_only_described_answers(
    app: FastAPI,
    client: TestClient,
    agent: Any,
    reviewer: Any,
    make_function_call: Any,
    make_human_contact: Any,
) -> None:
    # Something to find: generated ids mostly miss, these names are in the description's examples.
    agent.post(f"{API}/function_calls", make_function_call("call-1"))
    agent.post(f"{API}/human_contacts", make_human_contact("hc-1"))
    failures: list[str] = []
    statuses: dict[int, int] = {}
    exercised: set[str] = set()
    with served(app) as port:
        schema = schemathesis.openapi.from_url(f"http://127.0.0.1:{port}/openapi.json")
        for result in schema.get_all_operations():
            operation = result.ok()
            for who, caller in (("agent", agent), ("reviewer", reviewer)):
                headers = dict(caller.headers)

                @hypothesis_settings(
                    max_examples=EXAMPLES_PER_OPERATION,
                    deadline=None,
                    database=None,
                    derandomize=True,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=operation.as_strategy())
                def run(case: Any) -> None:
                    response = case.call_and_validate(headers=headers, checks=CHECKS)  # noqa: B023 (run at once)
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

                try:
                    run()
                except Exception as exc:
                    failures.append(f"{operation.label} as {who}: {exc}")
                exercised.add(operation.label)
    assert len(exercised) >= 10, exercised
    # Both successes and refusals were checked, not only one kind of answer.
    assert statuses.get(200, 0) > 20, statuses
    assert sum(n for code, n in statuses.items() if 400 <= code < 500) > 20, statuses
    assert not failures, "\n\n".join(failures)
