"""The database backends the suite runs on: ``--database=sqlite|postgresql|both`` (default both).

A test that asks for ``database_url`` (directly or through a fixture) runs once per selected
backend, on a database of its own: a fresh SQLite file, or a fresh PostgreSQL database copied
from a template migrated once per session, dropped after the test. ``--postgres-url`` (or env
``FOUREYES_TEST_POSTGRES_URL``) names the PostgreSQL server, reached as a superuser; the default
is the local one these machines run. When PostgreSQL is wanted but unreachable the run stops with
a message saying so: the suite is never silently reduced to SQLite.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from foureyes.storage import Database

BACKENDS = ("sqlite", "postgresql")
DEFAULT_POSTGRES_URL = "postgresql+psycopg://root@127.0.0.1:5432/postgres"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("foureyes")
    group.addoption(
        "--database",
        choices=(*BACKENDS, "both"),
        default=os.environ.get("FOUREYES_TEST_DATABASE") or "both",
        help="backend(s) for the storage, service, API and webhook tests (default: both)",
    )
    group.addoption(
        "--postgres-url",
        default=os.environ.get("FOUREYES_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL,
        help="a superuser URL of the PostgreSQL server to create test databases on",
    )


def selected_backends(config: pytest.Config) -> tuple[str, ...]:
    chosen = str(config.getoption("--database"))
    return BACKENDS if chosen == "both" else (chosen,)


class PostgresServer:
    """Creates and drops uniquely named databases on one PostgreSQL server."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self._admin = create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.prefix = f"foureyes_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self._count = 0
        self.template: str | None = None

    def check(self) -> None:
        with self._admin.connect() as conn:
            conn.execute(text("SELECT 1"))

    def url_of(self, name: str) -> URL:
        return self.url.set(database=name)

    def create(self, template: str | None = None) -> str:
        self._count += 1
        name = f"{self.prefix}_{self._count}"
        clause = f" TEMPLATE {template}" if template else ""
        with self._admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
        return name

    def drop(self, name: str) -> None:
        with self._admin.connect() as conn:
            # FORCE: a test that failed half-way may have left connections open.
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def migrated_database(self) -> str:
        """A new database at the newest migration, copied from a template made on first use."""
        if self.template is None:
            template = self.create()
            storage = Database.from_url(self.url_of(template).render_as_string(hide_password=False))
            try:
                storage.migrate()
            finally:
                storage.close()  # a template must have no connections while it is copied
            self.template = template
        return self.create(self.template)

    def close(self) -> None:
        if self.template is not None:
            self.drop(self.template)
        self._admin.dispose()


def _needs_postgres(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    fixtures = getattr(item, "fixturenames", ())
    if callspec is not None and callspec.params.get("database_backend") == "postgresql":
        return True
    return "postgres_database_url" in fixtures


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Stop before the first test, with a clear message, when PostgreSQL is wanted but down."""
    if "postgresql" not in selected_backends(config) or not any(map(_needs_postgres, items)):
        return
    server = PostgresServer(str(config.getoption("--postgres-url")))
    try:
        server.check()
    except OperationalError as exc:
        pytest.exit(
            f"PostgreSQL is not reachable at {server.url.render_as_string()}: {exc.orig}\n"
            "The suite runs on SQLite and PostgreSQL. Start PostgreSQL (as .ci/run does: "
            "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`), "
            "point --postgres-url at another server, or run with --database=sqlite.",
            returncode=3,
        )
    finally:
        server.close()


@pytest.fixture(scope="session")
def postgres_server(pytestconfig: pytest.Config) -> Iterator[PostgresServer]:
    server = PostgresServer(str(pytestconfig.getoption("--postgres-url")))
    try:
        yield server
    finally:
        server.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database_backend" in metafunc.fixturenames:
        metafunc.parametrize("database_backend", selected_backends(metafunc.config), indirect=True)


@pytest.fixture
def database_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextmanager
def _postgres_database(request: pytest.FixtureRequest, *, migrated: bool) -> Iterator[str]:
    """A fresh PostgreSQL database (a copy of the migrated template, or empty), dropped after."""
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = server.migrated_database() if migrated else server.create()
    try:
        yield server.url_of(name).render_as_string(hide_password=False)
    finally:
        server.drop(name)


@pytest.fixture
def database_url(database_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database for this test: empty SQLite, or PostgreSQL already migrated."""
    if database_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'foureyes.db'}"
        return
    with _postgres_database(request, migrated=True) as url:
        yield url


@pytest.fixture
def empty_database_url(
    database_backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A fresh database with no tables at all, for tests of the migrations themselves."""
    if database_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with _postgres_database(request, migrated=False) as url:
        yield url


@pytest.fixture
def postgres_database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh migrated PostgreSQL database, for tests of PostgreSQL-only behaviour (several
    replicas, LISTEN/NOTIFY); skipped when the run is limited to SQLite."""
    if "postgresql" not in selected_backends(request.config):
        pytest.skip("PostgreSQL is not selected (--database)")
    with _postgres_database(request, migrated=True) as url:
        yield url
