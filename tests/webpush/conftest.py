"""An in-process app (each backend selected) that may push to 127.0.0.1, and a push service there."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from foureyes.server.app import create_app
from foureyes.server.service import Service
from foureyes.server.settings import Settings

from ..fast_hashing import FAST_HASHING

# the browser tests' fixtures: a live server, Debian's Chromium, a page
from ..integration.conftest import chromium, page, site  # noqa: F401
from .push_service import PushService, running_push_service


@pytest.fixture
def settings(database_url: str) -> Settings:
    # The push service of these tests is on the loopback interface, which the SSRF guard refuses
    # unless told otherwise, exactly as the webhook tests do for their receivers.
    return Settings(database_url=database_url, push_allow_private=True, **FAST_HASHING)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def service(app: FastAPI, client: TestClient) -> Service:
    svc = app.state.service
    assert isinstance(svc, Service)
    return svc


@pytest.fixture
def push() -> Iterator[PushService]:
    with running_push_service() as service:
        yield service
