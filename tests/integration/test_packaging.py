"""`pip install foureyes` is the SDK alone: the wheel's dependency metadata names no server
package outside the `server` extra, and the wheel installed into a clean venv decides a real
approval against a real server without any server dependency present; the `foureyes` command
there says which extra to install."""

from __future__ import annotations

import subprocess
import sys
import threading
import venv
import zipfile
from email.parser import Parser
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SDK_DEPENDENCIES = {"pydantic", "httpx", "websockets", "cryptography", "rfc8785"}
SERVER_PACKAGES = {"fastapi", "uvicorn", "sqlalchemy", "alembic", "psycopg", "typer", "jinja2", "starlette"}


def _name(requirement: str) -> str:
    return requirement.split(";")[0].split("[")[0].split("<")[0].split(">")[0].split("=")[0].strip().lower()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (built,) = out.glob("foureyes-*.whl")
    return built


def test_the_wheel_depends_on_the_sdk_packages_only(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (metadata_name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
        names = archive.namelist()
    requires = metadata.get_all("Requires-Dist") or []
    unconditional = {_name(r) for r in requires if "extra ==" not in r}
    assert unconditional == SDK_DEPENDENCIES
    server = {_name(r) for r in requires if "extra == 'server'" in r or 'extra == "server"' in r}
    assert server >= SERVER_PACKAGES - {"starlette"}  # starlette comes with fastapi
    cli = {_name(r) for r in requires if "extra == 'cli'" in r or 'extra == "cli"' in r}
    assert cli == {"typer", "rich"}
    # The package data the server needs is in the wheel too.
    assert any(n.startswith("foureyes/storage/migrations/versions/") for n in names)
    assert "foureyes/py.typed" in names


def test_the_wheel_alone_decides_a_real_approval(wheel: Path, tmp_path: Path, live_server: Any) -> None:
    target = tmp_path / "sdk-venv"
    venv.create(target, with_pip=True)
    python = target / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stderr
    listed = subprocess.run([str(python), "-m", "pip", "list"], capture_output=True, text=True, check=True)
    present = {line.split()[0].lower() for line in listed.stdout.splitlines()[2:] if line.strip()}
    assert not present & SERVER_PACKAGES, present & SERVER_PACKAGES

    key = live_server.create_key("agent,respond")
    script = (
        "import sys\n"
        "from foureyes import HumanLayer\n"
        "from foureyes.models import FunctionCallSpec\n"
        f"hl = HumanLayer(api_key={key!r}, api_base_url={live_server.api_base!r})\n"
        "hl.create_function_call(FunctionCallSpec(fn='deploy', kwargs={'env': 'prod'}), call_id='pkg-1')\n"
        "print('created', flush=True)\n"
        "done = hl.get_function_call('pkg-1', wait=30)\n"
        "assert done.status.approved is True, done\n"
        "assert not {'fastapi', 'sqlalchemy', 'typer'} & set(sys.modules)\n"
        "print('approved')\n"
    )
    agent = subprocess.Popen(
        [str(python), "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    assert agent.stdout is not None
    assert agent.stdout.readline().strip() == "created"
    approver = threading.Thread(
        target=lambda: live_server.foureyes(
            "approve", "pkg-1", "--api-base", live_server.api_base, "--api-key", key
        )
    )
    approver.start()
    out, err = agent.communicate(timeout=60)
    approver.join(timeout=60)
    assert agent.returncode == 0, err
    assert out.strip() == "approved"

    command = subprocess.run(
        [str(target / "bin" / "foureyes"), "pending"], capture_output=True, text=True, timeout=60
    )
    assert command.returncode == 1
    assert "pip install 'foureyes[cli]'" in command.stderr
    assert "Traceback" not in command.stderr
