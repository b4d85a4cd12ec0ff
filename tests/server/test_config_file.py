"""foureyes.toml: found from --config, FOUREYES_CONFIG, then the working directory and its parents;
the environment beats it and options beat both; every command agrees on the database it names."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from foureyes.cli import app as cli
from foureyes.server.config_file import ConfigError, load_config
from foureyes.server.settings import Settings

from ..fast_hashing import FAST_HASHING_ENV


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with a foureyes.toml naming a relative SQLite file, and a clean environment."""
    for name in ("FOUREYES_CONFIG", "FOUREYES_DATABASE_URL", "FOUREYES_PORT", "FOUREYES_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "foureyes.toml").write_text('database_url = "sqlite:///state/fe.db"\nport = 7555\n')
    (tmp_path / "a" / "b").mkdir(parents=True)
    return tmp_path


def test_the_file_is_found_from_a_subfolder_and_relative_paths_follow_it(deployment: Path) -> None:
    config = load_config(None, {}, deployment / "a" / "b")
    assert config.path == deployment / "foureyes.toml"
    assert config.found_by == "a parent folder"
    assert config.values == {"database_url": f"sqlite:///{deployment}/state/fe.db", "port": 7555}
    assert load_config(None, {}, deployment).found_by == "working directory"


def test_config_option_then_env_then_search(
    deployment: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    other = tmp_path_factory.mktemp("other") / "elsewhere.toml"
    other.write_text("port = 8001\n")
    env_file = other.with_name("env.toml")
    env_file.write_text("port = 8002\n")
    environ = {"FOUREYES_CONFIG": str(env_file)}
    assert load_config(other, environ, deployment).values == {"port": 8001}
    assert load_config(None, environ, deployment).values == {"port": 8002}
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(None, {"FOUREYES_CONFIG": str(other.with_name("nope.toml"))}, deployment)


def test_environment_beats_the_file_and_options_beat_both(deployment: Path) -> None:
    values = load_config(None, {}, deployment).values
    assert Settings.from_env({}, values).port == 7555
    assert Settings.from_env({"FOUREYES_PORT": "7600"}, values).port == 7600
    assert Settings.from_env({"FOUREYES_PORT": "7600"}, values, port=7700).port == 7700


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("databse_url = 'x'\n", "unknown setting 'databse_url' in configuration file"),
        ("long-poll-max-seconds = 3\n", "did you mean 'long_poll_max_seconds'"),
        ("port = '7444'\n", "setting 'port' in configuration file .* must be an integer"),
        ("webhook_allow_private = 1\n", "must be true or false"),
        ("port = \n", "is not valid TOML"),
    ],
)
def test_a_wrong_file_is_an_error_naming_the_key_and_the_file(
    tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "foureyes.toml").write_text(text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(None, {}, tmp_path)
    assert str(tmp_path / "foureyes.toml") in str(caught.value)


def test_a_number_setting_takes_an_integer(tmp_path: Path) -> None:
    (tmp_path / "foureyes.toml").write_text("long_poll_max_seconds = 3\n")
    assert load_config(None, {}, tmp_path).values == {"long_poll_max_seconds": 3.0}


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=FAST_HASHING_ENV)
    return result.exit_code, result.output


def test_commands_from_any_folder_agree_on_the_configured_database(
    deployment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(deployment / "a" / "b")
    code, output = _run("keys", "create", "--scopes", "respond", "--name", "from-b")
    assert code == 0, output
    assert (deployment / "state" / "fe.db").is_file()
    assert not (deployment / "a" / "b" / ".foureyes").exists()
    monkeypatch.chdir(deployment / "a")
    code, output = _run("keys", "list")
    assert code == 0, output
    assert "from-b" in output
    code, output = _run("users", "list")
    assert code == 0, output
    # --config from a folder outside the deployment names the same database.
    monkeypatch.chdir(deployment.parent)
    code, output = _run("--config", str(deployment / "foureyes.toml"), "keys", "list")
    assert code == 0, output
    assert "from-b" in output


def test_without_a_configuration_a_missing_default_database_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FOUREYES_DATABASE_URL", raising=False)
    monkeypatch.delenv("FOUREYES_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    for command in (["keys", "create"], ["keys", "list"], ["users", "list"], ["webhooks", "list"]):
        code, output = _run(*command)
        assert code == 1, (command, output)
        assert "no foureyes database at" in output
        assert str(tmp_path / ".foureyes" / "foureyes.db") in output.replace("\n", "")
    assert not (tmp_path / ".foureyes").exists()
    # Named explicitly, a new database is still made (the operator said where).
    code, output = _run("keys", "create", "--database-url", f"sqlite:///{tmp_path / 'new.db'}")
    assert code == 0, output


def test_a_broken_file_stops_every_command_with_its_name(
    deployment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (deployment / "foureyes.toml").write_text("prot = 7444\n")
    monkeypatch.chdir(deployment / "a")
    code, output = _run("keys", "list")
    assert code == 1
    assert "unknown setting 'prot'" in output
    assert "foureyes.toml" in output


def test_reviewer_commands_find_the_server_from_the_file(
    deployment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from foureyes.cli.review import Reviewer

    monkeypatch.chdir(deployment / "a")
    assert Reviewer(None, "k").api_base == "http://127.0.0.1:7555/humanlayer/v1"
    (deployment / "foureyes.toml").write_text('public_url = "https://approvals.example.com/"\n')
    assert Reviewer(None, "k").api_base == "https://approvals.example.com/humanlayer/v1"
    assert Reviewer("http://x:1/humanlayer/v1", "k").api_base == "http://x:1/humanlayer/v1"


def test_version() -> None:
    code, output = _run("--version")
    assert code == 0
    assert output.startswith("foureyes ")
    assert output.split()[1][0].isdigit()


def test_help_texts_keep_their_square_brackets() -> None:
    """Rich markup used to eat "[default: ...]" (printing "Interface to listen on .")."""
    result = CliRunner().invoke(cli, ["serve", "--help"], env={"COLUMNS": "200"})
    assert "Interface to listen on [default: 127.0.0.1]." in result.output
    result = CliRunner().invoke(cli, ["--help"], env={"COLUMNS": "200"})
    assert "[default: $FOUREYES_CONFIG" in result.output
