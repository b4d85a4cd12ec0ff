"""The public surface: ``__all__`` is complete and importable, and a drop-in for humanlayer 0.7.9."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import foureyes

# Names ``import humanlayer`` exposes that agents do not use, and why foureyes leaves them out.
NOT_NEEDED = {
    # typing helpers and stdlib/pydantic modules re-exported by accident (there is no __all__)
    "Any", "Awaitable", "BaseModel", "Callable", "Enum", "Literal", "TypeVar", "Union", "R", "T",
    "AsyncCallable", "asyncio", "datetime", "field_validator", "inspect", "json", "logger", "logging",
    "os", "re", "secrets", "slugify", "time", "wraps",
    # its submodules; foureyes.core.* offers the ones code imports by path (tests/sdk/test_core_paths.py)
    "approval", "async_approval", "async_cloud", "async_protocol", "cloud", "core", "models", "protocol",
    # pluggable-backend plumbing: foureyes has one HTTP backend, configured by api_key/api_base_url
    # (HumanLayer.cloud(connection=...) accepts any object with those attributes)
    "AgentBackend", "AsyncAgentBackend", "CloudHumanLayerBackend", "AsyncCloudHumanLayerBackend",
    "HumanLayerCloudConnection", "AsyncHumanLayerCloudConnection",
    # an internal helper of its human_as_tool
    "remove_parameter_from_signature",
}  # fmt: skip


def test_all_is_importable_and_sorted() -> None:
    for name in foureyes.__all__:
        assert hasattr(foureyes, name), name
    assert foureyes.__all__ == sorted(foureyes.__all__)


def test_all_is_complete() -> None:
    public = {
        name
        for name, value in vars(foureyes).items()
        if not name.startswith("_") and getattr(value, "__module__", "foureyes").startswith("foureyes")
    }
    public -= {"annotations"}  # from __future__
    modules = {name for name in public if type(getattr(foureyes, name)).__name__ == "module"}
    assert public - modules <= set(foureyes.__all__)


def test_every_humanlayer_name_agents_use_exists(tmp_path: Path) -> None:
    # In a subprocess from an empty directory: importing humanlayer loads ./.env.
    names = subprocess.run(
        [sys.executable, "-c", "import humanlayer, json; print(json.dumps(dir(humanlayer)))"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    humanlayer_public = {n for n in json.loads(names) if not n.startswith("_")}
    missing = humanlayer_public - NOT_NEEDED - set(foureyes.__all__)
    assert not missing, f"humanlayer names missing from foureyes: {sorted(missing)}"
    assert not NOT_NEEDED - humanlayer_public, "stale exclusions"


def test_import_loads_no_server_and_no_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("FOUREYES_API_KEY=from-dotenv\nHUMANLAYER_API_KEY=from-dotenv\n")
    code = (
        "import os, sys, foureyes; "
        "print(os.environ.get('FOUREYES_API_KEY'), os.environ.get('HUMANLAYER_API_KEY')); "
        "heavy = ('fastapi', 'sqlalchemy', 'dotenv', 'typer', 'uvicorn'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy"
        " or m.startswith(('foureyes.server', 'foureyes.storage', 'foureyes.cli'))))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOUREYES_", "HUMANLAYER_"))}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True, env=env
    ).stdout.splitlines()
    assert out == ["None None", "[]"]
