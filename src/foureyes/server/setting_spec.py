"""How one server setting is declared and how its environment variable is read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SettingSpec:
    name: str
    default: Any
    env: str | None
    help: str


def setting(default: Any, env: str | None, help_text: str) -> Any:
    return field(default=default, metadata={"env": env, "help": help_text})


def parse_env_value(spec: SettingSpec, raw: str) -> Any:
    kind = type(spec.default)
    if kind is str:
        return raw
    if kind is bool:
        word = raw.strip().lower()
        if word in ("1", "true", "yes", "on"):
            return True
        if word in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{spec.env}={raw!r} is not a boolean (true/false, 1/0, yes/no, on/off)")
    try:
        return kind(raw.strip())
    except ValueError:
        raise ValueError(f"{spec.env}={raw!r} is not a valid {kind.__name__}") from None
