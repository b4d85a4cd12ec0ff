"""`foureyes doctor` against a real SMTP server (aiosmtpd), one that is down, webhook hosts that
resolve or not, and broken configurations; it exits 1 whenever it reports a problem."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from foureyes.cli import app as cli
from foureyes.server.service import open_service
from foureyes.server.settings import Settings

from ..email_channel.smtp_server import start_smtp
from ..fast_hashing import FAST_HASHING, FAST_HASHING_ENV
from ..integration.conftest import free_port


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A deployment folder whose database exists (as after a first `foureyes serve`)."""
    for name in ("FOUREYES_CONFIG", "FOUREYES_DATABASE_URL", "FOUREYES_SMTP_URL", "FOUREYES_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'fe.db'}"
    open_service(Settings(database_url=url, **FAST_HASHING)).close()
    (tmp_path / "foureyes.toml").write_text('database_url = "sqlite:///fe.db"\n')
    return tmp_path


@pytest.fixture
def smtp_port() -> Iterator[int]:
    port = free_port()
    controller, _ = start_smtp(port)
    try:
        yield port
    finally:
        controller.stop()


def _doctor(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, "doctor"], env={**FAST_HASHING_ENV, "COLUMNS": "300"})
    return result.exit_code, result.output


def _email(site: Path, smtp_url: str) -> None:
    (site / "foureyes.toml").write_text(
        'database_url = "sqlite:///fe.db"\n'
        f'smtp_url = "{smtp_url}"\n'
        'email_from = "Approvals <approvals@example.com>"\n'
        'public_url = "https://approvals.example.com"\n'
    )


@pytest.mark.slow
def test_a_healthy_setup_with_a_real_smtp_server(site: Path, smtp_port: int) -> None:
    _email(site, f"smtp://127.0.0.1:{smtp_port}")
    code, output = _doctor()
    assert code == 0, output
    assert f"{site / 'foureyes.toml'} (found by working directory)" in output
    assert "reachable, at migration" in output
    assert f"127.0.0.1:{smtp_port} answers EHLO" in output
    assert "links point to https://approvals.example.com" in output
    assert "No problems found." in output


def test_an_smtp_server_that_is_down_is_a_problem(site: Path) -> None:
    port = free_port()  # nothing listens there
    _email(site, f"smtp://127.0.0.1:{port}")
    code, output = _doctor()
    assert code == 1, output
    assert "PROBLEM smtp" in output
    assert f"cannot talk to the SMTP server at 127.0.0.1:{port}: connection refused" in output


@pytest.mark.slow
def test_starttls_required_but_not_offered(site: Path, smtp_port: int) -> None:
    _email(site, f"smtp://127.0.0.1:{smtp_port}?starttls=required")
    code, output = _doctor()
    assert code == 1, output
    assert "does not offer STARTTLS, which smtp_url requires" in output


def test_smtp_without_a_public_url_is_named(site: Path) -> None:
    (site / "foureyes.toml").write_text(
        'database_url = "sqlite:///fe.db"\nsmtp_url = "smtp://127.0.0.1:25"\nemail_from = "a@example.com"\n'
    )
    code, output = _doctor()
    assert code == 1, output
    assert "FOUREYES_PUBLIC_URL must be set when FOUREYES_SMTP_URL is" in output


def test_webhook_hosts_must_resolve(site: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{site / 'fe.db'}", webhook_allow_private=True, **FAST_HASHING
    )
    service = open_service(settings)
    try:
        good, _ = service.webhooks.add_webhook("default", "http://localhost:9/hook", None, allow_private=True)
        bad, _ = service.webhooks.add_webhook(
            "default", "https://no-such-host.invalid/hook", None, allow_private=True
        )
    finally:
        service.close()
    code, output = _doctor()
    assert code == 1, output
    assert f"endpoint {good.id}: localhost resolves" in output
    assert f"PROBLEM webhooks      endpoint {bad.id}: no-such-host.invalid does not resolve" in output


def test_a_missing_database_and_a_broken_file(site: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    (site / "foureyes.toml").write_text('database_url = "sqlite:///gone.db"\n')
    code, output = _doctor()
    assert code == 1
    assert f"there is no database at {site / 'gone.db'}" in output
    broken = tmp_path_factory.mktemp("cfg") / "x.toml"
    broken.write_text("smtp = 'oops'\n")
    code, output = _doctor("--config", str(broken))
    assert code == 1
    assert f"unknown setting 'smtp' in configuration file {broken}" in output


def test_a_database_behind_the_newest_migration(site: Path) -> None:
    import sqlite3

    with sqlite3.connect(site / "fe.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0007'")
    code, output = _doctor()
    assert code == 1, output
    assert "the database schema is at migration 0007" in output
    assert "start `foureyes serve` once to upgrade it" in output
