"""The steps of a policy's ``escalate:`` action: "after T without a decision, also notify these".

Written ``escalate:DELAY>TARGET[,TARGET][;DELAY>TARGET[,TARGET]...]``, for example
``escalate:30m>email:boss@example.com;2h>slack:C123,email``. A delay is a duration as
``deadlines.parse_duration`` reads it (``90s``, ``30m``, ``2h``, ``1h30m``, ``7d``), counted
from when the request was created, as a project chain's delays are; the targets are those of a
``route:`` (``routes.check_targets``). Steps are kept in order of their delays, at most
``chains.MAX_STEPS`` of them (as many as a chain).

A request a rule escalates gets these steps instead of its project's chain (``chains.py`` fires
both kinds); the project's chain still serves every other request. The targets are turned into
channels when the request is created (``channels_of``), so ``email``, ``slack`` and
``defaults`` are the project's default channels of that moment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from foureyes.server.domain.chains import MAX_STEPS
from foureyes.server.domain.deadlines import MAX_DEFAULT_SECONDS, duration_text, parse_duration
from foureyes.server.domain.errors import InvalidParameterError
from foureyes.server.domain.routes import check_targets, resolve

USAGE = (
    "escalate:DELAY>TARGET[,TARGET][;DELAY>TARGET...], e.g. escalate:30m>email:boss@example.com;2h>slack:C123"
)

# (after_seconds, targets) of each step, in order of the delays
Steps = tuple[tuple[int, tuple[str, ...]], ...]


def parse_steps(text: str) -> Steps:
    """The steps ``text`` (what follows ``escalate:``) names, or InvalidParameterError saying
    which step is wrong and why."""
    parts = [part.strip() for part in text.split(";")]
    if not any(parts):
        raise InvalidParameterError(f"escalate needs at least one step: {USAGE}")
    if len(parts) > MAX_STEPS:
        raise InvalidParameterError(f"escalate has {len(parts)} steps: at most {MAX_STEPS}")
    steps = [_step(number, part) for number, part in enumerate(parts, 1)]
    return tuple(sorted(steps, key=lambda step: step[0]))


def _step(number: int, text: str) -> tuple[int, tuple[str, ...]]:
    where = f"escalate step {number} ({text!r})" if text else f"escalate step {number}"
    delay, arrow, targets = text.partition(">")
    if not arrow or not delay.strip():
        raise InvalidParameterError(f"{where}: write DELAY>TARGET[,TARGET], e.g. 30m>email:boss@example.com")
    try:
        seconds = parse_duration(delay)
    except ValueError as exc:
        raise InvalidParameterError(f"{where}: {exc}") from None
    if not 1 <= seconds <= MAX_DEFAULT_SECONDS:
        raise InvalidParameterError(
            f"{where}: the delay must be from 1s to {duration_text(MAX_DEFAULT_SECONDS)}"
        )
    try:
        return seconds, check_targets(targets.split(","))
    except InvalidParameterError as exc:
        raise InvalidParameterError(f"{where}: {exc.message}") from None


def steps_text(steps: Steps) -> str:
    """``steps`` as ``parse_steps`` reads them (how the rule is stored and shown)."""
    return ";".join(f"{duration_text(seconds)}>{','.join(targets)}" for seconds, targets in steps)


def channels_of(steps: Steps, defaults: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The steps as a request keeps them: ``{"after_seconds", "channels"}`` (a chain step's
    shape), the targets turned into ContactChannels against the project's defaults."""
    return [
        {"after_seconds": seconds, "channels": [dict(c) for c in resolve(targets, defaults)]}
        for seconds, targets in steps
    ]
