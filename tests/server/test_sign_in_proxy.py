"""The client address sign-in throttling counts: the connection's peer, unless trusted proxies are
configured. Served by a real uvicorn (in a thread, on a real socket), as ``foureyes serve`` does."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from foureyes.cli import app as cli
from foureyes.server.app import create_app, uvicorn_config
from foureyes.server.settings import Settings

from ..fast_hashing import FAST_HASHING
from .inbox_helpers import PASSWORD, csrf_of, make_person


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serving(database_url: str, **settings: Any) -> Iterator[str]:
    """The app under uvicorn with the configuration ``foureyes serve`` uses; its base URL."""
    config = Settings(database_url=database_url, port=_free_port(), **FAST_HASHING, **settings)
    app = create_app(config)
    make_person(app.state.service, "ann@example.com", "default", "reviewer")
    server = uvicorn.Server(uvicorn_config(app, config, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.02)
        assert server.started
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _sign_in(client: httpx.Client, password: str, forwarded_for: str) -> int:
    client.cookies.clear()  # a new visitor each time
    form = client.get("/inbox/login")
    response = client.post(
        "/inbox/login",
        data={"email": "ann@example.com", "password": password, "csrf": csrf_of(form.text)},
        headers={"X-Forwarded-For": forwarded_for},
    )
    return response.status_code


def test_a_rotating_forwarded_for_from_localhost_does_not_reset_the_limit(database_url: str) -> None:
    with _serving(database_url) as url, httpx.Client(base_url=url) as client:
        statuses = [_sign_in(client, "wrong password", f"203.0.113.{i}") for i in range(5)]
        assert statuses == [401] * 5
        assert _sign_in(client, PASSWORD, "198.51.100.7") == 429


def test_forwarded_for_is_honoured_from_a_configured_proxy(database_url: str) -> None:
    with _serving(database_url, forwarded_allow_ips="127.0.0.1") as url, httpx.Client(base_url=url) as client:
        # Each forwarded address is its own client: none of them reaches the limit ...
        assert [_sign_in(client, "wrong password", f"203.0.113.{i}") for i in range(8)] == [401] * 8
        assert _sign_in(client, PASSWORD, "198.51.100.7") == 303
        # ... while one of them, repeated, does.
        assert [_sign_in(client, "wrong password", "203.0.113.200") for _ in range(5)] == [401] * 5
        assert _sign_in(client, PASSWORD, "203.0.113.200") == 429


def test_uvicorn_believes_no_proxy_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # uvicorn would read this variable when given no list of its own.
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}")
    config = uvicorn_config(create_app(settings), settings)
    assert config.proxy_headers is False
    assert config.forwarded_allow_ips == []


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ([], {}, ""),
        (["--forwarded-allow-ips", "10.0.0.5,10.0.0.6"], {}, "10.0.0.5,10.0.0.6"),
        ([], {"FOUREYES_FORWARDED_ALLOW_IPS": "10.0.0.9"}, "10.0.0.9"),
    ],
)
def test_serve_takes_the_trusted_proxies_from_its_option_or_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: list[str], env: dict[str, str], expected: str
) -> None:
    started: list[uvicorn.Config] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: started.append(self.config))
    monkeypatch.delenv("FOUREYES_FORWARDED_ALLOW_IPS", raising=False)
    url = f"sqlite:///{tmp_path / 's.db'}"
    result = CliRunner().invoke(cli, ["serve", "--database-url", url, *args], env=env)
    assert result.exit_code == 0, result.output
    (config,) = started
    assert config.proxy_headers is bool(expected)
    assert config.forwarded_allow_ips == (expected or [])
