"""`foureyes users ...` and the first-admin setup link, through the real command and server."""

from __future__ import annotations

import re

import httpx
import pytest

from .conftest import LiveServer

# Real server processes (or SIGKILLed ones): part of the full suite, not of --fast.
pytestmark = pytest.mark.slow


def test_first_start_prints_a_setup_link_that_works_once(live_server: LiveServer) -> None:
    found = re.search(r"(http://\S+)/inbox/invite/(\S+)", live_server.log.read_text())
    assert found, live_server.log.read_text()
    assert found.group(1) == live_server.url
    invite = f"{live_server.url}/inbox/invite/{found.group(2)}"
    assert httpx.get(invite).status_code == 200


def test_users_add_invite_list_token_and_remove(live_server: LiveServer) -> None:
    added = live_server.foureyes("users", "add", "Rita@Example.com", "--project", "ops", "--role", "reviewer")
    assert added.returncode == 0, added.stderr
    assert "rita@example.com is reviewer in project ops" in added.stdout
    link = added.stdout.strip().splitlines()[-1]
    assert "/inbox/invite/" in link

    listed = live_server.foureyes("users", "list")
    assert "rita@example.com" in listed.stdout
    assert "ops:reviewer" in listed.stdout

    token = live_server.foureyes("users", "token", "rita@example.com", "--project", "ops")
    assert token.returncode == 0, token.stderr
    key = token.stdout.strip().splitlines()[-1]
    assert key.startswith("fe_")
    pending = httpx.get(
        f"{live_server.api_base}/agent/function_calls/pending", headers={"Authorization": f"Bearer {key}"}
    )
    assert pending.status_code == 200

    viewer = live_server.foureyes("users", "add", "vic@example.com", "--project", "ops", "--role", "viewer")
    assert viewer.returncode == 0
    refused = live_server.foureyes("users", "token", "vic@example.com", "--project", "ops")
    assert refused.returncode == 1
    assert "viewers" in refused.stderr

    bad_role = live_server.foureyes("users", "add", "x@example.com", "--role", "owner")
    assert bad_role.returncode == 1
    assert "role must be one of" in bad_role.stderr

    invited = live_server.foureyes(
        "users", "invite", "new@example.com", "--project", "ops", "--role", "viewer"
    )
    assert invited.returncode == 0
    assert "/inbox/invite/" in invited.stdout

    reset = live_server.foureyes("users", "reset", "rita@example.com")
    assert reset.returncode == 0, reset.stderr
    assert "/inbox/invite/" in reset.stdout.strip().splitlines()[-1]
    assert live_server.foureyes("users", "reset", "nobody@example.com").returncode == 1

    removed = live_server.foureyes("users", "remove", "rita@example.com", "--project", "ops")
    assert removed.returncode == 0
    assert live_server.foureyes("users", "remove", "rita@example.com", "--project", "ops").returncode == 1
