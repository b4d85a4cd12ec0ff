"""Deadlines: when a pending request stops waiting for a human.

A create body may carry the extension field ``expires_at`` (ISO 8601 with a timezone); a
request without one gets its project's default (``expires_after_seconds``), or none and waits
indefinitely, as HumanLayer's SDK expects. The server completes a request whose deadline passed
as ``expired`` (``Decisions.expire``, run by ``server/expiry.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, TypeAdapter, ValidationError

from foureyes.server.domain.errors import ValidationFailedError, field_error

EXPIRES_AT = "expires_at"
# A deadline this far in the past is a mistake (a wrong clock or zone), not a short wait.
PAST_TOLERANCE = timedelta(minutes=5)
# Past this the deadline is no deadline; also keeps the sum far from datetime's limits.
MAX_AHEAD = timedelta(days=366)
MAX_DEFAULT_SECONDS = int(MAX_AHEAD.total_seconds())

_AWARE: TypeAdapter[AwareDatetime] = TypeAdapter(AwareDatetime)


def _invalid(message: str, problem: str) -> ValidationFailedError:
    return ValidationFailedError(message, [field_error(["body", EXPIRES_AT], problem)])


def requested_deadline(payload: Mapping[str, Any], now: datetime) -> datetime | None:
    """The ``expires_at`` a create body names, checked; None when it names none."""
    raw = payload.get(EXPIRES_AT)
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise _invalid("expires_at must be an ISO 8601 date and time", "must be a string")
    try:
        at = _AWARE.validate_python(raw)
    except ValidationError:
        raise _invalid(
            "expires_at must be an ISO 8601 date and time with a timezone, e.g. 2026-01-31T12:00:00Z",
            "must be an ISO 8601 date and time with a timezone offset",
        ) from None
    if at < now - PAST_TOLERANCE:
        raise _invalid(
            f"expires_at {raw} is more than {PAST_TOLERANCE} in the past "
            f"(the server's time is {now.isoformat()})",
            "is in the past",
        )
    if at > now + MAX_AHEAD:
        raise _invalid(f"expires_at {raw} is more than {MAX_AHEAD.days} days ahead", "is too far ahead")
    return at


def default_deadline(expires_after_seconds: int | None, now: datetime) -> datetime | None:
    return None if expires_after_seconds is None else now + timedelta(seconds=expires_after_seconds)


def expiry_comment(expires_at: datetime | None) -> str:
    """The comment an expired item carries, for every client and for the LLM."""
    when = "" if expires_at is None else f" ({expires_at.isoformat()})"
    return f"expired: nobody responded before the deadline{when}"


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+)([smhd])")


def parse_duration(text: str) -> int:
    """Seconds in ``90``, ``90s``, ``30m``, ``2h``, ``7d`` or ``1h30m``; ValueError if not one."""
    cleaned = text.strip().lower()
    if cleaned.isdigit():
        return int(cleaned)
    parts = _DURATION.findall(cleaned)
    if not cleaned or "".join(n + u for n, u in parts) != cleaned:
        raise ValueError(f"{text!r} is not a duration (for example 90s, 30m, 2h, 7d, 1h30m)")
    return sum(int(n) * _UNITS[u] for n, u in parts)


def duration_text(seconds: int) -> str:
    """``7200`` as ``2h``, ``5400`` as ``1h30m``: the shape ``parse_duration`` reads."""
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out) or "0s"
