"""Sign-in throttling: per (account, client address), an exponentially growing lockout.

After ``max_failures`` failed sign-ins for one account from one address, further attempts are
refused for ``base`` seconds, doubling with each failure after that up to ``ceiling``. A success
clears the count. Keyed by account *and* address, so an attacker elsewhere cannot lock a
reviewer out of their own desk, and by account, so one address cannot spray passwords at one
account. The counts live in this process (bounded), which is enough for one server; several
replicas each count on their own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_TRACKED = 10_000


@dataclass
class _Failures:
    count: int
    locked_until: datetime | None


class LoginThrottle:
    def __init__(
        self,
        clock: Callable[[], datetime],
        *,
        max_failures: int,
        base_seconds: float,
        ceiling_seconds: float,
    ) -> None:
        self._clock = clock
        self._max = max_failures
        self._base = base_seconds
        self._ceiling = ceiling_seconds
        self._lock = threading.Lock()
        self._seen: OrderedDict[tuple[str, str], _Failures] = OrderedDict()

    def locked_for(self, account: str, address: str) -> float:
        """Seconds this pair must still wait; 0 when it may try."""
        with self._lock:
            entry = self._seen.get((account, address))
            if entry is None or entry.locked_until is None:
                return 0.0
            remaining = (entry.locked_until - self._clock()).total_seconds()
            return max(0.0, remaining)

    def failed(self, account: str, address: str) -> None:
        key = (account, address)
        with self._lock:
            entry = self._seen.pop(key, None) or _Failures(0, None)
            entry.count += 1
            over = entry.count - self._max
            if over >= 0:
                seconds = min(self._ceiling, self._base * 2.0 ** min(over, 32))
                entry.locked_until = self._clock() + timedelta(seconds=seconds)
            self._seen[key] = entry
            while len(self._seen) > MAX_TRACKED:
                self._seen.popitem(last=False)

    def succeeded(self, account: str, address: str) -> None:
        with self._lock:
            self._seen.pop((account, address), None)
