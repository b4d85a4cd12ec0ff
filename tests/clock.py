"""A clock the tests move by hand, passed to the service wherever it asks for the time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

FIXED = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, start: datetime = FIXED) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> datetime:
        self.now += timedelta(**kw)
        return self.now
