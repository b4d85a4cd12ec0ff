"""Create throughput: how many function calls per second one server process stores durably.

Starts a real ``foureyes serve`` (the command users run) on SQLite in a temporary directory and
on a fresh PostgreSQL database, and against each runs ``--clients`` concurrent agents, each
with its own keep-alive httpx connection, that POST creates back to back: ``--warmup`` creates
first (not counted), then ``--creates`` timed ones. Every create is acknowledged only after it
is committed durably (SQLite synchronous=FULL, PostgreSQL synchronous_commit on). Prints
requests per second and per-request latency, per run and the median of the runs.

    .venv/bin/python bench/throughput.py [--creates 5000] [--clients 32] [--runs 3]
                                         [--database sqlite,postgresql] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.integration.conftest import LiveServer

DEFAULT_POSTGRES_URL = "postgresql+psycopg://root@127.0.0.1:5432/postgres"


@dataclass
class Result:
    backend: str
    creates: int
    seconds: float
    latencies: list[float]
    # CPU seconds spent in the timed part by the server process and by this (client) process
    server_cpu: float
    client_cpu: float

    @property
    def rate(self) -> float:
        return self.creates / self.seconds


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process, all threads (Linux; 0 where /proc is missing)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def load(
    server: LiveServer, key: str, clients: int, total: int, prefix: str
) -> tuple[float, list[float]]:
    """``total`` creates spread over ``clients`` connections; wall time and each latency."""
    latencies: list[float] = []
    counter = iter(range(total))

    async def agent(http: httpx.AsyncClient) -> None:
        for n in counter:
            body = {
                "run_id": "bench",
                "call_id": f"{prefix}-{n}",
                "spec": {"fn": "send_email", "kwargs": {"to": "customer@example.com", "n": n}},
            }
            started = time.perf_counter()
            response = await http.post("/function_calls", json=body)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"create failed: {response.status_code} {response.text}")

    http_clients = [
        httpx.AsyncClient(
            base_url=server.api_base,
            headers={"Authorization": f"Bearer {key}"},
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            timeout=60,
        )
        for _ in range(clients)
    ]
    try:
        started = time.perf_counter()
        await asyncio.gather(*(agent(http) for http in http_clients))
        return time.perf_counter() - started, latencies
    finally:
        for http in http_clients:
            await http.aclose()


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    admin = create_engine(make_url(admin_url), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"foureyes_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def bench(backend: str, url: str, workdir: Path, args: argparse.Namespace) -> list[Result]:
    server = LiveServer(workdir, database_url=url)
    server.start()
    try:
        key = server.create_key("agent")
        results = []
        for run in range(args.runs):
            asyncio.run(load(server, key, args.clients, args.warmup, f"warmup-{run}"))
            assert server.proc is not None
            server_before, client_before = process_cpu(server.proc.pid), own_cpu()
            seconds, latencies = asyncio.run(load(server, key, args.clients, args.creates, f"run-{run}"))
            result = Result(
                backend,
                args.creates,
                seconds,
                latencies,
                process_cpu(server.proc.pid) - server_before,
                own_cpu() - client_before,
            )
            print(
                f"  {backend} run {run + 1}: {result.rate:,.0f} creates/s, "
                f"p50 {percentile(latencies, 50) * 1000:.1f} ms",
                file=sys.stderr,
            )
            results.append(result)
        return results
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--creates", type=int, default=5000, help="timed creates per run")
    parser.add_argument("--warmup", type=int, default=500, help="untimed creates before each run")
    parser.add_argument("--clients", type=int, default=32, help="concurrent keep-alive clients")
    parser.add_argument(
        "--runs", type=int, default=3, help="runs per backend; the table shows each and the median"
    )
    parser.add_argument("--database", default="sqlite,postgresql", help="comma-separated backends")
    parser.add_argument(
        "--postgres-url", default=os.environ.get("FOUREYES_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    )
    args = parser.parse_args()

    backends = [b.strip() for b in args.database.split(",") if b.strip()]
    results: dict[str, list[Result]] = {}
    with tempfile.TemporaryDirectory(prefix="foureyes-bench-") as tmp:
        for backend in backends:
            workdir = Path(tmp) / backend
            workdir.mkdir()
            print(f"benchmarking {backend} ...", file=sys.stderr)
            if backend == "sqlite":
                results[backend] = bench(backend, f"sqlite:///{workdir / 'foureyes.db'}", workdir, args)
            elif backend == "postgresql":
                with postgres_database(args.postgres_url) as url:
                    results[backend] = bench(backend, url, workdir, args)
            else:
                parser.error(f"unknown backend {backend!r}")

    print(
        f"\ncreate throughput: {args.clients} keep-alive clients, {args.creates} creates per run after "
        f"{args.warmup} warm-up, one server process; {os.cpu_count()} CPUs, "
        f"{platform.machine()}, Python {platform.python_version()}\n"
    )
    print("| backend | run | creates/s | p50 ms | p99 ms | max ms | server CPU ms | client CPU ms |")
    print("|---|---|---|---|---|---|---|---|")
    for backend, runs in results.items():
        for n, r in enumerate(runs, 1):
            print(
                f"| {backend} | {n} | {r.rate:,.0f} | {percentile(r.latencies, 50) * 1000:.1f} "
                f"| {percentile(r.latencies, 99) * 1000:.1f} | {max(r.latencies) * 1000:.1f} "
                f"| {r.server_cpu / r.creates * 1000:.2f} | {r.client_cpu / r.creates * 1000:.2f} |"
            )

        def median(values: Iterator[float], scale: float = 1000, digits: int = 1) -> str:
            return f"**{statistics.median(values) * scale:,.{digits}f}**"

        print(
            f"| **{backend}** | **median** | {median((r.rate for r in runs), 1, 0)} "
            f"| {median(percentile(r.latencies, 50) for r in runs)} "
            f"| {median(percentile(r.latencies, 99) for r in runs)} "
            f"| {median(max(r.latencies) for r in runs)} "
            f"| {median((r.server_cpu / r.creates for r in runs), digits=2)} "
            f"| {median((r.client_cpu / r.creates for r in runs), digits=2)} |"
        )


if __name__ == "__main__":
    main()
