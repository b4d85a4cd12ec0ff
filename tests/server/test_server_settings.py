"""The settings registry, the environment, and docs/configuration.md."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from foureyes.server.settings import SETTINGS, Settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert (settings.host, settings.port) == ("127.0.0.1", 7444)
    assert settings.database_url == "sqlite:///.foureyes/foureyes.db"
    assert settings.max_body_bytes == 1_048_576
    assert settings.long_poll_max_seconds == 55


def test_environment_then_overrides() -> None:
    env = {
        "FOUREYES_HOST": "0.0.0.0",
        "FOUREYES_PORT": "8000",
        "FOUREYES_MAX_BODY_BYTES": "2048",
        "FOUREYES_LONG_POLL_MAX_SECONDS": "2.5",
        "FOUREYES_DATABASE_URL": "",  # empty counts as unset
    }
    settings = Settings.from_env(env, port=9000)
    assert (settings.host, settings.port, settings.max_body_bytes) == ("0.0.0.0", 9000, 2048)
    assert settings.long_poll_max_seconds == 2.5
    assert settings.database_url == Settings().database_url


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("1", True), ("Yes", True), ("off", False), ("0", False)]
)
def test_booleans_from_the_environment(raw: str, expected: bool) -> None:
    assert Settings.from_env({"FOUREYES_WEBHOOK_ALLOW_PRIVATE": raw}).webhook_allow_private is expected
    assert Settings().webhook_allow_private is False


def test_from_env_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOUREYES_PORT", "7555")
    assert Settings.from_env().port == 7555


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"FOUREYES_PORT": "http"}, "FOUREYES_PORT"),
        ({"FOUREYES_PORT": "0"}, "port"),
        ({"FOUREYES_MAX_BODY_BYTES": "-1"}, "max_body_bytes"),
        ({"FOUREYES_LONG_POLL_MAX_SECONDS": "nan"}, "long_poll"),
        ({"FOUREYES_WEBHOOK_TIMEOUT_SECONDS": "0"}, "webhook_timeout_seconds"),
        ({"FOUREYES_WEBHOOK_POLL_INTERVAL_SECONDS": "-1"}, "webhook_poll_interval_seconds"),
        ({"FOUREYES_WEBHOOK_RETRY_MAX_SECONDS": "inf"}, "webhook_retry_max_seconds"),
        ({"FOUREYES_WEBHOOK_ALLOW_PRIVATE": "maybe"}, "FOUREYES_WEBHOOK_ALLOW_PRIVATE"),
    ],
)
def test_bad_values(env: dict[str, str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Settings.from_env(env)


def test_unknown_override() -> None:
    with pytest.raises(TypeError, match="colour"):
        Settings.from_env({}, colour="blue")


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().port = 1  # type: ignore[misc]


def test_registry_matches_the_dataclass() -> None:
    assert [s.name for s in SETTINGS] == [f.name for f in dataclasses.fields(Settings)]
    assert all(s.help and s.env and s.env.startswith("FOUREYES_") for s in SETTINGS)


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for spec in SETTINGS:
        row = next((line for line in text.splitlines() if line.startswith(f"| `{spec.name}` |")), None)
        assert row is not None, f"{spec.name} is missing from docs/configuration.md"
        assert f"`{spec.env}`" in row, f"{spec.env} is missing from the row of {spec.name}"
        assert f"`{spec.default:g}`" in row if isinstance(spec.default, float) else f"`{spec.default}`" in row
