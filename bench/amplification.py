"""Amplification through push: what one WebSocket holding K made-up run subscriptions costs
everyone else, on this checkout and on a baseline checkout, side by side in one run.

For each server (this checkout's ``src``, then the baseline's, each a real ``foureyes serve`` on
127.0.0.1 with a temporary SQLite database, run with ``PYTHONPATH`` pointing at that checkout's
``src``) and each K: one connection subscribes to K made-up run ids (as a hostile agent might),
then another client makes ``--creates`` creates, one after another, in a run nobody watches. The
table gives the median and the worst create latency, and how many creates ran out of the
per-request ``--timeout`` (counted, not waited for twice). K=0 is the reference.

    git worktree add /work/baseline-7f694ba 7f694ba
    .venv/bin/python bench/amplification.py --baseline /work/baseline-7f694ba \\
        [--subscriptions 0,2000,5000] [--creates 15] [--timeout 30]

Everything stops by itself: each phase is bounded by the timeouts and the servers are stopped at
the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.integration.conftest import LiveServer

HERE = Path(__file__).resolve().parents[1]
SUBSCRIBE_TIMEOUT = 300.0


def spec(n: int) -> dict[str, Any]:
    return {"fn": "transfer", "kwargs": {"n": n}, "channel": None, "reject_options": None, "state": None}


async def answer_pings(ws: ClientConnection) -> None:
    async for message in ws:
        if json.loads(message).get("type") == "ping":
            await ws.send('{"type":"pong"}')


@contextlib.asynccontextmanager
async def holding(server: LiveServer, key: str, k: int) -> AsyncIterator[float]:
    """One connection watching ``k`` made-up runs; yields how long the subscribe took."""
    if k == 0:
        yield 0.0
        return
    url = server.api_base.replace("http://", "ws://") + "/ws"
    async with connect(url, additional_headers={"Authorization": f"Bearer {key}"}, max_size=None) as ws:
        assert json.loads(await ws.recv())["type"] == "ready"
        started = time.monotonic()
        runs = [f"made-up-{i}" for i in range(k)]
        await ws.send(json.dumps({"type": "subscribe", "id": "bulk", "runs": runs}))
        async with asyncio.timeout(SUBSCRIBE_TIMEOUT):
            while True:
                frame = json.loads(await ws.recv())
                if frame.get("type") == "subscribed":
                    break
                if frame.get("type") == "error":
                    raise RuntimeError(f"subscribe refused: {frame}")
        took = time.monotonic() - started
        pinger = asyncio.create_task(answer_pings(ws))
        try:
            yield took
        finally:
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pinger


async def create_latencies(
    server: LiveServer, key: str, count: int, request_timeout: float, tag: str
) -> list[float | None]:
    """Latency of each create (None: over ``request_timeout``), made one after another."""
    results: list[float | None] = []
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=server.api_base, headers=headers, timeout=request_timeout) as http:
        for n in range(count):
            body = {"run_id": "unwatched", "call_id": f"{tag}-{n}", "spec": spec(n), "status": None}
            started = time.monotonic()
            try:
                answer = await http.post("/function_calls", json=body)
                answer.raise_for_status()
                results.append(time.monotonic() - started)
            except httpx.TimeoutException:
                results.append(None)
            await asyncio.sleep(0.1)
    return results


async def measure(
    server: LiveServer, ks: list[int], creates: int, request_timeout: float
) -> list[dict[str, Any]]:
    rows = []
    for k in ks:
        key = server.create_key()  # a fresh key each time: its limits start from nothing
        async with holding(server, key, k) as subscribe_took:
            latencies = await create_latencies(server, server.create_key(), creates, request_timeout, f"k{k}")
        done = [x for x in latencies if x is not None]
        rows.append(
            {
                "k": k,
                "subscribe_s": subscribe_took,
                "median_ms": statistics.median(done) * 1000 if done else None,
                "max_ms": max(done) * 1000 if done else None,
                "timeouts": len(latencies) - len(done),
            }
        )
        print(f"  K={k}: {rows[-1]}", flush=True)
        await asyncio.sleep(2)  # let the server settle before the next K
    return rows


def start(workdir: Path, src: Path) -> LiveServer:
    server = LiveServer(workdir)
    server.env["PYTHONPATH"] = str(src)
    # Enough room for the largest K on a server that has the limits (the baseline ignores them).
    server.env["FOUREYES_WS_MAX_SUBSCRIPTIONS_PER_CONNECTION"] = "20000"
    server.env["FOUREYES_WS_MAX_SUBSCRIPTIONS_PER_KEY"] = "20000"
    server.start()
    return server


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", type=Path, required=True, help="a checkout to compare with (its src/)")
    parser.add_argument("--subscriptions", default="0,2000,5000", help="K values, comma-separated")
    parser.add_argument("--creates", type=int, default=15)
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, seconds")
    args = parser.parse_args()
    ks = [int(k) for k in args.subscriptions.split(",")]
    targets = {
        "this checkout": HERE / "src",
        f"baseline {args.baseline.name}": args.baseline.resolve() / "src",
    }
    results: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, src in targets.items():
            workdir = Path(tmp) / name.replace(" ", "-")
            workdir.mkdir()
            print(f"{name} ({src})", flush=True)
            server = start(workdir, src)
            try:
                results[name] = asyncio.run(measure(server, ks, args.creates, args.timeout))
            finally:
                server.stop()
    print()
    print(f"unrelated create latency, {args.creates} creates per K, timeout {args.timeout:g} s")
    print("| server | K runs watched | subscribe s | create p50 ms | create max ms | timeouts |")
    print("|---|---|---|---|---|---|")
    for name, rows in results.items():
        for row in rows:
            print(
                f"| {name} | {row['k']} | {fmt(row['subscribe_s'])} | {fmt(row['median_ms'])} | "
                f"{fmt(row['max_ms'])} | {row['timeouts']} |"
            )


if __name__ == "__main__":
    main()
