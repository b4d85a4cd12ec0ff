"""Sign-in throttling that holds: failures counted before the hash is checked (40 racing wrong
passwords check 5), locks per account and per address that noise cannot evict, shared by
replicas, and counted against the connection's address unless a proxy is trusted."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from foureyes.server.domain.errors import UnauthorizedError
from foureyes.server.people import LockedOutError
from foureyes.server.push import InProcessNotifier
from foureyes.server.service import Service
from foureyes.server.settings import Settings
from foureyes.server.throttle import client_block
from foureyes.storage import Database

from ..fast_hashing import FAST_HASHING

PASSWORD = "correct horse battery"
WRONG = "not the password"


@dataclass
class Clocked:
    """A service on the test's database whose clock the test moves, and its password checks."""

    service: Service
    now: list[datetime]
    verifies: list[str]

    def sign_in(self, email: str, password: str, address: str) -> str:
        """``ok``, ``wrong`` or ``locked``."""
        try:
            self.service.people.sign_in(email, password, address)
        except UnauthorizedError:
            return "wrong"
        except LockedOutError:
            return "locked"
        return "ok"

    def advance(self, seconds: float) -> None:
        self.now[0] += timedelta(seconds=seconds)


class CountingHasher(PasswordHasher):
    """The service's hasher, recording every password it checks."""

    def __init__(self, like: PasswordHasher, calls: list[str]) -> None:
        super().__init__(like.time_cost, like.memory_cost, like.parallelism, like.hash_len, like.salt_len)
        self.calls = calls
        self._lock = threading.Lock()

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        with self._lock:
            self.calls.append(str(password))
        return super().verify(hash, password)


def _counting_verifies(service: Service, calls: list[str]) -> None:
    service.people.hasher = CountingHasher(service.people.hasher, calls)


def _person(service: Service, email: str) -> None:
    _, link = service.people.add_user(email, "default", "reviewer")
    assert link
    service.people.accept_invitation(link.rsplit("/", 1)[1], None, email.split("@")[0], PASSWORD)


def _open(url: str, now: list[datetime] | None = None, **settings: Any) -> tuple[Service, list[str]]:
    storage = Database.from_url(url)
    storage.migrate()
    clock: Callable[[], datetime] = (lambda: now[0]) if now is not None else (lambda: datetime.now(UTC))
    service = Service(
        storage,
        InProcessNotifier(),
        clock=clock,
        settings=Settings(database_url=url, **FAST_HASHING, **settings),
    )
    calls: list[str] = []
    _counting_verifies(service, calls)
    return service, calls


@pytest.fixture
def clocked_with(database_url: str) -> Iterator[Callable[..., Clocked]]:
    """A clocked service with these settings (the defaults, else)."""
    opened: list[Service] = []

    def make(**settings: Any) -> Clocked:
        now = [datetime(2026, 6, 1, tzinfo=UTC)]
        service, calls = _open(database_url, now, **settings)
        opened.append(service)
        return Clocked(service, now, calls)

    yield make
    for service in opened:
        service.close()


@pytest.fixture
def clocked(clocked_with: Callable[..., Clocked]) -> Clocked:
    return clocked_with()


def test_forty_racing_wrong_passwords_check_five_hashes(clocked: Clocked) -> None:
    _person(clocked.service, "ann@example.com")
    barrier = threading.Barrier(40)

    def attempt(_: int) -> str:
        barrier.wait()
        return clocked.sign_in("ann@example.com", WRONG, "10.0.0.1")

    with ThreadPoolExecutor(40) as pool:
        outcomes = list(pool.map(attempt, range(40)))
    assert len(clocked.verifies) == 5
    assert sorted(outcomes) == ["locked"] * 35 + ["wrong"] * 5
    # The right password is refused as well now, without being checked.
    assert clocked.sign_in("ann@example.com", PASSWORD, "10.0.0.1") == "locked"
    assert len(clocked.verifies) == 5
    # Elsewhere the account still works: a stranger cannot lock a reviewer out of their desk.
    assert clocked.sign_in("ann@example.com", PASSWORD, "10.0.0.2") == "ok"


def test_racing_right_and_wrong_passwords_from_one_address_all_get_an_answer(clocked: Clocked) -> None:
    # Successes give back what they reserved while failures reserve on the same rows: every
    # attempt ends in an answer (no deadlock, no error), and the right ones get in.
    people = [f"p{i}@example.com" for i in range(8)]
    for email in people:
        _person(clocked.service, email)
    barrier = threading.Barrier(32)

    def attempt(i: int) -> tuple[int, str]:
        barrier.wait()
        return i, clocked.sign_in(people[i % 8], PASSWORD if i % 2 else WRONG, "10.0.0.1")

    with ThreadPoolExecutor(32) as pool:
        outcomes = dict(pool.map(attempt, range(32)))
    assert {o for i, o in outcomes.items() if i % 2} == {"ok"}
    assert {o for i, o in outcomes.items() if not i % 2} == {"wrong"}


def test_a_right_password_clears_what_it_reserved(clocked: Clocked) -> None:
    _person(clocked.service, "bob@example.com")
    for _ in range(4):
        assert clocked.sign_in("bob@example.com", WRONG, "10.0.0.1") == "wrong"
    # The fifth attempt reaches the limit (and locks while it is checked), but it is right.
    assert clocked.sign_in("bob@example.com", PASSWORD, "10.0.0.1") == "ok"
    for _ in range(4):
        assert clocked.sign_in("bob@example.com", WRONG, "10.0.0.1") == "wrong"
    assert clocked.sign_in("bob@example.com", WRONG, "10.0.0.1") == "wrong"
    assert clocked.sign_in("bob@example.com", PASSWORD, "10.0.0.1") == "locked"


def test_lockout_doubles_up_to_its_ceiling_then_is_forgotten(clocked_with: Callable[..., Clocked]) -> None:
    clocked = clocked_with(login_max_failures=2, login_lockout_seconds=10, login_lockout_max_seconds=25)
    _person(clocked.service, "cy@example.com")
    people = clocked.service.people

    def wait() -> float:
        with pytest.raises(LockedOutError) as locked:
            people.sign_in("cy@example.com", WRONG, "ip")
        return locked.value.seconds

    assert clocked.sign_in("cy@example.com", WRONG, "ip") == "wrong"
    assert clocked.sign_in("cy@example.com", WRONG, "ip") == "wrong"
    assert wait() == 10
    for expected in (20, 25, 25):
        clocked.advance(wait())
        assert clocked.sign_in("cy@example.com", WRONG, "ip") == "wrong"
        assert wait() == expected
    # Refused attempts did not count: the lock did not grow while it held.
    clocked.advance(25)
    # Forgotten login_lockout_max_seconds after the lock ended: counting starts again.
    clocked.advance(25)
    assert clocked.sign_in("cy@example.com", WRONG, "ip") == "wrong"
    assert clocked.sign_in("cy@example.com", PASSWORD, "ip") == "ok"


def test_one_address_cannot_spray_many_accounts(clocked_with: Callable[..., Clocked]) -> None:
    clocked = clocked_with(login_max_failures_per_address=20)
    _person(clocked.service, "dee@example.com")
    outcomes = [clocked.sign_in(f"guess-{i}@example.com", WRONG, "10.9.9.9") for i in range(50)]
    assert outcomes == ["wrong"] * 20 + ["locked"] * 30
    assert len(clocked.verifies) == 20
    assert clocked.sign_in("dee@example.com", PASSWORD, "10.9.9.9") == "locked"
    assert clocked.sign_in("dee@example.com", PASSWORD, "10.9.9.10") == "ok"


def test_guesses_spread_over_addresses_run_out(clocked_with: Callable[..., Clocked]) -> None:
    clocked = clocked_with(login_max_failures_per_account=12)
    _person(clocked.service, "eve@example.com")
    outcomes = [clocked.sign_in("eve@example.com", WRONG, f"10.1.0.{i}") for i in range(30)]
    assert outcomes == ["wrong"] * 12 + ["locked"] * 18
    assert len(clocked.verifies) == 12


def test_an_ipv6_host_is_counted_by_its_64_block(clocked: Clocked) -> None:
    assert client_block("2001:db8:1:2:aaaa::1") == client_block("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert client_block("::ffff:10.0.0.1") == "10.0.0.1"
    _person(clocked.service, "fay@example.com")
    for i in range(5):
        assert clocked.sign_in("fay@example.com", WRONG, f"2001:db8:1:2::{i + 1:x}") == "wrong"
    assert clocked.sign_in("fay@example.com", PASSWORD, "2001:db8:1:2::99") == "locked"


def _without_fsync(url: str) -> None:
    """Durability is not what the noise test looks at, and 10,000 commits each waiting for the
    disk would take minutes: commits of this test's database skip the flush."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        admin = create_engine(parsed, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{parsed.database}" SET synchronous_commit = off'))
        admin.dispose()


def test_failures_on_ten_thousand_made_up_names_do_not_unlock_a_real_account(
    database_url: str,
) -> None:
    _without_fsync(database_url)
    now = [datetime(2026, 6, 1, tzinfo=UTC)]
    service, verifies = _open(database_url, now)
    if service.db.dialect == "sqlite":
        event.listen(service.db.engine, "connect", _sqlite_no_sync)
        service.db.engine.dispose()
    try:
        _person(service, "gil@example.com")
        real = Clocked(service, now, verifies)
        for _ in range(5):
            assert real.sign_in("gil@example.com", WRONG, "10.0.0.1") == "wrong"
        assert real.sign_in("gil@example.com", PASSWORD, "10.0.0.1") == "locked"

        def noise(i: int) -> str:
            return real.sign_in(
                f"nobody-{i}@example.com", WRONG, f"10.{100 + i // 65536}.{i // 256 % 256}.{i % 256}"
            )

        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(noise, range(10_000)))
        assert outcomes == ["wrong"] * 10_000  # every one was counted, none refused
        checked = len(verifies)
        assert real.sign_in("gil@example.com", PASSWORD, "10.0.0.1") == "locked"
        assert len(verifies) == checked
        # Every counter is still there (three per attempt, the real account's among them) ...
        assert service.people.throttle.store.count_rows() == 3 * 10_000 + 3
        # ... until it expires: then the next sign-in prunes the rows.
        real.advance(Settings().login_lockout_max_seconds + 60)
        assert real.sign_in("gil@example.com", PASSWORD, "10.0.0.1") == "ok"
        assert service.people.throttle.store.count_rows() == 1  # the address's, given back
    finally:
        service.close()


def _sqlite_no_sync(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA synchronous=OFF")
    finally:
        cursor.close()


def test_two_replicas_share_the_lock(postgres_database_url: str) -> None:
    first, first_calls = _open(postgres_database_url)
    second, second_calls = _open(postgres_database_url)
    try:
        _person(first, "hal@example.com")
        barrier = threading.Barrier(40)

        def attempt(i: int) -> str:
            replica = first if i % 2 else second
            barrier.wait()
            try:
                replica.people.sign_in("hal@example.com", WRONG, "10.0.0.1")
            except LockedOutError:
                return "locked"
            except UnauthorizedError:
                return "wrong"
            return "ok"

        with ThreadPoolExecutor(40) as pool:
            outcomes = list(pool.map(attempt, range(40)))
        assert len(first_calls) + len(second_calls) == 5
        assert sorted(outcomes) == ["locked"] * 35 + ["wrong"] * 5
        for replica in (first, second):
            with pytest.raises(LockedOutError):
                replica.people.sign_in("hal@example.com", PASSWORD, "10.0.0.1")
        assert len(first_calls) + len(second_calls) == 5
    finally:
        first.close()
        second.close()
