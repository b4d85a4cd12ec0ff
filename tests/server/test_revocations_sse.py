"""A person's open inbox event stream ends as soon as their access does: removed from the project,
signed out, password reset or changed in another session. Served by a real uvicorn in a thread
(an in-process client would wait for the never-ending stream to finish), with the periodic
re-check set to an hour, so only the revocation notice can have ended a stream.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from foureyes.server.inbox.security import SESSION_COOKIE
from foureyes.server.password_change import change_password
from foureyes.server.service import Service
from foureyes.server.settings import Settings

from ..fast_hashing import FAST_HASHING
from ..integration.test_websocket_wait import HANG_GUARD, ThreadedServer
from .conftest import function_call
from .inbox_helpers import PASSWORD, make_person

EMAIL = "lee@example.com"


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[ThreadedServer]:
    settings = Settings(database_url=database_url, revocation_recheck_seconds=3600.0, **FAST_HASHING)
    served = ThreadedServer(tmp_path, settings=settings)
    served.start()
    try:
        yield served
    finally:
        served.stop()


def url(server: ThreadedServer) -> str:
    return f"http://127.0.0.1:{server.port}"


def sign_in(service: Service, *projects: str) -> str:
    """A session of a reviewer of ``projects``; its cookie."""
    for project in projects:
        make_person(service, EMAIL, project, "reviewer")
    user = service.people.store.find_user(EMAIL)
    assert user is not None
    return service.people.start_session(user).token


@contextmanager
def stream(base: str, cookie: str, project: str) -> Iterator[Iterator[list[str]]]:
    """The events of ``project``'s stream on the server at ``base``, each as its lines;
    keep-alive comments left out."""
    with (
        httpx.Client(base_url=base, cookies={SESSION_COOKIE: cookie}, timeout=HANG_GUARD) as http,
        http.stream("GET", f"/inbox/p/{project}/events") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")

        def events() -> Iterator[list[str]]:
            block: list[str] = []
            since = time.monotonic()
            for line in response.iter_lines():
                if line:
                    block.append(line)
                    continue
                if block and not block[0].startswith(":"):
                    yield block
                    since = time.monotonic()
                # Keep-alives come every 15 s, so a stream that should have ended fails here.
                assert time.monotonic() - since < HANG_GUARD, "no event within the hang-guard"
                block = []

        found = events()
        assert next(found) == ["retry: 1000"]
        yield found


REVOCATIONS: dict[str, Callable[[Service, str], object]] = {
    "removed from the project": lambda service, _: service.people.remove_user(EMAIL, "default"),
    "signed out": lambda service, cookie: service.people.sign_out(cookie),
    "password reset": lambda service, _: service.people.reset_password(EMAIL),
    "password changed in another session": lambda service, _: _change_password_elsewhere(service),
}


def _change_password_elsewhere(service: Service) -> None:
    user = service.people.store.find_user(EMAIL)
    assert user is not None
    other = service.people.start_session(user)
    change_password(
        service.people,
        service.revocations.announce,
        user_id=user.id,
        session_token=other.token,
        current=PASSWORD,
        new="a brand new password",
        address="127.0.0.1",
    )


@pytest.mark.parametrize("how", list(REVOCATIONS))
def test_the_stream_ends_when_access_does(server: ThreadedServer, how: str) -> None:
    service = server.service
    cookie = sign_in(service, "default")
    agent = service.keys.authenticate(server.key())
    with stream(url(server), cookie, "default") as events:
        service.items.create_function_call(agent.project_id, function_call("before"))
        assert next(events) == ["event: changed", "data: {}"]

        REVOCATIONS[how](service, cookie)
        assert next(events) == ["event: revoked", "data: {}"]
        # Ended: what happens in the project from now on reaches nobody.
        service.items.create_function_call(agent.project_id, function_call("after"))
        assert list(events) == []
    assert service.subscribers.open_count == 0
    assert service.revocations.closed == 1


def test_losing_one_project_ends_only_that_projects_stream(server: ThreadedServer) -> None:
    service = server.service
    cookie = sign_in(service, "default", "other")
    agent = service.keys.authenticate(server.key())
    with stream(url(server), cookie, "default") as kept, stream(url(server), cookie, "other") as lost:
        assert service.subscribers.open_count == 2
        assert service.people.remove_user(EMAIL, "other")
        assert next(lost) == ["event: revoked", "data: {}"]
        # The same re-check found the other stream still allowed. The lost one leaves the
        # registry just after its last event, which this thread may read first.
        deadline = time.monotonic() + HANG_GUARD
        while service.subscribers.open_count > 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert service.subscribers.open_count == 1
        service.items.create_function_call(agent.project_id, function_call("still-seen"))
        assert next(kept) == ["event: changed", "data: {}"]


def test_a_stream_opened_after_removal_is_refused(server: ThreadedServer) -> None:
    service = server.service
    cookie = sign_in(service, "default")
    service.people.remove_user(EMAIL, "default")
    with httpx.Client(base_url=url(server), cookies={SESSION_COOKIE: cookie}, timeout=HANG_GUARD) as http:
        assert http.get("/inbox/p/default/events").status_code == 404
