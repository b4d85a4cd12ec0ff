"""``/humanlayer/v1/ws``: push each subscribed item to the client when it completes.

A session authenticates (``Authorization`` header, else a first ``auth`` frame), then serves
``subscribe`` / ``unsubscribe`` frames. Each subscribed item is watched by one small task that
subscribes to the item's notifier topic *before* reading it, sends its current state, and
re-reads on every wake-up until it completes; a run is watched through its run topic, so an
event wakes only the watchers it concerns. The notifier only says "look again": what is sent is
always re-read from the service and rendered exactly as the REST API renders it. The session is
one subscriber of the push registry (``server.push``), which bounds what one connection and one
key may hold, closes it when its key is revoked and when the server stops. See docs/protocol.md
for the frames and close codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

import anyio
from anyio.abc import TaskGroup
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from foureyes._protocol import (
    MAX_IDS_PER_FRAME,
    Auth,
    ErrorFrame,
    ItemFrame,
    ItemKind,
    ItemState,
    Ping,
    Pong,
    Ready,
    Subscribe,
    Subscribed,
    Unsubscribe,
    frame_text,
)
from foureyes.server.api._common import in_thread
from foureyes.server.api.ws_frames import FrameError, parse_frame
from foureyes.server.auth import AGENT, Principal
from foureyes.server.domain.errors import DomainError, NotFoundError
from foureyes.server.push import (
    WEBSOCKET,
    KeyGrant,
    Registry,
    Subscriber,
    item_topic,
    run_topic,
    settled_item,
)
from foureyes.server.service import Service
from foureyes.server.settings import Settings
from foureyes.server.wire import render_item
from foureyes.storage import ItemRecord

logger = logging.getLogger(__name__)

router = APIRouter()

UNAUTHORIZED = 4401
FORBIDDEN = 4403
HEARTBEAT_TIMEOUT = 4408
TOO_MANY_CONNECTIONS = 4429
REVOKED_REASON = "this API key has been revoked"
AUTH_FRAME_TIMEOUT = 10.0
# Watchers re-read this often even without a wake-up, in case a notification was lost.
RECHECK_SECONDS = 60.0
RUN = "run"

Key = tuple[str, str]  # (kind, call_id) or (RUN, run_id)
T = TypeVar("T")


@router.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    app = websocket.app
    settings = cast(Settings, app.state.settings)
    service = cast(Service, app.state.service)
    session = Session(
        websocket, service, settings.ws_heartbeat_seconds, max_json_depth=settings.max_json_depth
    )
    await session.run()


class Session:
    def __init__(
        self,
        websocket: WebSocket,
        service: Service,
        heartbeat: float,
        *,
        max_json_depth: int = Settings.max_json_depth,
    ) -> None:
        self.ws = websocket
        self.max_json_depth = max_json_depth
        self.service = service
        self.registry: Registry = service.subscribers
        self.heartbeat = heartbeat
        self.principal: Principal | None = None
        self.subscriber: Subscriber | None = None
        self.watches: dict[Key, anyio.CancelScope] = {}
        self._send_lock = asyncio.Lock()
        self._closed = False
        self._last_heard = time.monotonic()
        self._tasks: TaskGroup | None = None

    # ---------------------------------------------------------------- life cycle

    async def run(self) -> None:
        await self.ws.accept()
        self.principal = await self._authenticate()
        if self.principal is None:
            return
        # Closed at once (4401) when the key is revoked, through whichever replica; with 1001 when
        # the server stops.
        self.subscriber = Subscriber(
            WEBSOCKET,
            KeyGrant(self.principal.key_id),
            on_revoked=self._revoked,
            on_shutdown=self.close,
            watches=lambda: len(self.watches),
        )
        refusal = self.registry.add(self.subscriber)
        if refusal is not None:
            await self._send(refusal.frame("too_many_connections"))
            await self.close(TOO_MANY_CONNECTIONS, "too many connections for this API key")
            return
        logger.info("WebSocket session opened (key %d)", self.principal.key_id)
        try:
            # Every task of the session (heartbeat, watchers) lives in this group, so leaving it
            # for any reason (disconnect, close, cancellation) stops them all.
            async with anyio.create_task_group() as self._tasks:
                self._tasks.start_soon(self._heartbeat)
                limits = {**self.registry.limits.announced(), "ids_per_frame": MAX_IDS_PER_FRAME}
                await self._send(Ready(heartbeat_seconds=self.heartbeat, limits=limits))
                await self._read()
                self._tasks.cancel_scope.cancel()
        finally:
            self.watches.clear()  # watchers cancelled before they started: counted no more
            self.registry.discard(self.subscriber)
            logger.info("WebSocket session closed (key %d)", self.principal.key_id)

    async def close(self, code: int, reason: str) -> None:
        async with self._send_lock:
            if self._closed:
                return
            self._closed = True
            with contextlib.suppress(Exception):  # the client may be gone already
                await self.ws.close(code, reason)
        if self._tasks is not None:
            self._tasks.cancel_scope.cancel()

    async def _revoked(self) -> None:
        await self.close(UNAUTHORIZED, REVOKED_REASON)

    async def _send(
        self, frame: ItemFrame | Ready | Subscribed | ErrorFrame | Ping | Pong | dict[str, Any]
    ) -> None:
        if isinstance(frame, dict):  # a refusal from ws_limits
            frame = ErrorFrame.model_validate(frame)
        text = frame_text(frame)
        async with self._send_lock:
            if self._closed:
                return
            try:
                await self.ws.send_text(text)
            except Exception:  # a send on a connection that just dropped: the reader ends the session
                self._closed = True

    async def _error(self, code: str, message: str, **extra: Any) -> None:
        await self._send(ErrorFrame.model_validate({"code": code, "message": message, **extra}))

    # ---------------------------------------------------------------- authentication

    async def _authenticate(self) -> Principal | None:
        header = self.ws.headers.get("authorization")
        token: str | None = None
        if header:
            scheme, _, value = header.strip().partition(" ")
            token = value.strip() if scheme.lower() == "bearer" else None
            if not token:
                await self.close(UNAUTHORIZED, "malformed Authorization header: expected 'Bearer <key>'")
                return None
        else:
            token = await self._auth_frame()
            if token is None:
                return None
        try:
            principal = await in_thread(self.service.keys.authenticate, token)
        except DomainError as exc:
            await self.close(UNAUTHORIZED, exc.message)
            return None
        if AGENT not in principal.scopes:
            await self.close(FORBIDDEN, "this API key lacks the 'agent' scope")
            return None
        return principal

    async def _auth_frame(self) -> str | None:
        try:
            async with asyncio.timeout(AUTH_FRAME_TIMEOUT):
                text = await self._receive_text()
        except TimeoutError:
            await self.close(UNAUTHORIZED, "no API key: send 'Authorization: Bearer <key>' or an auth frame")
            return None
        if text is None:
            return None
        try:
            frame = parse_frame(text, self.max_json_depth)
        except FrameError:
            frame = None
        if not isinstance(frame, Auth):
            await self.close(UNAUTHORIZED, "the first frame must be {'type': 'auth', 'api_key': ...}")
            return None
        return frame.api_key

    # ---------------------------------------------------------------- frames

    async def _receive_text(self) -> str | None:
        """The next frame as text; None when the client has gone."""
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return None
            self._last_heard = time.monotonic()
            if message.get("text") is not None:
                return cast(str, message["text"])
            try:
                return cast(bytes, message.get("bytes") or b"").decode("utf-8")
            except UnicodeDecodeError:
                await self._error("invalid_json", "binary frames must be UTF-8 JSON")

    async def _read(self) -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while (text := await self._receive_text()) is not None:
                try:
                    frame = parse_frame(text, self.max_json_depth)
                except FrameError as exc:
                    await self._error(exc.code, exc.message, id=exc.frame_id)
                    continue
                if isinstance(frame, Ping):
                    await self._send(Pong())
                elif isinstance(frame, Unsubscribe):
                    self._unsubscribe(frame)
                elif isinstance(frame, Subscribe):
                    # Checked again for every new subscription, not only by the revocation sweep.
                    assert self.subscriber is not None
                    if not await self.service.revocations.still_allowed(self.subscriber.grant):
                        await self._revoked()
                        return
                    await self._subscribe(frame)
                elif isinstance(frame, Auth):
                    await self._error("invalid_frame", "already authenticated")
                # a pong only proves the client is alive, which _receive_text noted

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            if time.monotonic() - self._last_heard > 2 * self.heartbeat:
                await self.close(HEARTBEAT_TIMEOUT, "no frame from the client for two heartbeats")
                return
            await self._send(Ping())

    # ---------------------------------------------------------------- subscriptions

    def _keys(self, frame: Subscribe) -> list[Key]:
        return [
            *((ItemKind.FUNCTION_CALL, call_id) for call_id in frame.function_calls),
            *((ItemKind.HUMAN_CONTACT, call_id) for call_id in frame.human_contacts),
            *((RUN, run_id) for run_id in frame.runs),
        ]

    async def _subscribe(self, frame: Subscribe) -> None:
        assert self.subscriber is not None
        keys = list(dict.fromkeys(self._keys(frame)))
        new = sum(1 for k in keys if k not in self.watches)
        refusal = self.registry.check_subscribe(self.subscriber, new)
        if refusal is not None:
            await self._send(refusal.frame("too_many_subscriptions", id=frame.id))
            return
        assert self._tasks is not None
        countdown = _Countdown(len(keys))
        for key in keys:
            # A repeated subscription starts afresh, so its current state is sent again.
            old = self.watches.pop(key, None)
            if old is not None:
                old.cancel()
            scope = anyio.CancelScope()
            self.watches[key] = scope
            self._tasks.start_soon(self._watch, key, scope, countdown)
        self._tasks.start_soon(self._acknowledge, frame.id, countdown)

    def _unsubscribe(self, frame: Unsubscribe) -> None:
        for key in self._keys(frame):
            scope = self.watches.pop(key, None)
            if scope is not None:
                scope.cancel()

    async def _watch(self, key: Key, scope: anyio.CancelScope, countdown: _Countdown) -> None:
        try:
            with scope:
                if key[0] == RUN:
                    await self._watch_run(key[1], countdown)
                else:
                    await self._watch_item(key[0], key[1], countdown)
        finally:
            countdown.done(key)
            if self.watches.get(key) is scope:
                del self.watches[key]

    async def _acknowledge(self, frame_id: str | int | None, countdown: _Countdown) -> None:
        # After every current state of this frame's subscriptions has been sent.
        await countdown.finished.wait()
        await self._send(Subscribed(id=frame_id))

    def _getter(self, kind: str) -> Callable[[int, str], ItemRecord]:
        if kind == ItemKind.FUNCTION_CALL:
            return self.service.items.get_function_call
        return self.service.items.get_human_contact

    async def _read_one(self, fn: Callable[[int, str], T], project_id: int, name: str) -> T:
        assert self.principal is not None
        async with self.registry.reads(self.principal.key_id):
            return await in_thread(fn, project_id, name)

    async def _send_item(self, item: ItemRecord) -> None:
        await self._send(ItemFrame(kind=item.kind, item=render_item(item)))

    async def _watch_item(self, kind: str, call_id: str, countdown: _Countdown) -> None:
        assert self.principal is not None
        project_id = self.principal.project_id
        getter = self._getter(kind)
        # Subscribed before the first read, so a decision committed in between still wakes us.
        async with self.service.notifier.subscribe(item_topic(project_id, kind, call_id)) as subscription:
            try:
                item = await self._read_one(getter, project_id, call_id)
            except NotFoundError as exc:  # another project's item too: exactly like a missing one
                await self._error("not_found", exc.message, kind=kind, call_id=call_id)
                return
            except Exception:
                logger.exception("WebSocket watch of %s %r failed", kind, call_id)
                await self._error("internal_error", "could not read the item", kind=kind, call_id=call_id)
                return
            await self._send_item(item)
            countdown.done((kind, call_id))
            while item.state == ItemState.PENDING:
                await subscription.wait(_recheck_after())
                # The decision committed in this process hands its item over: no read back.
                settled = settled_item(subscription, item)
                item = await self._read_one(getter, project_id, call_id) if settled is None else settled
                if item.state != ItemState.PENDING:
                    await self._send_item(item)

    async def _watch_run(self, run_id: str, countdown: _Countdown) -> None:
        assert self.principal is not None
        project_id = self.principal.project_id
        sent: dict[Key, str] = {}
        async with self.service.notifier.subscribe(run_topic(project_id, run_id)) as subscription:
            while True:
                for item in await self._read_one(self.service.items.list_run_items, project_id, run_id):
                    key = (item.kind, item.call_id)
                    if sent.get(key) != item.state:
                        sent[key] = item.state
                        await self._send_item(item)
                countdown.done((RUN, run_id))
                await subscription.wait(_recheck_after())


class _Countdown:
    """Set ``finished`` once every key of one subscribe frame has sent its current state."""

    def __init__(self, count: int) -> None:
        self._left = count
        self._seen: set[Key] = set()
        self.finished = asyncio.Event()
        if count == 0:
            self.finished.set()

    def done(self, key: Key) -> None:
        if key not in self._seen:
            self._seen.add(key)
            self._left -= 1
            if self._left == 0:
                self.finished.set()


def _recheck_after() -> float:
    # Spread out, so the watchers of one bulk subscription do not all re-read at once.
    return RECHECK_SECONDS * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not a secret
