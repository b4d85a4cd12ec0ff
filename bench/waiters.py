"""Concurrent waiters: 10,000 agents waiting at once on one server process, then a bulk decision.

Starts one real `foureyes serve` (SQLite, temporary directory) and ``--processes`` agent
processes. Each agent process is one ``AsyncHumanLayer`` running ``--waiters / --processes``
concurrent ``fetch_approval`` calls, so each holds one WebSocket (``--wait-via websocket``, the
default) carrying all its waits. When every wait is subscribed, the server's RSS is read
(/proc/PID/status); then a reviewer approves every call over the REST API and every agent process
notes when each of its waits returned. ``--decide-via bulk`` (the default) sends the bulk respond
(``POST /agent/function_calls/respond``), ``MAX_BULK_DECISIONS`` calls a request, over
``--deciders`` concurrent connections (``--bulk-size`` for fewer a request); ``--decide-via single``
sends one ``respond`` per call. Either way each decision is committed before it is answered.
``--baseline PATH`` alternates this checkout's server with another checkout's (its ``src`` first
on ``PYTHONPATH``; the agents and the reviewer are this checkout's), ``--runs`` times each, and
prints the medians; ``--profile DIR`` samples each server and its first agent process with py-spy
from the first decision sent to the last agent resumed.

Reported: the server's RSS idle and while all wait (and its peak during the decisions), the
decision rate, and the time from the first decision sent to the last agent resumed, and from
the last decision answered to the last agent resumed.

    .venv/bin/python bench/waiters.py [--waiters 10000] [--processes 2] [--deciders 4]
        [--decide-via bulk|single] [--bulk-size N] [--runs 1] [--baseline PATH] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.throughput import PY_SPY, print_profile
from tests.integration.conftest import LiveServer

from foureyes.models import MAX_BULK_DECISIONS

HANG_GUARD = 900.0
CREATES_IN_FLIGHT = 64


# ---------------------------------------------------------------- an agent process


async def agents(api_base: str, key: str, count: int, tag: str, wait_via: str) -> None:
    import foureyes

    # Creates go through a bounded keep-alive pool (not 10,000 sockets at once); the waits do not
    # use it: they share the client's one WebSocket.
    http = httpx.AsyncClient(limits=httpx.Limits(max_connections=32, max_keepalive_connections=32))
    ahl = foureyes.AsyncHumanLayer(
        api_key=key,
        api_base_url=api_base,
        run_id=f"bench-{tag}",
        http_client=http,
        http_timeout=300,
        wait_via=wait_via,  # type: ignore[arg-type]
    )
    resumed: list[float] = []

    async def agent(n: int) -> None:
        completed = await ahl.fetch_approval(foureyes.FunctionCallSpec(fn="transfer", kwargs={"n": n}))
        resumed.append(time.time())
        assert completed.as_completed().approved is True

    def subscribed() -> int:  # a counter the SDK keeps for tests and benchmarks; it has no event
        return 0 if ahl._push is None else ahl._push.watching

    # Agents start as the previous ones get going (at most CREATES_IN_FLIGHT creates at a time),
    # like agents arriving over a minute, not 10,000 POSTs queued on one connection pool at once.
    tasks = []
    for n in range(count):
        while wait_via == "websocket" and n - subscribed() >= CREATES_IN_FLIGHT:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        tasks.append(asyncio.create_task(agent(n)))
    while wait_via == "websocket" and subscribed() < count:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    print(json.dumps({"ready": True}), flush=True)
    await asyncio.gather(*tasks)
    connections = ahl._push.connections if ahl._push is not None else 0
    report = {"resumed": len(resumed), "first": min(resumed), "last": max(resumed), "ws": connections}
    print(json.dumps(report))
    await ahl.aclose()
    await http.aclose()


# ---------------------------------------------------------------- the coordinator


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0.0, True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.05)


def pending_ids(reviewer: httpx.Client, expected: int) -> list[str]:
    ids: list[str] = []
    while len(ids) < expected:
        page = reviewer.get("/agent/function_calls/pending", params={"limit": 500, "offset": len(ids)}).json()
        if not page["items"]:
            break
        ids += [item["call_id"] for item in page["items"]]
    return ids


async def decide_all(
    api_base: str, key: str, ids: list[str], deciders: int, bulk: bool, size: int
) -> tuple[float, float]:
    """Approve every call: ``size`` a bulk respond, or one single respond each."""
    headers = {"Authorization": f"Bearer {key}"}
    size = size if bulk else 1
    queue = [ids[n : n + size] for n in range(0, len(ids), size)][::-1]
    async with httpx.AsyncClient(base_url=api_base, headers=headers, timeout=120) as http:

        async def decider() -> None:
            while queue:
                batch = queue.pop()
                if bulk:
                    body = {"decisions": [{"call_id": call_id, "approved": True} for call_id in batch]}
                    answer = await http.post("/agent/function_calls/respond", json=body)
                    answer.raise_for_status()
                    assert all(r["result"] == "decided" for r in answer.json()["results"])
                else:
                    answer = await http.post(
                        f"/agent/function_calls/{batch[0]}/respond", json={"approved": True}
                    )
                    answer.raise_for_status()

        first = time.time()
        await asyncio.gather(*(decider() for _ in range(deciders)))
        return first, time.time()


@dataclass
class Run:
    checkout: str
    waiters: int
    idle_rss: float
    waiting_rss: float
    peak_rss: float
    resumed: int
    connections: int
    deciding: float  # first decision sent -> last answered
    to_last_resume: float  # first decision sent -> last agent resumed
    after_last_answer: float  # last decision answered -> last agent resumed
    setup: float


def one_run(args: argparse.Namespace, checkout: str, src: Path | None, profile: Path | None) -> Run:
    """Start a server (from ``src`` when given: another checkout's code), let the agents wait,
    decide them all and time it."""
    with tempfile.TemporaryDirectory() as tmp:
        server = LiveServer(Path(tmp))
        if src is not None:
            server.env["PYTHONPATH"] = str(src)  # ahead of the editable install
        server.start()
        procs: list[subprocess.Popen[str]] = []
        samplers: list[subprocess.Popen[bytes]] = []
        try:
            assert server.proc is not None
            pid = server.proc.pid
            agent_key, reviewer_key = server.create_key("agent"), server.create_key("respond")
            time.sleep(1)
            idle_rss = rss_mb(pid)
            share = args.waiters // args.processes
            started = time.monotonic()
            for n in range(args.processes):
                count = share if n < args.processes - 1 else args.waiters - share * (args.processes - 1)
                command = [sys.executable, __file__, "--agent", server.api_base, agent_key, str(count)]
                command += ["--tag", str(n), "--wait-via", args.wait_via]
                procs.append(subprocess.Popen(command, stdout=subprocess.PIPE, text=True))
            for proc in procs:
                assert proc.stdout is not None
                assert json.loads(proc.stdout.readline()) == {"ready": True}, "an agent process failed"
            setup = time.monotonic() - started
            print(f"  {checkout}: {args.waiters} waits subscribed in {setup:.1f} s", file=sys.stderr)
            time.sleep(2)
            waiting_rss = rss_mb(pid)
            headers = {"Authorization": f"Bearer {reviewer_key}"}
            with httpx.Client(base_url=server.api_base, headers=headers) as reviewer:
                ids = pending_ids(reviewer, args.waiters)
            assert len(ids) == args.waiters, f"{len(ids)} pending, expected {args.waiters}"
            if profile is not None:
                # from the first decision to the last agent resumed, every thread that is not
                # idle: the server's, and the first agent process's (beside the server's file)
                agent = profile.with_name(profile.stem + "-agent.txt")
                for sampled, output in ((pid, profile), (procs[0].pid, agent)):
                    command = [str(PY_SPY), "record", "--nonblocking", "--format=raw", f"--pid={sampled}"]
                    command += ["-o", str(output)]
                    samplers.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))
                time.sleep(1)  # py-spy attaches
            rss = RssSampler(pid)
            rss.start()
            bulk = args.decide_via == "bulk"
            deciding = decide_all(server.api_base, reviewer_key, ids, args.deciders, bulk, args.bulk_size)
            first_decision, last_decision = asyncio.run(deciding)
            reports: list[dict[str, Any]] = []
            for proc in procs:
                out, _ = proc.communicate(timeout=HANG_GUARD)
                reports.append(json.loads(out.strip().splitlines()[-1]))
            rss.running = False
            rss.join()
            for sampler in samplers:
                sampler.send_signal(signal.SIGINT)  # py-spy writes what it has and exits
                sampler.wait(timeout=60)
        except BaseException:
            print(f"server log (end):\n{server.log.read_text()[-4000:]}", file=sys.stderr)
            raise
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
            for sampler in samplers:
                if sampler.poll() is None:
                    sampler.kill()
            server.stop()
    last_resume = max(r["last"] for r in reports)
    return Run(
        checkout=checkout,
        waiters=args.waiters,
        idle_rss=idle_rss,
        waiting_rss=waiting_rss,
        peak_rss=rss.peak,
        resumed=sum(r["resumed"] for r in reports),
        connections=sum(r["ws"] for r in reports),
        deciding=last_decision - first_decision,
        to_last_resume=last_resume - first_decision,
        after_last_answer=last_resume - last_decision,
        setup=setup,
    )


def print_run(run: Run, args: argparse.Namespace) -> None:
    rate = run.waiters / run.deciding
    rows = [
        ("waits resumed, all approved", f"{run.resumed}"),
        ("WebSocket connections (agent side)", f"{run.connections}"),
        ("server RSS idle", f"{run.idle_rss:.0f} MB"),
        ("server RSS with all waiting", f"{run.waiting_rss:.0f} MB"),
        ("server RSS peak while deciding", f"{run.peak_rss:.0f} MB"),
        (
            f"all decisions ({args.decide_via}, {args.deciders} REST clients)",
            f"{run.deciding:.2f} s ({rate:.0f}/s)",
        ),
        ("first decision sent -> last resumed", f"{run.to_last_resume:.2f} s"),
        ("last decision answered -> last resumed", f"{run.after_last_answer * 1000:.0f} ms"),
    ]
    print(f"\n{run.checkout}, load average {os.getloadavg()[0]:.1f}")
    print(f"| {'measure':<42} | {'value':>22} |")
    print(f"|{'-' * 44}|{'-' * 24}|")
    for name, value in rows:
        print(f"| {name:<42} | {value:>22} |")


def print_medians(runs: list[Run]) -> None:
    print("\nmedians (runs in order)\n")
    print(
        "| checkout | runs | all decisions, s | first sent -> last resumed, s "
        "| last answered -> last resumed, ms |"
    )
    print("|---|---|---|---|---|")
    for checkout in dict.fromkeys(r.checkout for r in runs):
        mine = [r for r in runs if r.checkout == checkout]

        def cell(values: list[float], scale: float = 1.0, digits: int = 2) -> str:
            each = " / ".join(f"{v * scale:.{digits}f}" for v in values)
            return f"{statistics.median(values) * scale:.{digits}f} ({each})"

        print(
            f"| {checkout} | {len(mine)} | {cell([r.deciding for r in mine])} | "
            f"{cell([r.to_last_resume for r in mine])} | "
            f"{cell([r.after_last_answer for r in mine], 1000, 0)} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--waiters", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--deciders", type=int, default=4)
    parser.add_argument("--decide-via", choices=("bulk", "single"), default="bulk")
    parser.add_argument(
        "--bulk-size",
        type=int,
        default=MAX_BULK_DECISIONS,
        help="calls per bulk respond (default: the limit)",
    )
    parser.add_argument("--wait-via", choices=("websocket", "longpoll"), default="websocket")
    parser.add_argument("--runs", type=int, default=1, help="runs per checkout, alternated")
    parser.add_argument(
        "--baseline", type=Path, help="another checkout (or its src folder) whose server to alternate with"
    )
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="sample each server with py-spy (pip install py-spy)"
    )
    parser.add_argument("--agent", nargs=3, metavar=("API_BASE", "KEY", "COUNT"), help=argparse.SUPPRESS)
    parser.add_argument("--tag", default="0", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.agent:
        api_base, key, count = args.agent
        asyncio.run(agents(api_base, key, int(count), args.tag, args.wait_via))
        return
    if args.profile is not None and PY_SPY is None:
        parser.error("--profile needs py-spy (pip install py-spy)")

    checkouts: dict[str, Path | None] = {"this checkout": None}
    if args.baseline is not None:
        base = args.baseline / "src" if (args.baseline / "src").is_dir() else args.baseline
        checkouts = {"baseline": base.resolve(), **checkouts}
    print(f"{args.waiters} concurrent waiters ({args.wait_via}), {args.processes} agent processes")
    print(f"decided via {args.decide_via} ({args.bulk_size} a request), {args.deciders} REST clients")
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    runs: list[Run] = []
    for n in range(args.runs):
        for checkout, src in checkouts.items():
            profile = None
            if args.profile is not None:
                args.profile.mkdir(parents=True, exist_ok=True)
                name = checkout.replace(" ", "-")
                profile = args.profile / f"waiters-{args.waiters}-{name}-{n + 1}.txt"
            run = one_run(args, checkout, src, profile)
            runs.append(run)
            print_run(run, args)
            if profile is not None:
                print_profile(profile, top=25)
                print_profile(profile.with_name(profile.stem + "-agent.txt"), top=15)
    print_medians(runs)


if __name__ == "__main__":
    main()
