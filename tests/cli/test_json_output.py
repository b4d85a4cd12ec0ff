"""``--json`` on the listing commands: one JSON document on stdout with the documented fields
(docs/cli.md), on a database the same commands filled."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from foureyes.cli import app
from foureyes.server.service import open_service
from foureyes.server.settings import Settings

from ..fast_hashing import FAST_HASHING_ENV


class Cli:
    def __init__(self, tmp_path: Path) -> None:
        self.env = {
            "FOUREYES_DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}",
            "FOUREYES_WEBHOOK_ALLOW_PRIVATE": "true",
            "COLUMNS": "250",
            **FAST_HASHING_ENV,
        }

    def __call__(self, *args: str) -> str:
        done = CliRunner().invoke(app, list(args), env=self.env)
        if done.exception is not None and not isinstance(done.exception, SystemExit):
            raise done.exception
        assert done.exit_code == 0, done.stderr
        return done.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json"))


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def test_keys_and_users(cli: Cli) -> None:
    cli("keys", "create", "--project", "ops", "--scopes", "agent,respond", "--name", "bot \x1b[31m")
    cli("users", "add", "ana@example.com", "--project", "ops", "--role", "admin", "--name", "Ana")

    [key] = cli.json("keys", "list")["keys"]
    assert set(key) == {"id", "project", "prefix", "scopes", "name", "personal", "created_at", "revoked_at"}
    assert (key["project"], key["scopes"], key["personal"], key["revoked_at"]) == (
        "ops",
        ["agent", "respond"],
        False,
        None,
    )
    assert key["name"] == "bot \x1b[31m"
    assert "\x1b" not in cli("keys", "list", "--json")  # escaped in the text, not raw
    assert key["created_at"].endswith("+00:00")

    cli("keys", "revoke", str(key["id"]))
    assert cli.json("keys", "list")["keys"][0]["revoked_at"] is not None

    [user] = cli.json("users", "list")["users"]
    assert user["email"] == "ana@example.com"
    assert user["name"] == "Ana"
    assert user["roles"] == [{"project": "ops", "role": "admin"}]
    assert user["password_set"] is False
    assert user["slack_user_ids"] == []

    # Linked through `/foureyes link CODE` in Slack: both listings show the Slack user.
    code = cli("users", "slack-link-code", "ana@example.com").strip()
    service = open_service(Settings(database_url=cli.env["FOUREYES_DATABASE_URL"]))
    try:
        assert service.slack_links.redeem(code, "U0ANA", "T0TEAM") is not None
    finally:
        service.close()
    assert cli.json("users", "list")["users"][0]["slack_user_ids"] == ["U0ANA"]
    assert "U0ANA" in cli("users", "list")


def test_projects(cli: Cli) -> None:
    cli("projects", "channels", "set", "payments", "--email", "a@x.example")
    cli("projects", "deadline", "set", "payments", "2h")
    cli("projects", "escalation", "add", "payments", "--after", "10m", "--email", "boss@x.example")
    cli("projects", "channels", "set", "alpha", "--email", "b@x.example")

    listed = cli.json("projects", "list")["projects"]
    assert [p["slug"] for p in listed] == ["alpha", "payments"]
    shown = cli.json("projects", "show", "payments")
    assert shown == listed[1]
    assert shown["default_channels"] == [{"email": {"address": "a@x.example"}}]
    assert shown["deadline_seconds"] == 7200
    assert shown["escalation_steps"] == [
        {"after_seconds": 600, "channels": [{"email": {"address": "boss@x.example"}}]}
    ]
    assert shown["email_deciders_members_only"] is False
    assert [p["has_slack_token"] for p in listed] == [False, False]

    done = CliRunner().invoke(app, ["projects", "slack-token", "payments"], env=cli.env, input="xoxb-own-1\n")
    assert done.exit_code == 0, done.stderr
    assert [p["has_slack_token"] for p in cli.json("projects", "list")["projects"]] == [False, True]
    assert cli.json("projects", "show", "payments")["has_slack_token"] is True
    assert "Slack bot token: the project's own" in cli("projects", "show", "payments")


def test_webhooks_and_deliveries(cli: Cli) -> None:
    assert cli.json("webhooks", "list") == {"endpoints": []}
    assert cli.json("deliveries") == {"deliveries": []}
    added = cli(
        "webhooks", "add", "http://127.0.0.1:9/hook", "--project", "ops", "--events", "function_call.created"
    )
    secret = added.strip().splitlines()[-1]
    [endpoint] = cli.json("webhooks", "list")["endpoints"]
    assert endpoint["url"] == "http://127.0.0.1:9/hook"
    assert endpoint["events"] == ["function_call.created"]
    assert endpoint["enabled"] is True
    assert secret.startswith("whsec_")
    assert secret not in cli("webhooks", "list", "--json")

    cli("webhooks", "test", str(endpoint["id"]))
    [delivery] = cli.json("deliveries")["deliveries"]
    assert cli.json("webhooks", "deliveries")["deliveries"] == [delivery]
    assert delivery["channel"] == "webhook"
    assert delivery["target"] == str(endpoint["id"])
    assert delivery["status"] == "pending"
    assert delivery["call_id"] is None
    assert delivery["next_attempt_at"] is not None
    assert cli.json("deliveries", "attempts", str(delivery["id"])) == {
        "delivery_id": delivery["id"],
        "attempts": [],
    }
    assert cli.json("webhooks", "attempts", str(delivery["id"]))["attempts"] == []


def test_policies(cli: Cli) -> None:
    cli("policies", "add", "small", "--when", "fn == 'refund' && args.amount < 100", "--then", "approve")
    cli(
        "policies",
        "add",
        "never",
        "--when",
        "fn == 'drop'",
        "--then",
        "reject",
        "--comment",
        "no",
        "--shadow",
    )
    listed = cli.json("policies", "list")
    assert listed["project"] == "default"
    assert [(p["position"], p["name"], p["then"], p["shadow"]) for p in listed["policies"]] == [
        (1, "small", "approve", False),
        (2, "never", "reject", True),
    ]
    assert listed["policies"][1]["comment"] == "no"
    assert listed["policies"][0]["when"] == "fn == 'refund' && args.amount < 100"

    tried = cli.json("policies", "test", "true")
    assert tried == {"project": "default", "expression": "true", "requests": []}
