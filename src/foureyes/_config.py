"""SDK settings, resolved once when a client is constructed.

This is the only SDK module that reads the environment. ``FOUREYES_*`` variables win over the
``HUMANLAYER_*`` ones, so code written for HumanLayer keeps working unchanged; an empty variable
counts as unset. No ``.env`` file is ever loaded.
"""

from __future__ import annotations

import os
import re
import secrets
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from foureyes._exceptions import ConfigurationError

DEFAULT_API_BASE = "http://127.0.0.1:7444/humanlayer/v1"
WAIT_VIA = ("websocket", "longpoll")


def genid(prefix: str) -> str:
    """A fresh id such as ``call-2vJ0bX_6rQk`` (the same shape HumanLayer generates)."""
    return f"{prefix}-{secrets.token_urlsafe(8)}"


def slugify(text: str) -> str:
    """Lower-case ASCII words joined by ``-``, as python-slugify would make of a name."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


@dataclass(frozen=True)
class Config:
    api_key: str | None
    api_base: str
    run_id: str
    wait_via: str | None  # None: not chosen; the client picks
    verify_receipts: bool = True
    receipt_jwks: str | None = None  # a pinned JWKS file


_OFF = ("0", "false", "no", "off")


def _first(env: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = env.get(name)
        if value:
            return value
    return None


def resolve(
    *,
    api_key: str | None,
    api_base_url: str | None,
    run_id: str | None,
    agent_name: str | None,
    make_id: Callable[[str], str] = genid,
    env: Mapping[str, str] | None = None,
    wait_via: str | None = None,
) -> Config:
    """Arguments first, then ``FOUREYES_*``, then ``HUMANLAYER_*``, then defaults."""
    env = os.environ if env is None else env
    wait_via = wait_via or _first(env, "FOUREYES_WAIT_VIA")
    if wait_via is not None and wait_via not in WAIT_VIA:
        raise ConfigurationError(
            f"wait_via (FOUREYES_WAIT_VIA) must be one of {', '.join(WAIT_VIA)}, not {wait_via!r}"
        )
    base = api_base_url or _first(env, "FOUREYES_API_BASE", "HUMANLAYER_API_BASE") or DEFAULT_API_BASE
    return Config(
        api_key=api_key or _first(env, "FOUREYES_API_KEY", "HUMANLAYER_API_KEY"),
        # A trailing slash would make every path start with "//".
        api_base=base.rstrip("/"),
        run_id=run_id
        or _first(env, "FOUREYES_RUN_ID", "HUMANLAYER_RUN_ID")
        or make_id(slugify(agent_name or "agent") or "agent"),
        wait_via=wait_via,
        # Off only for a backend that signs no receipts (HumanLayer's cloud): docs/receipts.md
        verify_receipts=(_first(env, "FOUREYES_VERIFY_RECEIPTS") or "1").strip().lower() not in _OFF,
        receipt_jwks=_first(env, "FOUREYES_RECEIPT_JWKS"),
    )
