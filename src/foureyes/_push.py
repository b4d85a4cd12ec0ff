"""One WebSocket per client that many concurrent waits share: the SDK side of ``/ws``.

``PushChannel.watch(kind, call_id, seconds)`` is how a driver performs the core's ``Watch``
step. It is written once, for asyncio: ``AsyncHumanLayer`` runs a channel on the caller's event
loop, and ``HumanLayer`` runs one on a background event-loop thread (``_background``) and blocks
on it, so both clients share this code as they share ``_core``.

The channel connects on the first watch, subscribes every watched item (batched into one frame
per event-loop turn), hands each completed item to its waiters and, when the connection drops,
reconnects with backoff and subscribes again. The server answers a subscribe with the item's
current state, so a decision made while the connection was down arrives after the reconnect.

The channel reports itself *unavailable* (and every wait goes on by long-poll) when the server
answers the upgrade with an HTTP status (404 from an old server or the official wire, 403, ...),
is not a WebSocket server, closes with 4401/4403/4429, or cannot be reached ``GIVE_UP_AFTER``
times in a row before it ever connected; it tries again ``RETRY_UNAVAILABLE_AFTER`` seconds
later. A channel that did connect once keeps reconnecting through a server restart.

The channel stays within the server's limits, which the ``ready`` frame announces (or, from a
server that does not, the defaults below): at most ``subscriptions_per_connection`` items are
watched at once, the waits beyond them go on by long-poll, and no frame names more than
``ids_per_frame`` ids. When the server refuses a subscribe anyway (``too_many_subscriptions``:
the key's other connections hold the rest of its allowance), the waits of that frame go on by
long-poll, and the server's message is logged as a warning and becomes their ``PushUnavailable``
reason.

The channel never interprets a decision: it only checks that an item is no longer pending (the
wire rule: ``status.approved`` / ``status.response`` not null) and passes the raw JSON on; the
core parses it and decides what it means.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from foureyes._backoff import Backoff
from foureyes._core import Pushed, PushOutcome, PushQuiet, PushUnavailable
from foureyes._protocol import (
    MAX_IDS_PER_FRAME,
    MAX_SUBSCRIPTIONS_PER_CONNECTION,
    ErrorFrame,
    ItemFrame,
    ItemKind,
    Ping,
    Pong,
    Ready,
    Subscribe,
    Subscribed,
    Unsubscribe,
    frame_text,
    parse_server_frame,
)

logger = logging.getLogger(__name__)

Key = tuple[str, str]  # (kind, call_id)

GIVE_UP_AFTER = 3
RETRY_UNAVAILABLE_AFTER = 60.0
IDLE_CLOSE = 15.0  # a connection with nothing to watch is closed after this long
REFUSING_CLOSE_CODES = frozenset({4401, 4403, 4429})
RECONNECT = Backoff(base=0.25, cap=10.0)
COMPLETED_TTL = 60.0


def websocket_url(api_base_url: str) -> str:
    """``http(s)://host/humanlayer/v1`` -> ``ws(s)://host/humanlayer/v1/ws``."""
    base = api_base_url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base.removeprefix("https://") + "/ws"
    return "ws://" + base.removeprefix("http://") + "/ws"


def _limit(limits: dict[str, Any], name: str, default: int) -> int:
    """One limit from a ``ready`` frame; ``default`` (the server's, from ``_protocol``) from a
    server that does not announce it."""
    value = limits.get(name)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return default


def _is_completed(kind: str, item: Any) -> bool:
    status = item.get("status") if isinstance(item, dict) else None
    if not isinstance(status, dict):
        return False
    return status.get("approved" if kind == ItemKind.FUNCTION_CALL else "response") is not None


class _UnavailableError(Exception):
    pass


class PushChannel:
    def __init__(self, url: str, api_key: str, *, user_agent: str, open_timeout: float = 10.0) -> None:
        self.url = url
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._user_agent = user_agent
        self._open_timeout = open_timeout
        self._waiters: dict[Key, set[asyncio.Future[PushOutcome]]] = {}
        self._completed: dict[Key, tuple[float, bytes]] = {}  # pushed while nobody was waiting
        self._server_has: set[Key] = set()
        self._ids_per_frame = MAX_IDS_PER_FRAME
        self._max_watched = MAX_SUBSCRIPTIONS_PER_CONNECTION
        self._in_flight: dict[int, list[Key]] = {}  # subscribe frame id -> its keys, until answered
        self._frame_ids = 0
        self._refused: str | None = None  # the error frame before a close that refuses us
        self._dirty: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._unavailable: tuple[float, str] | None = None  # (until, why)
        self.connections = 0  # opened so far, for tests and benchmarks

    @property
    def watching(self) -> int:
        """How many items this channel has asked the server to push (for tests and benchmarks)."""
        return len(self._server_has)

    # ---------------------------------------------------------------- the driver's side

    async def watch(self, kind: str, call_id: str, seconds: float) -> PushOutcome:
        if self._unavailable is not None:
            until, why = self._unavailable
            if time.monotonic() < until:
                return PushUnavailable(why)
            self._unavailable = None
        key = (kind, call_id)
        early = self._completed.pop(key, None)
        if early is not None:
            return Pushed(early[1])
        future: asyncio.Future[PushOutcome] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(key, set()).add(future)
        self._changed()
        try:
            async with asyncio.timeout(seconds):
                return await future
        except TimeoutError:
            return PushQuiet()
        finally:
            waiting = self._waiters.get(key)
            if waiting is not None:
                waiting.discard(future)
                if not waiting:
                    del self._waiters[key]
                    self._changed()

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._resolve_all(PushUnavailable("the client was closed"))

    # ---------------------------------------------------------------- bookkeeping

    def _changed(self) -> None:
        if self._dirty is None:
            self._dirty = asyncio.Event()
        self._dirty.set()
        if self._waiters and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._run())

    def _resolve(self, key: Key, outcome: PushOutcome) -> bool:
        futures = self._waiters.pop(key, set())
        for future in futures:
            if not future.done():
                future.set_result(outcome)
        return bool(futures)

    def _resolve_all(self, outcome: PushOutcome) -> None:
        for key in list(self._waiters):
            self._resolve(key, outcome)

    def _keep_completed(self, key: Key, content: bytes) -> None:
        now = time.monotonic()
        for stale in [k for k, (at, _) in self._completed.items() if now - at > COMPLETED_TTL]:
            del self._completed[stale]
        self._completed[key] = (now, content)

    # ---------------------------------------------------------------- the connection

    async def _run(self) -> None:
        failures = 0
        connected_once = False
        while self._waiters:
            try:
                async with connect(
                    self.url,
                    additional_headers=self._headers,
                    user_agent_header=self._user_agent,
                    open_timeout=self._open_timeout,
                    compression=None,
                    max_size=16 * 1024 * 1024,
                ) as ws:
                    await self._expect_ready(ws)
                    self.connections += 1
                    connected_once = True
                    failures = 0
                    logger.info("push channel connected to %s", self.url)
                    await self._serve(ws)
                    if not self._waiters:
                        return
                problem = "the server closed the connection"
            except (InvalidStatus, InvalidURI, _UnavailableError) as exc:
                self._give_up(str(exc))
                return
            except ConnectionClosed as exc:
                if exc.rcvd is not None and exc.rcvd.code in REFUSING_CLOSE_CODES:
                    why = f"the server closed the WebSocket: {exc.rcvd.code} {exc.rcvd.reason}"
                    if self._refused:
                        why += f" ({self._refused})"
                    self._give_up(why)
                    return
                problem = str(exc)
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                if isinstance(exc, InvalidHandshake) and not connected_once:
                    self._give_up(f"not a WebSocket endpoint: {exc}")
                    return
                problem = f"{type(exc).__name__}: {exc}"
            # Dropped, refused or timed out: back off, reconnect, resubscribe everything.
            failures += 1
            if not connected_once and failures >= GIVE_UP_AFTER:
                self._give_up(f"could not connect: {problem}")
                return
            delay = RECONNECT.delay(failures)
            logger.info("push channel to %s: %s; reconnecting in %.2f s", self.url, problem, delay)
            await asyncio.sleep(delay)

    def _give_up(self, why: str) -> None:
        logger.info("push channel to %s unavailable (%s); waits use long-poll", self.url, why)
        self._unavailable = (time.monotonic() + RETRY_UNAVAILABLE_AFTER, why)
        self._resolve_all(PushUnavailable(why))

    async def _expect_ready(self, ws: ClientConnection) -> None:
        self._refused = None
        async with asyncio.timeout(self._open_timeout):
            text = await ws.recv()
        frame = parse_server_frame(text)
        if isinstance(frame, ErrorFrame):
            self._refused = f"{frame.code}: {frame.message}"
            logger.warning("push channel to %s refused: %s", self.url, self._refused)
            await ws.recv()  # the close that follows: raises ConnectionClosed
        if not isinstance(frame, Ready):
            raise _UnavailableError(f"unexpected first frame {str(text)[:100]!r}")
        self._ids_per_frame = _limit(frame.limits, "ids_per_frame", MAX_IDS_PER_FRAME)
        self._max_watched = _limit(
            frame.limits, "subscriptions_per_connection", MAX_SUBSCRIPTIONS_PER_CONNECTION
        )

    async def _serve(self, ws: ClientConnection) -> None:
        """Read and subscribe until the connection drops, or until idle for IDLE_CLOSE."""
        self._server_has = set()
        self._in_flight = {}
        reader = asyncio.create_task(self._read(ws))
        try:
            while True:
                assert self._dirty is not None
                self._dirty.clear()
                await self._sync_subscriptions(ws)
                if reader.done():
                    reader.result()  # raises ConnectionClosed
                    return
                dirty = asyncio.create_task(self._dirty.wait())
                idle = None if self._waiters else IDLE_CLOSE
                try:
                    finished, _ = await asyncio.wait(
                        {reader, dirty}, timeout=idle, return_when="FIRST_COMPLETED"
                    )
                finally:
                    dirty.cancel()
                if reader in finished:
                    reader.result()
                    return
                if not finished and not self._waiters:
                    return  # idle: the caller closes the connection
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await reader

    async def _sync_subscriptions(self, ws: ClientConnection) -> None:
        wanted = set(self._waiters)
        gone = self._server_has - wanted
        kept = self._server_has & wanted
        new = sorted(wanted - self._server_has)
        room = max(0, self._max_watched - len(kept))
        new, over = new[:room], new[room:]
        for key in over:  # beyond what the server lets one connection watch
            self._resolve(
                key,
                PushUnavailable(
                    f"the server lets one connection watch at most {self._max_watched} items at once"
                ),
            )
        # Updated before sending: the reader may drop a completed item meanwhile.
        self._server_has = kept | set(new)
        for frame_type, keys in ((Unsubscribe, sorted(gone)), (Subscribe, new)):
            for start in range(0, len(keys), self._ids_per_frame):
                chunk = keys[start : start + self._ids_per_frame]
                frame_id = None
                if frame_type is Subscribe:
                    self._frame_ids += 1
                    frame_id = self._frame_ids
                    self._in_flight[frame_id] = chunk
                # Built unvalidated: the ids are the waits' own and a chunk is within the limit.
                frame = frame_type.model_construct(
                    id=frame_id,
                    function_calls=[c for k, c in chunk if k == ItemKind.FUNCTION_CALL],
                    human_contacts=[c for k, c in chunk if k == ItemKind.HUMAN_CONTACT],
                    runs=[],
                )
                await ws.send(frame_text(frame))

    async def _read(self, ws: ClientConnection) -> None:
        async for message in ws:
            frame = parse_server_frame(message)
            if isinstance(frame, ItemFrame):
                self._on_item(frame)
            elif isinstance(frame, Ping):
                await ws.send(frame_text(Pong()))
            elif isinstance(frame, Subscribed):
                self._in_flight.pop(frame.id, None)  # type: ignore[arg-type]
            elif isinstance(frame, ErrorFrame):
                self._on_error(frame)

    def _on_error(self, frame: ErrorFrame) -> None:
        extra = frame.model_extra or {}
        if frame.code == "not_found":
            key = (str(extra.get("kind")), str(extra.get("call_id")))
            self._server_has.discard(key)
            self._resolve(key, PushUnavailable(frame.message or "not found"))
        elif frame.code == "too_many_subscriptions":
            self._on_refused(frame)
        else:
            logger.warning("push channel: the server reported %s", frame_text(frame))

    def _on_refused(self, frame: ErrorFrame) -> None:
        """The server watches nothing of that subscribe frame: its waits go on by long-poll."""
        keys = self._in_flight.pop((frame.model_extra or {}).get("id"), [])  # type: ignore[arg-type]
        why = f"the server refused the subscription: {frame.message}"
        logger.warning("push channel to %s: %s; %d wait(s) go on by long-poll", self.url, why, len(keys))
        for key in keys:
            self._server_has.discard(key)
            self._resolve(key, PushUnavailable(why))

    def _on_item(self, frame: ItemFrame) -> None:
        kind, item = frame.kind, frame.item
        if not _is_completed(kind, item):
            return  # a pending current state: keep waiting
        key = (kind, str(item.get("call_id")))
        self._server_has.discard(key)  # the server stops watching a completed item
        content = json.dumps(item).encode()
        if not self._resolve(key, Pushed(content)):
            self._keep_completed(key, content)
