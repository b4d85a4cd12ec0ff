"""A second `foureyes serve` on the same SQLite file is refused (it would miss the first one's
decisions); short-lived commands keep working beside a running server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from .conftest import LiveServer, free_port

pytestmark = pytest.mark.slow


def serve_again(server: LiveServer, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Another `foureyes serve` on the first one's database, on its own port."""
    return subprocess.run(
        [sys.executable, "-m", "foureyes", "serve", "--port", str(free_port()), "--log-level", "warning"],
        env=server.env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_second_server_on_the_same_sqlite_file_is_refused(live_server: LiveServer, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    second = serve_again(live_server, elsewhere)

    assert second.returncode == 1, second.stdout + second.stderr
    assert live_server.proc is not None
    assert f"another foureyes server (process {live_server.proc.pid}) is already serving" in second.stderr
    assert str(tmp_path / "foureyes.db") in second.stderr
    assert "Traceback" not in second.stderr
    # The first one never noticed.
    assert httpx.get(f"{live_server.url}/healthz", timeout=5).status_code == 200


def test_key_and_user_commands_work_beside_a_running_server(live_server: LiveServer) -> None:
    key = live_server.create_key("agent")
    created = httpx.post(
        f"{live_server.api_base}/function_calls",
        json={"run_id": "r", "call_id": "beside", "spec": {"fn": "f", "kwargs": {}}},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert created.status_code == 200, created.text
    listed = live_server.foureyes("keys", "list")
    assert listed.returncode == 0, listed.stderr
    users = live_server.foureyes("users", "list")
    assert users.returncode == 0, users.stderr


def test_the_lock_goes_with_the_process(live_server: LiveServer) -> None:
    """Stopped or SIGKILLed, the server leaves no lock behind: the next one starts."""
    live_server.stop()
    live_server.start()
    live_server.kill()
    live_server.start()
    assert httpx.get(f"{live_server.url}/healthz", timeout=5).status_code == 200
