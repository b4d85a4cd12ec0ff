"""Sign-in throttling: failures counted before the password is checked, in the database.

Three counters per attempt, each locking on its own limit:

- the account from one client address (``login_max_failures``): the usual guard, which a
  stranger elsewhere cannot trip for a reviewer;
- the client address, whatever the account (``login_max_failures_per_address``): one address
  cannot spray guesses over many accounts, nor fill the table with made-up names;
- the account, whatever the address (``login_max_failures_per_account``): guesses spread over
  many addresses still run out.

An attempt first *reserves* a failure on all three at once (``ThrottleStore.reserve``), so 40
concurrent wrong passwords for one account hash at most the allowed number; the others are
refused without hashing. Reaching a limit locks that counter for ``login_lockout_seconds``,
doubling with each further failure up to ``login_lockout_max_seconds``. A right password clears
the account's counters and gives its reservation back to the address's.

The counters are rows in the database, so replicas on one PostgreSQL database share them, and
nothing evicts a lock: a row goes only when it expires, ``login_lockout_max_seconds`` after its
last failure or the end of its lock. IPv6 addresses are counted per /64, the block one host
usually holds.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable
from datetime import datetime, timedelta

from foureyes.storage import Database
from foureyes.storage.throttle import Counter, ThrottleStore

PAIR = "account+address"
ADDRESS = "address"
ACCOUNT = "account"

# Expired rows are deleted at most this often (by each process), outside the sign-in's transaction.
PRUNE_INTERVAL = timedelta(seconds=60)


def client_block(address: str) -> str:
    """The address as counted: IPv4 as is, IPv6 as its /64 (an IPv4-mapped one as IPv4)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def _key(scope: str, *parts: str) -> str:
    return hashlib.sha256("\0".join((scope, *parts)).encode("utf-8", "surrogatepass")).hexdigest()


class LoginThrottle:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        *,
        max_failures: int,
        max_per_address: int,
        max_per_account: int,
        base_seconds: float,
        ceiling_seconds: float,
    ) -> None:
        self.store = ThrottleStore(db)
        self._clock = clock
        self._limits = {PAIR: max_failures, ADDRESS: max_per_address, ACCOUNT: max_per_account}
        self._base = base_seconds
        self._ceiling = ceiling_seconds
        self._forget = timedelta(seconds=ceiling_seconds)
        self._pruned_at: datetime | None = None

    def lockout_seconds(self, over: int) -> float:
        """The lock after ``over`` failures beyond the limit (0 for the one reaching it)."""
        return min(self._ceiling, self._base * 2.0 ** min(over, 32))

    def _counters(self, account: str, address: str) -> dict[str, Counter]:
        block = client_block(address)
        keys = {
            PAIR: _key(PAIR, account, block),
            ADDRESS: _key(ADDRESS, block),
            ACCOUNT: _key(ACCOUNT, account),
        }
        return {scope: Counter(key, scope, self._limits[scope]) for scope, key in keys.items()}

    def reserve(self, account: str, address: str) -> float:
        """Count this attempt as a failure before its password is checked. Returns 0 when it may
        go on, else the seconds to wait (and nothing was counted)."""
        now = self._clock()
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_INTERVAL:
            self._pruned_at = now
            self.store.prune(now=now)
        until = self.store.reserve(
            list(self._counters(account, address).values()),
            now=now,
            lockout=self.lockout_seconds,
            forget_after=self._forget,
        )
        return 0.0 if until is None else max(0.001, (until - now).total_seconds())

    def succeeded(self, account: str, address: str) -> None:
        """The password was right: the account's counters are cleared, and the address gets back
        the failure this attempt reserved."""
        counters = self._counters(account, address)
        self.store.release(clear=[counters[PAIR], counters[ACCOUNT]], give_back=[counters[ADDRESS]])
