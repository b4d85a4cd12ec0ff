"""``foureyes groups``: add, list, members and remove, on the database directly, as an operator
runs them; each change is in the audit log."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from typer.testing import CliRunner

from foureyes.cli import app as cli
from foureyes.server.audit.verify import verify
from foureyes.server.service import Service
from foureyes.storage.schema import audit_log


def _run(database_url: str, *args: str) -> Any:
    return CliRunner().invoke(cli, ["groups", *args, "--database-url", database_url], env={"COLUMNS": "250"})


def test_the_groups_commands(database_url: str, service: Service) -> None:
    for email in ("ana@example.com", "ben@example.com", "cy@example.com"):
        service.people.add_user(email, "default", "reviewer")

    added = _run(
        database_url,
        "add",
        "finance",
        "--project",
        "default",
        "--member",
        "ana@example.com",
        "--member",
        "ben@example.com",
    )
    assert added.exit_code == 0, added.output
    assert "Added group 'finance' to project 'default' with 2 people." in added.output
    unknown = _run(database_url, "add", "ops", "--member", "ghost@example.com")
    assert unknown.exit_code == 1
    assert "no person with the address ghost@example.com" in unknown.output
    assert _run(database_url, "add", "finance").exit_code == 1  # the name is taken

    changed = _run(
        database_url, "members", "finance", "--add", "cy@example.com", "--remove", "ana@example.com"
    )
    assert changed.exit_code == 0, changed.output
    assert "ben@example.com, cy@example.com" in changed.output
    assert _run(database_url, "members", "finance").exit_code == 1  # nobody named

    listed = _run(database_url, "list", "--json")
    assert listed.exit_code == 0, listed.output
    (group,) = json.loads(listed.output)["groups"]
    assert {k: group[k] for k in ("project", "name", "members")} == {
        "project": "default",
        "name": "finance",
        "members": ["ben@example.com", "cy@example.com"],
    }
    table = _run(database_url, "list", "--project", "default")
    assert "finance" in table.output
    assert "ben@example.com, cy@example.com" in table.output

    service.policies.add("default", "money", 'fn == "pay"', "require:any_of(finance)")
    refused = _run(database_url, "remove", "finance")
    assert refused.exit_code == 1
    assert "named by policy money" in refused.output
    service.policies.remove("default", "money")
    assert _run(database_url, "remove", "finance").exit_code == 0
    assert _run(database_url, "remove", "finance").exit_code == 1
    assert json.loads(_run(database_url, "list", "--json").output) == {"groups": []}
    with service.db.read() as conn:
        logged = conn.execute(
            select(audit_log.c.kind).where(audit_log.c.kind.like("group%")).order_by(audit_log.c.seq)
        ).scalars()
        assert list(logged) == ["group_added", "group_members_changed", "group_removed"]
    assert verify(service.db).ok
