"""A real foureyes server in a subprocess, on a free port, with its own SQLite database (or a
given database URL).

The server is started with the same command a user runs (`foureyes serve`), so these tests cover
the CLI, the app factory, migrations and uvicorn together, and can SIGKILL and restart it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from foureyes.server.service import Service, open_service
from foureyes.server.settings import Settings

from ..fast_hashing import FAST_HASHING_ENV

# How long a server may take to answer /healthz after its start: a bound, not a measurement;
# generous, because a loaded 2-core machine takes seconds just to import it.
START_TIMEOUT_SECONDS = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    def __init__(self, workdir: Path, database_url: str | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        # SQLite in the work directory unless told otherwise (several replicas share PostgreSQL).
        self.database_url = database_url or f"sqlite:///{workdir / 'foureyes.db'}"
        self.log = workdir / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("FOUREYES_", "HUMANLAYER_"))}
        self.env["FOUREYES_DATABASE_URL"] = self.database_url
        self.env.update(FAST_HASHING_ENV)
        self.env["COLUMNS"] = "250"  # so Rich tables do not fold the text the tests look for

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.url}/humanlayer/v1"

    def foureyes(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "foureyes", *args],
            env=self.env,
            cwd=self.workdir,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def create_key(self, scopes: str = "agent", project: str = "default") -> str:
        done = self.foureyes("keys", "create", "--project", project, "--scopes", scopes)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().splitlines()[-1]

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "foureyes",
                    "serve",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "warning",
                ],
                env=self.env,
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited at start:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not start in {START_TIMEOUT_SECONDS} s:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flushing; only what was committed survives."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------- replicas on one PostgreSQL database


@pytest.fixture
def replica_env() -> dict[str, str]:
    """Settings both replicas get beyond the database and the key file; a module overrides it."""
    return {}


@pytest.fixture
def replicas(
    postgres_database_url: str, tmp_path: Path, replica_env: dict[str, str]
) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two real `foureyes serve` processes on one PostgreSQL database, as two replicas behind a
    load balancer would run, sharing one secret key file, as the docs require."""
    servers = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        server = LiveServer(tmp_path / name, database_url=postgres_database_url)
        server.env |= {"FOUREYES_SECRET_KEY_FILE": str(tmp_path / "secret.key"), **replica_env}
        servers.append(server)
    a, b = servers
    # Both at once, as a deployment would: the migration lock lets one migrate, the other wait.
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(LiveServer.start, servers))
        yield a, b
    finally:
        a.stop()
        b.stop()


@pytest.fixture
def replica_service(postgres_database_url: str, replicas: tuple[LiveServer, LiveServer]) -> Iterator[Service]:
    """The test's own view of the replicas' database, with their key file (it publishes nothing
    the test relies on, and never listens)."""
    key_file = replicas[0].env["FOUREYES_SECRET_KEY_FILE"]
    opened = open_service(Settings(database_url=postgres_database_url, secret_key_file=key_file))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# ---------------------------------------------------------------- browser tests (Playwright)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One live server for a module of browser tests (each test uses its own project)."""
    from .inbox_browser import Site

    server = LiveServer(tmp_path_factory.mktemp("inbox"))
    server.start()
    found = Site(server)
    try:
        yield found
    finally:
        found.close()
        server.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    from .inbox_browser import CHROMIUM_ARGS, HANG_GUARD_MS, chromium_path

    expect.set_options(timeout=HANG_GUARD_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    from .inbox_browser import HANG_GUARD_MS

    context = chromium.new_context(viewport={"width": 1100, "height": 800})
    context.set_default_timeout(HANG_GUARD_MS)
    found = context.new_page()
    try:
        yield found
    finally:
        context.close()
