"""Every error answer has one shape: {"error": {"code", "message", "details"?}}, as JSON."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from starlette.testclient import TestClient

from foureyes.server.app import create_app
from foureyes.server.service import Service
from foureyes.server.settings import Settings

API = "/humanlayer/v1"


def test_invalid_json(agent: Any, expect_error: Any) -> None:
    for raw in (b"{not json", b"", b"   ", b'{"a": NaN}', b'{"a": Infinity}', b"\xff\xfe{", b"[" * 100_000):
        response = agent.post("/function_calls", content=raw, headers={"Content-Type": "application/json"})
        if len(raw) > 4096:
            expect_error(response, 413, "payload_too_large")
        else:
            expect_error(response, 400, "invalid_json")


def test_deeply_nested_json(database_url: str, expect_error: Any) -> None:
    settings = Settings(database_url=database_url, max_body_bytes=1 << 20)
    app = create_app(settings)
    with TestClient(app) as client:
        key = app.state.service.keys.create_api_key().plaintext
        nested = b"[" * 200_000 + b"]" * 200_000
        response = client.post(
            f"{API}/function_calls", content=nested, headers={"Authorization": f"Bearer {key}"}
        )
    # Deeper than the parser itself can go: refused by the depth limit like any other deep body.
    error = expect_error(response, 422, "validation_error")
    assert "max_json_depth" in error["message"]


def test_validation_error_lists_fields(agent: Any, expect_error: Any) -> None:
    error = expect_error(agent.post("/function_calls", {"call_id": 1}), 422, "validation_error")
    locs = [d["loc"] for d in error["details"]]
    assert ["body", "call_id"] in locs
    assert ["body", "run_id"] in locs
    assert ["body", "spec"] in locs
    for detail in error["details"]:
        assert set(detail) == {"loc", "message", "type"}


@pytest.mark.parametrize("body", [[], "text", 3, None])
def test_non_object_json_is_a_validation_error(agent: Any, expect_error: Any, body: Any) -> None:
    import json

    response = agent.post("/function_calls", content=json.dumps(body).encode())
    error = expect_error(response, 422, "validation_error")
    assert error["details"][0]["loc"] == ["body"]


def test_payload_too_large(agent: Any, expect_error: Any) -> None:
    expect_error(agent.post("/function_calls", content=b"x" * 5000), 413, "payload_too_large")


def test_unauthorized_and_forbidden(client: TestClient, agent: Any, expect_error: Any) -> None:
    expect_error(client.get(f"{API}/project"), 401, "unauthorized")
    expect_error(agent.post("/agent/function_calls/x/respond", {"approved": True}), 403, "forbidden")


def test_not_found_routes_and_items(client: TestClient, agent: Any, expect_error: Any) -> None:
    expect_error(client.get("/nowhere"), 404, "not_found")
    expect_error(client.get(f"{API}/nowhere"), 404, "not_found")
    expect_error(agent.get("/function_calls/missing"), 404, "not_found")
    # No docs pages: they would not be JSON (the description itself is, at /openapi.json).
    expect_error(client.get("/docs"), 404, "not_found")
    expect_error(client.get("/redoc"), 404, "not_found")


def test_no_trailing_slash_redirects(
    client: TestClient, agent: Any, make_function_call: Any, expect_error: Any
) -> None:
    response = agent.post("/function_calls/", make_function_call())
    assert response.status_code in (404, 405)
    assert response.headers["content-type"] == "application/json"
    assert "location" not in response.headers
    expect_error(client.get("/healthz/"), 404, "not_found")


def test_method_not_allowed(client: TestClient, agent: Any, expect_error: Any) -> None:
    expect_error(
        agent.client.delete(f"{API}/function_calls/x", headers=agent.headers), 405, "method_not_allowed"
    )
    response = client.put("/healthz")
    expect_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["allow"]


def test_conflict(agent: Any, make_function_call: Any, expect_error: Any) -> None:
    agent.post("/function_calls", make_function_call())
    expect_error(agent.post("/function_calls", make_function_call(fn="other")), 409, "conflict")


def test_invalid_parameter(agent: Any, make_function_call: Any, expect_error: Any) -> None:
    agent.post("/function_calls", make_function_call())
    expect_error(agent.get("/function_calls/call-1", params={"wait": "soon"}), 400, "invalid_parameter")


def test_internal_error_is_logged_not_leaked(
    agent: Any,
    service: Service,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    expect_error: Any,
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(service.items, "get_function_call", broken)
    with caplog.at_level(logging.ERROR, logger="foureyes.server"):
        error = expect_error(agent.get("/function_calls/x"), 500, "internal_error")
    assert "secret" not in error["message"]
    assert any("secret detail" in (r.exc_text or "") or r.exc_info for r in caplog.records)
