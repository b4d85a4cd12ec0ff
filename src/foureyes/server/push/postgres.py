"""Wake-ups across replicas with PostgreSQL LISTEN/NOTIFY.

Every replica keeps one extra connection that LISTENs on one channel, on a thread of its own,
and hands what arrives to an ``InProcessNotifier``, which the waiters of this process subscribe
to. ``publish`` wakes this process's waiters at once and queues the topic for a second
thread, which sends it to the other replicas with ``pg_notify`` on a connection of its own;
topics queued together travel in one notification. The service publishes after it commits, and
PostgreSQL delivers a notification only to connections listening when it was sent, so a waiter
that subscribed before reading the item cannot miss a decision made through another replica.

A notification still carries no data but the topic: a waiter re-reads the item, so a lost or
duplicated wake-up does no harm, and the database stays the one source of truth. When the
listening connection is lost, it is opened again with backoff and then every waiter of this
process is woken, since notifications sent meanwhile were lost: they re-read, and wait again.
Nothing polls the tables.

A process that never calls ``start`` (a CLI command) still sends, but does not listen.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import secrets
import threading
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from foureyes._backoff import Backoff
from foureyes.server.push.local import InProcessNotifier
from foureyes.server.push.topics import Notifier, Subscription, Topic
from foureyes.storage import Database

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)

CHANNEL = "foureyes_wakeups"
# PostgreSQL refuses payloads of 8000 bytes or more.
MAX_PAYLOAD_BYTES = 7_000
# How long the listener blocks before it looks at its stop flag; how often an idle listening
# connection is checked with a query, so a silently dead one is noticed.
LISTEN_TICK_SECONDS = 0.1
HEALTH_CHECK_SECONDS = 10.0
RECONNECT_MIN_SECONDS = 0.1
RECONNECT_MAX_SECONDS = 5.0
# TCP keepalives on both connections: a peer that vanished is found within about 15 s.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3}


def encode(origin: str, topics: list[Topic]) -> list[str]:
    """Payloads for ``topics``, each under PostgreSQL's size limit."""
    payloads: list[str] = []
    batch: list[Topic] = []

    def flush() -> None:
        if batch:
            payloads.append(json.dumps({"o": origin, "t": batch}, separators=(",", ":")))
            batch.clear()

    size = 0
    for topic in dict.fromkeys(topics):  # one notification per topic and batch is enough
        cost = len(json.dumps(topic).encode("utf-8")) + 1
        if batch and size + cost > MAX_PAYLOAD_BYTES - 64:
            flush()
            size = 0
        batch.append(topic)
        size += cost
    flush()
    return payloads


def decode(payload: str) -> tuple[str, list[Topic]]:
    """The sender's origin and its topics; ValueError when the payload is not ours."""
    data = json.loads(payload)
    origin = data["o"]
    topics = [(int(p), str(k), str(c)) for p, k, c in data["t"]]
    if not isinstance(origin, str):
        raise ValueError("origin must be a string")
    return origin, topics


class PostgresNotifier:
    def __init__(self, engine: Engine) -> None:
        _, params = engine.dialect.create_connect_args(engine.url)
        params.pop("context", None)  # SQLAlchemy's type adapters; plain psycopg types are fine here
        self._connect_params: dict[str, Any] = {**KEEPALIVES, **params}
        # Our own notifications come back to our listener; they were delivered locally already.
        self.origin = secrets.token_hex(8)
        self._local = InProcessNotifier()
        self._outgoing: queue.SimpleQueue[Topic | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._listening = threading.Event()
        self._listener: threading.Thread | None = None
        self._sender: threading.Thread | None = None
        # The server process of the listening connection, for operators (pg_stat_activity).
        self.listener_pid: int | None = None

    # ------------------------------------------------------------------ the Notifier interface

    def subscribe(self, topic: Topic) -> AbstractAsyncContextManager[Subscription]:
        return self._local.subscribe(topic)

    def publish(self, topic: Topic, handed: object | None = None) -> None:
        # Only this process's waiters get what is handed over; the others' re-read.
        self._local.publish(topic, handed)
        with self._lock:
            if self._sender is None:
                self._sender = threading.Thread(
                    target=self._send_forever, name="foureyes-notify", daemon=True
                )
                self._sender.start()
        self._outgoing.put(topic)

    def start(self, timeout: float = 30.0) -> None:
        """Listen from now on; returns once LISTEN is in effect, raises if it is not in time."""
        with self._lock:
            if self._listener is None:
                self._listener = threading.Thread(
                    target=self._listen_forever, name="foureyes-listen", daemon=True
                )
                self._listener.start()
        if not self._listening.wait(timeout):
            raise RuntimeError(f"could not LISTEN on PostgreSQL within {timeout:g} s")

    def close(self) -> None:
        """Send what is queued, then stop both threads and close their connections."""
        self._stopping.set()
        self._outgoing.put(None)
        for thread in (self._sender, self._listener):
            if thread is not None:
                thread.join(timeout=10)

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    def subscriber_count(self) -> int:
        return self._local.subscriber_count()

    # ------------------------------------------------------------------ threads

    def _connect(self) -> psycopg.Connection[Any]:
        import psycopg  # only a PostgreSQL server loads it (a fifth of a second at start)

        return psycopg.connect(autocommit=True, **self._connect_params)

    def _backoff(self) -> Iterator[float]:
        return Backoff(RECONNECT_MIN_SECONDS, RECONNECT_MAX_SECONDS).delays()

    def _listen_forever(self) -> None:
        delays = self._backoff()
        while not self._stopping.is_set():
            try:
                with self._connect() as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listener_pid = conn.info.backend_pid
                    self._listening.set()
                    delays = self._backoff()
                    # Whatever was sent while we were not listening is lost: every waiter here
                    # re-reads its item (on the first connect there are none yet).
                    self._local.wake_all()
                    self._receive(conn)
            except Exception as exc:
                if self._stopping.is_set():
                    break
                self._listening.clear()
                delay = next(delays)
                if isinstance(exc, _psycopg_error()):
                    logger.warning("lost the LISTEN connection (%s); reconnecting in %.1f s", exc, delay)
                else:  # a bug here must not leave the replica deaf for good
                    logger.exception("the listener failed; reconnecting in %.1f s", delay)
                self._stopping.wait(delay)
        self._listening.clear()

    def _receive(self, conn: psycopg.Connection[Any]) -> None:
        idle = 0.0
        while not self._stopping.is_set():
            received = False
            for notify in conn.notifies(timeout=LISTEN_TICK_SECONDS):
                received = True
                self._dispatch(notify.payload)
            idle = 0.0 if received else idle + LISTEN_TICK_SECONDS
            if idle >= HEALTH_CHECK_SECONDS:
                # A notification that arrives meanwhile is kept by psycopg (>= 3.3) for the next
                # notifies() call.
                conn.execute("SELECT 1")
                idle = 0.0

    def _dispatch(self, payload: str) -> None:
        try:
            origin, topics = decode(payload)
        except (ValueError, KeyError, TypeError):
            logger.warning("ignoring a malformed notification on %s", CHANNEL)
            return
        if origin == self.origin:
            return
        for topic in topics:
            self._local.publish(topic)

    def _send_forever(self) -> None:
        conn: psycopg.Connection[Any] | None = None
        try:
            while True:
                first = self._outgoing.get()
                if first is None:
                    return
                topics = [first]
                done = False
                with contextlib.suppress(queue.Empty):
                    while len(topics) < 500:
                        more = self._outgoing.get_nowait()
                        if more is None:
                            done = True
                            break
                        topics.append(more)
                conn = self._send(conn, encode(self.origin, topics))
                if done:
                    return
        finally:
            if conn is not None:
                conn.close()

    def _send(
        self, conn: psycopg.Connection[Any] | None, payloads: list[str]
    ) -> psycopg.Connection[Any] | None:
        # One retry on a fresh connection: the pooled one may have died with a database restart.
        for attempt in (1, 2):
            try:
                if conn is None or conn.closed:
                    conn = self._connect()
                with conn.transaction():
                    for payload in payloads:
                        conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
                return conn
            except _psycopg_error() as exc:
                if conn is not None:
                    conn.close()
                conn = None
                if attempt == 2:
                    # The other replicas' waiters find out when their wait runs out and they
                    # re-read; their listeners also wake everyone when they reconnect.
                    logger.warning("could not send wake-ups to other replicas: %s", exc)
        return conn


def notifier_for(db: Database) -> Notifier:
    """LISTEN/NOTIFY on PostgreSQL, where replicas may share the database; in-process on SQLite."""
    if db.dialect == "postgresql":
        return PostgresNotifier(db.engine)
    return InProcessNotifier()


def _psycopg_error() -> type[Exception]:
    import psycopg

    return psycopg.Error
