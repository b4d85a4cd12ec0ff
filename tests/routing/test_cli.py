"""``foureyes projects`` and ``foureyes deliveries`` on a database, in-process."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from foureyes.cli import app
from foureyes.server.push import InProcessNotifier
from foureyes.server.service import Service
from foureyes.server.settings import Settings
from foureyes.storage import Database, keys


def run(url: str, *args: str, columns: int = 250) -> tuple[int, str]:
    done = CliRunner().invoke(app, list(args), env={"FOUREYES_DATABASE_URL": url, "COLUMNS": str(columns)})
    if done.exception is not None and not isinstance(done.exception, SystemExit):
        raise done.exception
    return done.exit_code, done.stdout + done.stderr


def test_projects_channels_deadline_and_email_deciders(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'f.db'}"
    code, shown = run(
        url, "projects", "channels", "set", "payments", "--email", "a@x.example", "--email", "b@y.example"
    )
    assert code == 0, shown
    assert "email to a@x.example" in shown
    assert "email to b@y.example" in shown
    code, shown = run(url, "projects", "deadline", "set", "payments", "2h")
    assert code == 0, shown
    assert "default deadline: 2h" in shown
    code, shown = run(url, "projects", "email-deciders", "payments", "--members-only")
    assert "only its reviewers and admins" in shown
    code, shown = run(url, "projects", "channels", "show", "payments")
    assert "email to a@x.example" in shown
    assert "default deadline: 2h" in shown

    code, shown = run(url, "projects", "channels", "set", "payments", "--email", "not-an-address")
    assert code == 1
    assert "is not an email address" in shown
    code, shown = run(url, "projects", "deadline", "set", "payments", "soon")
    assert code == 1
    assert "not a duration" in shown

    run(url, "projects", "channels", "clear", "payments")
    code, shown = run(url, "projects", "deadline", "clear", "payments")
    assert "default channels: none" in shown
    assert "default deadline: none" in shown
    code, shown = run(url, "projects", "show", "nope")
    assert code == 1
    assert "not found" in shown


def test_a_slack_default_channel_from_the_cli(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'f.db'}"
    code, shown = run(url, "projects", "channels", "set", "ops", "--slack", "C123", "--email", "a@x.example")
    assert code == 0, shown
    assert "Slack to C123" in shown
    assert "email to a@x.example" in shown
    db = Database.from_url(url)
    try:
        with db.read() as conn:
            project = keys.find_project(conn, "ops")
    finally:
        db.close()
    assert project is not None
    assert project.default_channels == (
        {"email": {"address": "a@x.example"}},
        {"slack": {"channel_or_user_id": "C123"}},
    )


def test_projects_escalation_add_list_clear(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'f.db'}"
    code, shown = run(
        url, "projects", "escalation", "add", "payments", "--after", "1h", "--email", "lead@x.example"
    )
    assert code == 0, shown
    code, shown = run(
        url, "projects", "escalation", "add", "payments", "--after", "10m", "--email", "oncall@x.example"
    )
    assert code == 0, shown
    code, shown = run(url, "projects", "escalation", "list", "payments")
    assert "1. after 10m: email to oncall@x.example" in shown
    assert "2. after 1h: email to lead@x.example" in shown
    code, shown = run(
        url, "projects", "escalation", "add", "payments", "--after", "soon", "--email", "a@x.example"
    )
    assert code == 1
    assert "not a duration" in shown
    code, shown = run(url, "projects", "escalation", "add", "payments", "--after", "5m")
    assert code == 1
    code, shown = run(url, "projects", "escalation", "clear", "payments")
    assert code == 0, shown
    assert "escalation chain: none" in shown


def test_deliveries_lists_email_and_its_attempts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'f.db'}"
    db = Database.from_url(url)
    db.migrate()
    service = Service(db, InProcessNotifier(), settings=Settings(database_url=url))
    try:
        service.projects.set_default_channels("default", [{"email": {"address": "lead@example.com"}}])
        project = service.projects.get("default")
        service.items.create_function_call(
            project.id, {"run_id": "r", "call_id": "pay-1", "spec": {"fn": "f", "kwargs": {}}}
        )
        [delivery] = service.deliveries.recent()
    finally:
        service.close()
    code, shown = run(url, "deliveries")
    assert code == 0, shown
    assert "lead@example.com" in shown
    assert "pay-1" in shown
    assert "failed" in shown
    assert "email is not configured" in shown
    code, shown = run(url, "deliveries", "--sink", "webhook")
    assert "No deliveries." in shown
    code, shown = run(url, "deliveries", "attempts", str(delivery.id))
    assert code == 0, shown
    assert "email is not configured" in shown


def test_deliveries_fit_80_columns_with_the_call_id_whole(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'f.db'}"
    call_id = "9b2f6c1e-4d3a-4f7e-8a51-0c6d2e9f7b13"
    db = Database.from_url(url)
    db.migrate()
    service = Service(db, InProcessNotifier(), settings=Settings(database_url=url))
    try:
        service.projects.set_default_channels(
            "default", [{"email": {"address": "finance-approvals-team@subsidiary.example.com"}}]
        )
        project = service.projects.get("default")
        service.items.create_function_call(
            project.id, {"run_id": "r", "call_id": call_id, "spec": {"fn": "f", "kwargs": {}}}
        )
    finally:
        service.close()
    code, shown = run(url, "deliveries", columns=80)
    assert code == 0, shown
    lines = shown.splitlines()
    assert max(len(line) for line in lines) <= 80, shown
    assert any(call_id in line for line in lines), shown
    error_cells = [line.rsplit("│", 2)[1].strip() for line in lines if line.count("│") == 5]
    assert " ".join(error_cells).startswith("email is not configured on this server"), shown
