"""Exponential backoff with a cap and jitter: the one schedule every retry loop uses.

The n-th consecutive failure (1-based) has the nominal delay ``min(cap, base * 2**(n-1))``; the
delay actually slept is drawn uniformly from a window around it, ``[low, high] * nominal``.
The default window ``(0, 1)`` is "full jitter": clients knocked off by one restart spread out
instead of coming back in lockstep, and the mean still doubles. A window such as ``(0.8, 1.2)``
keeps a schedule close to its nominal delays (the webhook worker's, whose retries a delivery's
three-day expiry is planned around).

Used by the SDK's request retries (``_core.RetryPolicy``) and push channel reconnects
(``_push``), the webhook delivery worker and the PostgreSQL listener's reconnects. Imports
nothing of ours.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

FULL_JITTER = (0.0, 1.0)
# Far past any cap, and far inside what a float holds.
_MAX_DOUBLINGS = 60


def nominal_delay(attempt: int, base: float, cap: float) -> float:
    """``min(cap, base * 2**(attempt - 1))``; attempt 1 (or less) is ``min(cap, base)``."""
    doublings = min(max(attempt - 1, 0), _MAX_DOUBLINGS)
    return min(cap, base * 2.0**doublings)


def jittered_delay(
    attempt: int, base: float, cap: float, draw: float, window: tuple[float, float] = FULL_JITTER
) -> float:
    """The delay after the ``attempt``-th failure for a random ``draw`` in ``[0, 1)``: pure, so a
    test pins it by choosing the draw."""
    low, high = window
    return nominal_delay(attempt, base, cap) * (low + (high - low) * draw)


@dataclass(frozen=True)
class Backoff:
    """One schedule: ``delay(n)`` for the n-th consecutive failure, ``delays()`` for a loop."""

    base: float
    cap: float
    window: tuple[float, float] = FULL_JITTER
    draw: Callable[[], float] = random.random

    def __post_init__(self) -> None:
        low, high = self.window
        if not 0 < self.base <= self.cap:
            raise ValueError("need 0 < base <= cap")
        if not 0 <= low <= high:
            raise ValueError("need 0 <= low <= high in the jitter window")

    def delay(self, attempt: int) -> float:
        return jittered_delay(attempt, self.base, self.cap, self.draw(), self.window)

    def delays(self) -> Iterator[float]:
        """The delays after the first, second, ... failure, without end."""
        attempt = 0
        while True:
            attempt += 1
            yield self.delay(attempt)
