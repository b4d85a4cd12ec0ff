"""Decision-to-resume latency: how long after a human decides does the waiting agent go on?

Starts one real foureyes server (SQLite, in a temporary directory) and, against it, runs the
same trial with each waiting strategy:

- foureyes SDK over the WebSocket (the default): ``HumanLayer.fetch_approval``
- foureyes SDK by long-poll: ``HumanLayer(wait_via="longpoll").fetch_approval``
- official humanlayer 0.7.9 SDK: ``fetch_approval``, which polls every 3 s

A trial: an agent thread calls ``fetch_approval``; a reviewer waits until the request is
pending, waits a random 0-3 s (so decisions fall at random points of the poller's cycle), notes
the time and approves over HTTP; the agent notes when ``fetch_approval`` returned. Latency is
the difference. Trials run ``--concurrency`` at a time.

    .venv/bin/python bench/latency.py [--trials 30] [--concurrency 10]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.integration.conftest import LiveServer


def trial(fetch: Callable[[str], Any], reviewer: httpx.Client, n: int) -> tuple[float, float]:
    """(resume - respond sent, resume - decision recorded by the server), in seconds."""
    marker = f"trial-{n}-{random.random()}"
    resumed: list[tuple[float, float, Any]] = []

    def agent() -> None:
        completed = fetch(marker)
        resumed.append((time.perf_counter(), time.time(), completed))

    thread = threading.Thread(target=agent)
    thread.start()
    call_id = None
    while call_id is None:
        items = reviewer.get("/agent/function_calls/pending", params={"limit": 500}).json()["items"]
        call_id = next((i["call_id"] for i in items if i["spec"]["kwargs"].get("marker") == marker), None)
        time.sleep(0.01)
    time.sleep(random.uniform(0, 3))
    decided = time.perf_counter()
    reviewer.post(f"/agent/function_calls/{call_id}/respond", json={"approved": True}).raise_for_status()
    thread.join(timeout=60)
    [(resumed_at, resumed_wall, completed)] = resumed
    # The server stamps responded_at when the service records the decision (before its commit),
    # on the same machine clock.
    recorded = completed.call.status.responded_at.timestamp()
    return resumed_at - decided, resumed_wall - recorded


def run(
    name: str, fetch: Callable[[str], Any], server: LiveServer, trials: int, concurrency: int
) -> list[tuple[float, float]]:
    key = server.create_key("respond")
    headers = {"Authorization": f"Bearer {key}"}
    with (
        httpx.Client(base_url=server.api_base, headers=headers) as reviewer,
        ThreadPoolExecutor(concurrency) as pool,
    ):
        results = list(pool.map(lambda n: trial(fetch, reviewer, n), range(trials)))
    print(f"  {name}: {trials} trials done", file=sys.stderr)
    return results


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()

    import humanlayer

    import foureyes

    with tempfile.TemporaryDirectory() as tmp:
        server = LiveServer(Path(tmp))
        server.start()
        try:
            agent_key = server.create_key("agent")
            pushed = foureyes.HumanLayer(api_key=agent_key, api_base_url=server.api_base)
            polled = foureyes.HumanLayer(api_key=agent_key, api_base_url=server.api_base, wait_via="longpoll")
            official = humanlayer.HumanLayer(api_key=agent_key, api_base_url=server.api_base)
            strategies: list[tuple[str, Callable[[str], Any]]] = [
                (
                    "foureyes SDK, WebSocket",
                    lambda m: pushed.fetch_approval(foureyes.FunctionCallSpec(fn="f", kwargs={"marker": m})),
                ),
                (
                    "foureyes SDK, long-poll",
                    lambda m: polled.fetch_approval(foureyes.FunctionCallSpec(fn="f", kwargs={"marker": m})),
                ),
                (
                    "humanlayer 0.7.9 SDK, 3 s polling",
                    lambda m: official.fetch_approval(
                        humanlayer.FunctionCallSpec(fn="f", kwargs={"marker": m})
                    ),
                ),
            ]
            rows = []
            for name, fetch in strategies:
                latencies = run(name, fetch, server, args.trials, args.concurrency)
                rows.append((name, latencies))
        finally:
            server.stop()

    print(
        f"\nDecision-to-resume latency, {args.trials} trials each, {args.concurrency} concurrent, one server"
    )
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}\n")
    print("from the reviewer's respond request sent (includes the decision's own HTTP round trip):\n")
    table(rows, 0)
    print("\nfrom the decision recorded by the service (its responded_at) to the agent resumed:\n")
    table(rows, 1)
    theirs_p50 = statistics.median(v[0] for v in rows[-1][1])
    print()
    for name, values in rows[:-1]:
        ours_p50 = statistics.median(v[0] for v in values)
        print(f"median ratio, official polling / {name}: {theirs_p50 / ours_p50:.0f}x")


def table(rows: list[tuple[str, list[tuple[float, float]]]], column: int) -> None:
    print(f"| {'waiting strategy':<36} | {'p50 ms':>9} | {'p99 ms':>9} | {'max ms':>9} |")
    print(f"|{'-' * 38}|{'-' * 11}|{'-' * 11}|{'-' * 11}|")
    for name, values in rows:
        ms = [v[column] * 1000 for v in values]
        print(f"| {name:<36} | {statistics.median(ms):9.1f} | {percentile(ms, 99):9.1f} | {max(ms):9.1f} |")


if __name__ == "__main__":
    main()
