"""Heavy packages that only some set-ups use are imported on first use, not when the command or
the server starts: slack_sdk and aiohttp (the Slack channel), pywebpush (Web Push), psycopg
(PostgreSQL), cel (policies). Each check runs in a fresh interpreter, since this one has
imported everything by now."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

LAZY = ("slack_sdk", "aiohttp", "pywebpush", "psycopg", "cel")

_LOADED = """
import json, sys
{setup}
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & set({lazy!r}))))
"""


def _loaded_after(setup: str, tmp_path: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _LOADED.format(setup=setup, lazy=LAZY)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_the_command_line_imports_none_of_them(tmp_path: Path) -> None:
    assert _loaded_after("import foureyes.cli", tmp_path) == []


def test_creating_the_server_imports_none_of_them(tmp_path: Path) -> None:
    setup = f"""
from foureyes.server.app import create_app
from foureyes.server.settings import Settings
create_app(Settings(database_url="sqlite:///{tmp_path / "f.db"}"))
"""
    assert _loaded_after(setup, tmp_path) == []


def test_the_check_sees_a_package_that_is_imported(tmp_path: Path) -> None:
    # The same probe, once with an import it must report (so an empty answer above means it).
    assert _loaded_after(
        "import foureyes.server.channels.slack.api as a; a.outcome(OSError('x'))", tmp_path
    ) == [
        "aiohttp",
        "slack_sdk",
    ]
