"""/metrics: Prometheus' text format, by route template, with access limited by default."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from foureyes.server.app import create_app
from foureyes.server.service import Service
from foureyes.server.settings import Settings

from ..fast_hashing import FAST_HASHING

API = "/humanlayer/v1"
TOKEN = "s3cret-metrics-token"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@pytest.fixture
def served(database_url: str) -> Iterator[tuple[TestClient, Service]]:
    settings = Settings(database_url=database_url, metrics_token=TOKEN, **FAST_HASHING)
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, app.state.service


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(response.text)


def test_requests_are_counted_by_route_template_not_raw_path(
    served: tuple[TestClient, Service], make_function_call: Any
) -> None:
    client, service = served
    key = service.keys.create_api_key(scopes=["agent"]).plaintext
    auth = {"Authorization": f"Bearer {key}"}
    for n in range(3):
        assert client.post(f"{API}/function_calls", json=make_function_call(f"c{n}"), headers=auth).is_success
        assert client.get(f"{API}/function_calls/c{n}", headers=auth).status_code == 200
    assert client.get(f"{API}/function_calls/missing", headers=auth).status_code == 404
    for n in range(3):
        assert client.get(f"/no/such/path/{n}").status_code == 404
    found = scrape(client)
    one = f"{API}/function_calls/{{call_id}}"
    assert (
        found[("foureyes_http_requests_total", (("method", "GET"), ("route", one), ("status", "200")))] == 3
    )
    assert (
        found[("foureyes_http_requests_total", (("method", "GET"), ("route", one), ("status", "404")))] == 1
    )
    assert (
        found[
            ("foureyes_http_requests_total", (("method", "GET"), ("route", "unmatched"), ("status", "404")))
        ]
        == 3
    )
    assert found[("foureyes_http_request_duration_seconds_count", (("method", "GET"), ("route", one)))] == 4
    assert not [labels for _, labels in found if ("route", f"{API}/function_calls/c0") in labels]
    assert found[("foureyes_pending_items", (("project", "default"),))] == 3
    assert found[("foureyes_pending_items_total", ())] == 3


def test_decisions_time_to_decision_outbox_and_waiters(
    served: tuple[TestClient, Service], make_function_call: Any
) -> None:
    client, service = served
    agent = {"Authorization": f"Bearer {service.keys.create_api_key(scopes=['agent']).plaintext}"}
    reviewer = {"Authorization": f"Bearer {service.keys.create_api_key(scopes=['respond']).plaintext}"}
    service.webhooks.add_webhook("default", "http://127.0.0.1:9/in", allow_private=True)
    for n in range(3):
        assert client.post(
            f"{API}/function_calls", json=make_function_call(f"c{n}"), headers=agent
        ).is_success
    for n, approved in ((0, True), (1, False)):
        body = {"approved": approved, "comment": "no" if not approved else None}
        decided = client.post(f"{API}/agent/function_calls/c{n}/respond", json=body, headers=reviewer)
        assert decided.status_code == 200, decided.text
    found = scrape(client)
    assert found[("foureyes_decisions_total", (("channel", "api"), ("outcome", "approved")))] == 1
    assert found[("foureyes_decisions_total", (("channel", "api"), ("outcome", "rejected")))] == 1
    assert found[("foureyes_time_to_decision_seconds_count", ())] == 2
    assert found[("foureyes_pending_items_total", ())] == 1
    outbox = {
        labels: value for (name, labels), value in found.items() if name == "foureyes_outbox_deliveries"
    }
    # 3 created + 2 decided, each one delivery to the one endpoint, whatever their state now.
    assert sum(outbox.values()) == 5
    assert {dict(labels)["sink"] for labels in outbox} == {"webhook"}
    assert found[("foureyes_waiters", (("kind", "long-poll"),))] == 0


def test_metrics_need_the_token_when_one_is_set(
    served: tuple[TestClient, Service], expect_error: Any
) -> None:
    client, _ = served
    expect_error(client.get("/metrics"), 401, "unauthorized")
    expect_error(client.get("/metrics", headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")


def metrics_from(settings: Settings, address: str) -> Any:
    with TestClient(create_app(settings), client=(address, 40000)) as client:
        return client.get("/metrics")


def test_without_a_token_metrics_are_for_loopback_clients_only(settings: Settings, expect_error: Any) -> None:
    expect_error(metrics_from(settings, "203.0.113.9"), 403, "forbidden")
    assert metrics_from(settings, "127.0.0.1").status_code == 200
    assert "foureyes_pending_items_total" in metrics_from(settings, "::1").text
