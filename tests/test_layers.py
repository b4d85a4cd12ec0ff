"""The layers contract in pyproject.toml covers every SDK module, so a new one cannot slip past it.

`lint-imports` (run by scripts/test) checks the contracts themselves; what it cannot know is
which top-level modules are the SDK. Everything at the top of the package is the SDK except the
server side and the command line, named here.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import foureyes

ROOT = Path(__file__).resolve().parents[1]
# the integrations have a contract of their own (they may use Typer)
NOT_SDK = {
    "foureyes.server",
    "foureyes.storage",
    "foureyes.cli",
    "foureyes.integrations",
    "foureyes.__main__",
}
SDK_CONTRACT = "The SDK imports nothing of the server, the storage or the command line"


def _contracts() -> dict[str, Any]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {c["name"]: c for c in config["contracts"]}


def test_every_top_level_module_is_in_the_sdk_contract_or_named_as_not_sdk() -> None:
    package = Path(foureyes.__file__).parent
    found = {f"foureyes.{p.stem}" for p in package.glob("*.py") if p.name != "__init__.py"}
    found |= {f"foureyes.{p.name}" for p in package.iterdir() if (p / "__init__.py").is_file()}
    sources = set(_contracts()[SDK_CONTRACT]["source_modules"])
    assert found - NOT_SDK == sources, "add the new module to the SDK contract in pyproject.toml"
    assert found >= NOT_SDK


def test_the_server_side_and_the_command_line_are_forbidden_to_the_sdk() -> None:
    forbidden = set(_contracts()[SDK_CONTRACT]["forbidden_modules"])
    assert NOT_SDK - {"foureyes.__main__", "foureyes.integrations"} <= forbidden
