"""Create throughput: how many function calls per second one server process stores durably.

Starts a real ``foureyes serve`` (the command users run) on SQLite in a temporary directory and
on a fresh PostgreSQL database (``--replicas N`` starts N servers on it), and drives it with
``--connections`` concurrent keep-alive connections that POST creates back to back, with one or
both load generators, alternating run by run on the same server:

- ``wrk`` (the default; Debian's package, ``apt-get install wrk``) with ``bench/wrk/create.lua``:
  a short warm-up run, then a timed run of ``--duration`` seconds. Latency percentiles are wrk's
  own. With several replicas, one wrk process per replica shares the connections, and the
  percentiles shown are the worst replica's.
- ``httpx``: asyncio clients in this process, ``--warmup`` untimed creates then ``--creates``
  timed ones. Their CPU competes with the server's for the machine's cores.

Every create is acknowledged only after it is committed durably (SQLite synchronous=FULL,
PostgreSQL synchronous_commit on). After each run the benchmark reads the database: every
acknowledged call id must be stored, and nothing beyond what was sent (wrk stops with requests in
flight, which the server may still commit). Prints creates per second, latency, and the CPU
milliseconds per create of the server processes, of the PostgreSQL backends connected to the
bench's database, and of the load generator, per run and the median of the runs. ``--profile
DIR`` adds two uncounted wrk runs per backend with py-spy sampling the server.

    .venv/bin/python bench/throughput.py [--driver wrk|httpx|httpx,wrk] [--runs 3]
        [--connections 32] [--duration 10] [--threads 2] [--creates 5000]
        [--database sqlite,postgresql] [--postgres-url URL] [--replicas 1] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.integration.conftest import LiveServer

DEFAULT_POSTGRES_URL = "postgresql+psycopg://root@127.0.0.1:5432/postgres"
WRK_SCRIPT = Path(__file__).resolve().parent / "wrk" / "create.lua"
# on PATH, or installed into the venv this runs in
PY_SPY = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))


@dataclass
class Load:
    """What one load generator run did: the call ids acknowledged with a 2xx, how many creates
    were sent (answered or not), wall seconds, latency percentiles in seconds and its CPU."""

    acked: set[str]
    sent: int
    seconds: float
    p50: float
    p99: float
    max: float
    cpu: float


@dataclass
class Result:
    backend: str
    driver: str
    load: Load
    server_cpu: float  # CPU seconds of all server processes during the timed run
    database_cpu: float  # and of PostgreSQL's backends serving them (0 on SQLite: in-process)
    stored: int  # rows the database holds for this run's call ids
    loadavg: float  # 1-minute load average as the run started

    @property
    def creates(self) -> int:
        return len(self.load.acked)

    @property
    def rate(self) -> float:
        return self.creates / self.load.seconds

    def per_create_ms(self, cpu: float) -> float:
        return cpu / self.creates * 1000


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process, all threads (Linux; 0 where /proc is missing)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rusage_cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# ---------------------------------------------------------------- the two load generators


async def httpx_agents(
    base_urls: list[str], key: str, connections: int, total: int, prefix: str
) -> tuple[float, list[float]]:
    """``total`` creates spread over ``connections`` clients, each on one keep-alive
    connection to one of the servers in turn; wall time and each latency."""
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
            base_url=base_urls[i % len(base_urls)],
            headers={"Authorization": f"Bearer {key}"},
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            timeout=60,
        )
        for i in range(connections)
    ]
    try:
        started = time.perf_counter()
        await asyncio.gather(*(agent(http) for http in http_clients))
        return time.perf_counter() - started, latencies
    finally:
        for http in http_clients:
            await http.aclose()


def httpx_load(
    servers: list[LiveServer], key: str, args: argparse.Namespace, prefix: str, timed: bool
) -> Load:
    total = args.creates if timed else args.warmup
    before = rusage_cpu(resource.RUSAGE_SELF)
    seconds, latencies = asyncio.run(
        httpx_agents([s.api_base for s in servers], key, args.connections, total, prefix)
    )
    cpu = rusage_cpu(resource.RUSAGE_SELF) - before
    return Load(
        {f"{prefix}-{n}" for n in range(total)},
        total,
        seconds,
        percentile(latencies, 50),
        percentile(latencies, 99),
        max(latencies),
        cpu,
    )


def wrk_load(servers: list[LiveServer], key: str, args: argparse.Namespace, prefix: str, timed: bool) -> Load:
    """One wrk process per server, all at once, sharing ``--connections``."""
    duration = args.duration if timed else args.warmup_seconds
    with tempfile.TemporaryDirectory(prefix="foureyes-wrk-") as tmp:
        commands = []
        for n, server in enumerate(servers):
            connections = args.connections // len(servers) + (n < args.connections % len(servers))
            env = os.environ | {
                "FOUREYES_WRK_PREFIX": f"{prefix}-{n}",
                "FOUREYES_WRK_ACKED": str(Path(tmp) / f"acked-{n}"),
            }
            command = [
                "wrk",
                f"--threads={min(args.threads, connections)}",
                f"--connections={connections}",
                f"--duration={duration}s",
                "--timeout=60s",
                f"--header=Authorization: Bearer {key}",
                f"--script={WRK_SCRIPT}",
                f"{server.api_base}/function_calls",
            ]
            commands.append((command, env))
        before = rusage_cpu(resource.RUSAGE_CHILDREN)
        procs = [subprocess.Popen(c, env=e, stdout=subprocess.PIPE, text=True) for c, e in commands]
        outputs = [p.communicate()[0] for p in procs]
        # RUSAGE_CHILDREN counts children once they were waited for, as communicate() did
        cpu = rusage_cpu(resource.RUSAGE_CHILDREN) - before
        if any(p.returncode for p in procs):
            raise RuntimeError(f"wrk failed:\n{''.join(outputs)}")
        summaries = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
        acked = set()
        for n in range(len(servers)):
            acked |= set((Path(tmp) / f"acked-{n}").read_text().split())
    for summary in summaries:
        if summary["refused"] or any(summary["errors"].values()):
            raise RuntimeError(f"wrk saw failed requests: {summary}")

    def worst(name: str) -> float:
        return float(max(s["latency_us"][name] for s in summaries)) / 1e6

    return Load(
        acked,
        # wrk builds one request in its first thread to check the script and never sends it
        sum(s["sent"] - 1 for s in summaries),
        max(s["duration_us"] for s in summaries) / 1e6,
        worst("p50"),
        worst("p99"),
        worst("max"),
        cpu,
    )


DRIVERS: dict[str, Callable[[list[LiveServer], str, argparse.Namespace, str, bool], Load]] = {
    "httpx": httpx_load,
    "wrk": wrk_load,
}


# ---------------------------------------------------------------- servers and databases


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


@contextlib.contextmanager
def running_servers(
    url: str, workdir: Path, replicas: int, server_src: str | None = None
) -> Iterator[list[LiveServer]]:
    """``replicas`` real servers on one database, sharing one secret key file; ``server_src``:
    a ``src`` directory whose ``foureyes`` the servers (and their key command) run instead."""
    servers = []
    for n in range(replicas):
        (workdir / str(n)).mkdir()
        server = LiveServer(workdir / str(n), database_url=url)
        server.env["FOUREYES_SECRET_KEY_FILE"] = str(workdir / "secret.key")
        if server_src:
            server.env["PYTHONPATH"] = server_src
        servers.append(server)
    try:
        # the first alone, so it migrates the fresh database before the others look at it
        servers[0].start()
        with ThreadPoolExecutor(max(1, replicas - 1)) as pool:
            list(pool.map(LiveServer.start, servers[1:]))
        yield servers
    finally:
        for server in servers:
            server.stop()


def stored_call_ids(url: str, prefix: str) -> set[str]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT call_id FROM items WHERE call_id LIKE :p"), {"p": f"{prefix}-%"})
            return {row[0] for row in rows}
    finally:
        engine.dispose()


def database_backends(url: str) -> list[int]:
    """The PostgreSQL backend processes connected to the bench's database, this query's own
    excepted (the servers' pools keep theirs open across a run once warmed up)."""
    if not url.startswith("postgresql"):
        return []
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            rows = conn.execute(text(query + " AND pid <> pg_backend_pid()"))
            return [row[0] for row in rows]
    finally:
        engine.dispose()


def bench(backend: str, url: str, workdir: Path, args: argparse.Namespace) -> list[Result]:
    replicas = args.replicas if backend == "postgresql" else 1
    with running_servers(url, workdir, replicas, args.server_src) as servers:
        key = servers[0].create_key("agent")
        results = []
        for run in range(args.runs):
            for driver in args.drivers:
                drive = DRIVERS[driver]
                drive(servers, key, args, f"warmup-{driver}-{run}", False)
                loadavg = os.getloadavg()[0]
                pids = [s.proc.pid for s in servers if s.proc is not None]
                backends = database_backends(url)
                server_before = sum(process_cpu(pid) for pid in pids)
                database_before = {pid: process_cpu(pid) for pid in backends}
                prefix = f"{driver}-{run}"
                load = drive(servers, key, args, prefix, True)
                server_cpu = sum(process_cpu(pid) for pid in pids) - server_before
                # a backend that ended during the run reads 0 and is left out
                database_cpu = sum(max(0.0, process_cpu(pid) - cpu) for pid, cpu in database_before.items())
                stored = stored_call_ids(url, prefix)
                lost = load.acked - stored
                if lost or len(stored) > load.sent:
                    raise RuntimeError(
                        f"{backend} {driver} run {run + 1}: {len(load.acked)} acknowledged, "
                        f"{len(stored)} stored, {load.sent} sent; acknowledged but not stored: "
                        f"{sorted(lost)[:10]}"
                    )
                result = Result(backend, driver, load, server_cpu, database_cpu, len(stored), loadavg)
                print(
                    f"  {backend} {driver} run {run + 1}: {result.rate:,.0f} creates/s, "
                    f"p50 {load.p50 * 1000:.1f} ms, server {result.per_create_ms(server_cpu):.2f} ms CPU "
                    f"per create, load average {loadavg:.1f}",
                    file=sys.stderr,
                )
                results.append(result)
        if args.profile:
            profile(servers, key, args, args.profile, backend)
        return results


def profile(
    servers: list[LiveServer], key: str, args: argparse.Namespace, directory: Path, backend: str
) -> None:
    """Two more wrk runs, not counted, with py-spy sampling the first server into collapsed
    stacks: every thread that is not idle, then only the thread holding the GIL."""
    assert servers[0].proc is not None
    directory.mkdir(parents=True, exist_ok=True)
    for name, only_gil in (("busy", False), ("gil", True)):
        output = directory / f"{backend}-{name}.txt"
        sampler = subprocess.Popen(
            [
                str(PY_SPY),
                "record",
                "--nonblocking",
                "--format=raw",
                *(["--gil"] if only_gil else []),
                f"--duration={args.duration}",
                f"--pid={servers[0].proc.pid}",
                f"--output={output}",
            ],
            stdout=subprocess.DEVNULL,
        )
        wrk_load(servers, key, args, f"profile-{name}", True)
        sampler.wait()
        print(f"  py-spy samples of one wrk run: {output}", file=sys.stderr)
        print_profile(output)


def print_profile(collapsed: Path, top: int = 30) -> None:
    """The functions in most samples (anywhere on the stack) and the leaves most sampled."""
    inclusive: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        # "function (file:line)" -> "function (file)", so a function counts once per stack
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
        total += int(samples)
        for frame in set(frames):
            inclusive[frame] += int(samples)
        leaves[frames[-1]] += int(samples)
    print(f"\n{collapsed.stem}: {total} samples\n")
    for title, counts in (("in the stack", inclusive), ("leaf", leaves)):
        print(f"| % of samples, {title} | function |\n|---|---|")
        for frame, count in counts.most_common(top):
            print(f"| {100 * count / total:.1f} | `{frame}` |")
        print()


# ---------------------------------------------------------------- the table


def print_table(results: list[Result], args: argparse.Namespace) -> None:
    print(
        f"\ncreate throughput: {args.connections} keep-alive connections; wrk {args.duration} s per "
        f"run with {args.threads} threads, httpx {args.creates} creates per run; "
        f"{args.replicas} server process(es) on PostgreSQL, one on SQLite; {os.cpu_count()} CPUs, "
        f"{platform.machine()}, Python {platform.python_version()}\n"
    )
    print(
        "| backend | driver | run | load avg | creates/s | p50 ms | p99 ms | max ms "
        "| server CPU ms | PostgreSQL CPU ms | driver CPU ms | stored - acked (unanswered) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")

    def row(r: Result, run: str) -> str:
        return (
            f"| {r.backend} | {r.driver} | {run} | {r.loadavg:.1f} | {r.rate:,.0f} | {r.load.p50 * 1000:.1f} "
            f"| {r.load.p99 * 1000:.1f} | {r.load.max * 1000:.1f} | {r.per_create_ms(r.server_cpu):.2f} "
            f"| {r.per_create_ms(r.database_cpu):.2f} "
            f"| {r.per_create_ms(r.load.cpu):.2f} | {r.stored - r.creates} ({r.load.sent - r.creates}) |"
        )

    groups: dict[tuple[str, str], list[Result]] = {}
    for r in results:
        groups.setdefault((r.backend, r.driver), []).append(r)
    for (backend, driver), runs in groups.items():
        for n, r in enumerate(runs, 1):
            print(row(r, str(n)))

        def median(value: Callable[[Result], float], digits: int = 1, runs: list[Result] = runs) -> str:
            return f"**{statistics.median(value(r) for r in runs):,.{digits}f}**"

        print(
            f"| **{backend}** | **{driver}** | **median** | {median(lambda r: r.loadavg)} "
            f"| {median(lambda r: r.rate, 0)} | {median(lambda r: r.load.p50 * 1000)} "
            f"| {median(lambda r: r.load.p99 * 1000)} | {median(lambda r: r.load.max * 1000)} "
            f"| {median(lambda r: r.per_create_ms(r.server_cpu), 2)} "
            f"| {median(lambda r: r.per_create_ms(r.database_cpu), 2)} "
            f"| {median(lambda r: r.per_create_ms(r.load.cpu), 2)} | |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--driver", default="wrk", help="wrk, httpx, or both comma-separated (alternated)")
    parser.add_argument("--runs", type=int, default=3, help="runs per backend and driver")
    parser.add_argument(
        "--connections", "--clients", type=int, default=32, help="concurrent keep-alive connections"
    )
    parser.add_argument("--duration", type=int, default=10, help="wrk: whole seconds per timed run")
    parser.add_argument("--warmup-seconds", type=int, default=2, help="wrk: untimed seconds before each run")
    parser.add_argument("--threads", type=int, default=2, help="wrk: threads per wrk process")
    parser.add_argument("--creates", type=int, default=5000, help="httpx: timed creates per run")
    parser.add_argument("--warmup", type=int, default=500, help="httpx: untimed creates before each run")
    parser.add_argument("--database", default="sqlite,postgresql", help="comma-separated backends")
    parser.add_argument(
        "--postgres-url", default=os.environ.get("FOUREYES_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    )
    parser.add_argument("--replicas", type=int, default=1, help="server processes on the PostgreSQL database")
    parser.add_argument(
        "--server-src",
        help="run the servers from this src directory (e.g. `git archive COMMIT src | tar -x -C DIR`, "
        "then DIR/src), to compare another commit's server in the same hour",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="after the runs, one more wrk run with py-spy (pip install py-spy) sampling the server "
        "into DIR/BACKEND-busy.txt and, the GIL's holder only, DIR/BACKEND-gil.txt (collapsed stacks)",
        metavar="DIR",
    )
    args = parser.parse_args()
    args.drivers = [d.strip() for d in args.driver.split(",") if d.strip()]
    if unknown := set(args.drivers) - DRIVERS.keys():
        parser.error(f"unknown driver(s) {', '.join(sorted(unknown))}")
    if "wrk" in args.drivers and shutil.which("wrk") is None:
        parser.error("wrk is not installed (Debian: apt-get install wrk), or use --driver httpx")
    if args.profile and PY_SPY is None:
        parser.error("--profile needs py-spy (pip install py-spy)")

    backends = [b.strip() for b in args.database.split(",") if b.strip()]
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="foureyes-bench-") as tmp:
        for backend in backends:
            workdir = Path(tmp) / backend
            workdir.mkdir()
            print(f"benchmarking {backend} ...", file=sys.stderr)
            if backend == "sqlite":
                results += bench(backend, f"sqlite:///{workdir / 'foureyes.db'}", workdir, args)
            elif backend == "postgresql":
                with postgres_database(args.postgres_url) as url:
                    results += bench(backend, url, workdir, args)
            else:
                parser.error(f"unknown backend {backend!r}")
    print_table(results, args)


if __name__ == "__main__":
    main()
