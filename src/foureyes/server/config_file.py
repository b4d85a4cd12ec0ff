"""The configuration file, ``foureyes.toml``: where it is, and the settings it holds.

It is found from ``--config``, else ``FOUREYES_CONFIG``, else the working directory and each of
its parents in turn, so every command run anywhere inside a deployment's folder reads the same
file. Its keys are the settings' names (``database_url = "sqlite:///foureyes.db"``), top-level;
an unknown key or a value of the wrong type is an error naming the key and the file. A relative
SQLite path or ``secret_key_file`` in the file is relative to the file's own folder, not to the
working directory, which is what lets the commands agree on one database from any folder.
Environment variables beat the file, command-line options beat both (``Settings.from_env``).

Only the standard library is used: the reviewer commands read the file in an SDK-only install.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foureyes.server.setting_spec import SettingSpec
from foureyes.server.settings import SETTINGS

CONFIG_FILE_NAME = "foureyes.toml"
CONFIG_ENV = "FOUREYES_CONFIG"
_SQLITE = "sqlite:///"


class ConfigError(ValueError):
    """The configuration file is missing (when named), unreadable or holds something wrong."""


@dataclass(frozen=True)
class ConfigFile:
    """The file found (None: there is none) and its settings, typed and with paths resolved."""

    path: Path | None
    found_by: str = ""
    values: Mapping[str, Any] = field(default_factory=dict)


def find_config_path(
    explicit: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> tuple[Path, str] | None:
    """The file to read and how it was found, or None when there is none. A file named by
    ``--config`` or ``FOUREYES_CONFIG`` must exist."""
    environ = os.environ if environ is None else environ
    for named, how in ((explicit, "--config"), (environ.get(CONFIG_ENV) or None, CONFIG_ENV)):
        if named:
            path = Path(named).expanduser().absolute()
            if not path.is_file():
                raise ConfigError(f"configuration file {path} (from {how}) does not exist")
            return path, how
    here = (cwd or Path.cwd()).absolute()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_FILE_NAME
        if candidate.is_file():
            return candidate, "working directory" if folder == here else "a parent folder"
    return None


def load_config(
    explicit: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> ConfigFile:
    """Find and read the configuration file; ``ConfigFile(None)`` when there is none."""
    found = find_config_path(explicit, environ, cwd)
    if found is None:
        return ConfigFile(None)
    path, how = found
    return ConfigFile(path, how, read_config(path))


def read_config(path: Path) -> dict[str, Any]:
    """The settings in one file, checked against the registry."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"configuration file {path} is not valid TOML: {exc}") from None
    specs = {spec.name: spec for spec in SETTINGS}
    values: dict[str, Any] = {}
    for key, value in data.items():
        spec = specs.get(key)
        if spec is None:
            hint = f" (did you mean {key.replace('-', '_')!r}?)" if key.replace("-", "_") in specs else ""
            raise ConfigError(f"unknown setting {key!r} in configuration file {path}{hint}")
        values[key] = _typed(spec, value, path)
    folder = path.parent
    url = values.get("database_url")
    if isinstance(url, str) and url.startswith(_SQLITE) and not url.startswith(_SQLITE + "/"):
        values["database_url"] = _anchor_sqlite(url, folder)
    key_file = values.get("secret_key_file")
    if key_file:
        values["secret_key_file"] = str(folder / Path(key_file).expanduser())
    return values


def _anchor_sqlite(url: str, folder: Path) -> str:
    relative, _, query = url[len(_SQLITE) :].partition("?")
    if not relative or relative == ":memory:":
        return url  # refused later, with the server's own message
    anchored = f"{_SQLITE}{folder / relative}"
    return f"{anchored}?{query}" if query else anchored


def _typed(spec: SettingSpec, value: Any, path: Path) -> Any:
    kind = type(spec.default)
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        raise ConfigError(
            f"setting {spec.name!r} in configuration file {path} must be {_kind_name(kind)}, not {value!r}"
        )
    return value


def _kind_name(kind: type) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(
        kind, kind.__name__
    )
