"""An in-process app on a fresh database per test (each backend selected), with keys for two
projects."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from foureyes.server.app import create_app
from foureyes.server.service import Service
from foureyes.server.settings import Settings

from ..fast_hashing import FAST_HASHING

API = "/humanlayer/v1"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, max_body_bytes=4096, **FAST_HASHING)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def service(app: FastAPI, client: TestClient) -> Service:
    # Depends on `client` so the app (and its storage) is open for the whole test.
    svc = app.state.service
    assert isinstance(svc, Service)
    return svc


@dataclass
class Caller:
    """One API key's view of the server."""

    client: TestClient
    key: str
    key_id: int
    project_id: int

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(API + path, headers=self.headers | kw.pop("headers", {}), **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        if body is not None:
            kw["json"] = body
        return self.client.post(API + path, headers=self.headers | kw.pop("headers", {}), **kw)


def _caller(client: TestClient, service: Service, project: str, scopes: tuple[str, ...]) -> Caller:
    created = service.keys.create_api_key(project=project, scopes=scopes)
    principal = service.keys.authenticate(created.plaintext)
    return Caller(client, created.plaintext, created.id, principal.project_id)


@pytest.fixture
def agent(client: TestClient, service: Service) -> Caller:
    return _caller(client, service, "default", ("agent",))


@pytest.fixture
def reviewer(client: TestClient, service: Service) -> Caller:
    return _caller(client, service, "default", ("respond",))


@pytest.fixture
def outsider(client: TestClient, service: Service) -> Caller:
    """A key with every scope, in another project."""
    return _caller(client, service, "other", ("agent", "respond"))


def function_call(call_id: str = "call-1", **spec: Any) -> dict[str, Any]:
    """A create body as the official SDK sends it (every optional key present)."""
    full = {
        "fn": "multiply",
        "kwargs": {"x": 2, "y": 5},
        "channel": None,
        "reject_options": None,
        "state": None,
    }
    full.update(spec)
    return {"run_id": "run-1", "call_id": call_id, "spec": full, "status": None}


def human_contact(call_id: str = "hc-1", **spec: Any) -> dict[str, Any]:
    full = {
        "msg": "Formal or casual?",
        "subject": None,
        "channel": None,
        "response_options": None,
        "state": None,
    }
    full.update(spec)
    return {"run_id": "run-1", "call_id": call_id, "spec": full, "status": None}


@pytest.fixture
def make_function_call() -> Any:
    return function_call


@pytest.fixture
def make_human_contact() -> Any:
    return human_contact


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert set(body["error"]) <= {"code", "message", "details", "request_id"}
    # The id the answer carries in its header, so a client's report can be found in the logs.
    assert body["error"]["request_id"] == response.headers["x-request-id"]
    return dict(body["error"])


@pytest.fixture
def expect_error() -> Any:
    return assert_error
