"""How long a delivery to a healthy webhook endpoint takes while another endpoint trickles.

Runs the same scenario, side by side in one run, on this checkout and on a baseline checkout
(e.g. ``git worktree add /work/baseline-7f694ba 7f694ba``), each in a child process that imports
``foureyes`` from that tree's ``src``. In each child, one delivery worker on a fresh SQLite
database serves two endpoints on 127.0.0.1:

- a trickling receiver (tests/webhooks/hostile.py) that answers every request a byte every
  ``--interval`` seconds, subscribed to ``human_contact.created``;
- a healthy receiver (tests/webhooks/receiver.py) that answers at once, subscribed to
  ``function_call.created``.

A round: create a human contact and wait until the trickling receiver has its request; then
create a function call and time until the healthy receiver has it; then wait until the trickle
is over, so every round starts alike. Everything is bounded and stops by itself.

    .venv/bin/python bench/slow_receiver.py --baseline /work/baseline-7f694ba [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ROUND_LIMIT = 60.0  # seconds any one wait may take before the child gives up


async def child(rounds: int, interval: float) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))  # the receivers, from this checkout's tests
    from tests.webhooks.hostile import TricklingReceiver, running, wait_until
    from tests.webhooks.receiver import running_receiver

    import foureyes
    from foureyes.server.push import InProcessNotifier
    from foureyes.server.service import Service
    from foureyes.server.settings import Settings

    def open_world(url: str) -> tuple[Any, Any, Any]:
        """The service, a started-later worker and the project, on this tree's API."""
        settings = Settings(database_url=url, webhook_allow_private=True)
        try:  # the shared outbox (after 6e45151)
            from foureyes.server.channels import sinks_for
            from foureyes.server.outbox import OutboxWorker
            from foureyes.storage import Database, keys

            db = Database.from_url(url)
            db.migrate()
            service = Service(db, InProcessNotifier())
            with db.write() as tx:
                project = keys.ensure_project(tx.conn, "default", now=datetime.now(UTC))
            return service, OutboxWorker(db, sinks_for(db, settings)), project
        except ImportError:  # the webhook-only worker of the baseline
            from foureyes.server.delivery import DeliveryWorker  # type: ignore[import-not-found]

            from foureyes.storage import Storage  # type: ignore[attr-defined]

            storage = Storage.from_url(url)
            storage.migrate()
            service = Service(storage, InProcessNotifier())
            project = storage.ensure_project("default", now=datetime.now(UTC))
            return service, DeliveryWorker(storage, settings), project

    def admin(service: Any) -> Any:
        return getattr(service, "webhooks", service)

    def items(service: Any) -> Any:
        return getattr(service, "items", service)

    async def bounded(condition: Any, what: str) -> None:
        if not await wait_until(condition, limit=ROUND_LIMIT, step=0.002):
            raise SystemExit(f"gave up waiting for {what}")

    latencies: list[float] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        running(TricklingReceiver(interval=interval, body=b"")) as slow,
        running_receiver() as healthy,
    ):
        url = f"sqlite:///{Path(tmp) / 'foureyes.db'}"
        service, worker, project = open_world(url)
        admin(service).add_webhook("default", slow.url, ["human_contact.created"], allow_private=True)
        admin(service).add_webhook("default", healthy.url, ["function_call.created"], allow_private=True)
        worker.start()
        service.on_outbox = worker.wake
        try:
            for n in range(1, rounds + 1):
                question = {"run_id": "bench", "call_id": f"hc-{n}", "spec": {"msg": "?"}}
                items(service).create_human_contact(project.id, question)
                await bounded(lambda n=n: slow.count("request") == n, "the trickling request")
                started = time.perf_counter()
                call = {"run_id": "bench", "call_id": f"fc-{n}", "spec": {"fn": "f", "kwargs": {}}}
                items(service).create_function_call(project.id, call)
                await bounded(lambda n=n: len(healthy.snapshot()) == n, "the healthy delivery")
                latencies.append(time.perf_counter() - started)
                await bounded(lambda n=n: slow.count("done") + slow.count("cut") == n, "the trickle to end")
        finally:
            await worker.stop()
            service.close()
    return {
        "foureyes": foureyes.__file__,
        "trickle_seconds": len(slow.answer_bytes) * interval,
        "latencies": latencies,
    }


def run_tree(tree: Path, rounds: int, interval: float) -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    env = dict(os.environ, PYTHONPATH=str(tree / "src"))
    done = subprocess.run(
        [sys.executable, __file__, "--child", "--rounds", str(rounds), "--interval", str(interval)],
        env=env,
        capture_output=True,
        text=True,
        timeout=rounds * 3 * ROUND_LIMIT,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the run on {tree} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if Path(result["foureyes"]).resolve().parents[1] != (tree / "src").resolve():
        raise SystemExit(f"the run on {tree} imported foureyes from {result['foureyes']}")
    result["commit"] = commit
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", type=Path, help="a checkout of the baseline commit (required)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between trickled bytes")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args.rounds, args.interval))))
        return
    if args.baseline is None:
        parser.error("--baseline is required")
    trees = [("baseline", args.baseline.resolve()), ("this branch", ROOT)]
    results = []
    for name, tree in trees:
        print(f"running {args.rounds} rounds on {name} ({tree}) ...", file=sys.stderr)
        results.append((name, run_tree(tree, args.rounds, args.interval)))
    trickle = results[0][1]["trickle_seconds"]
    print(f"\nhealthy endpoint's delivery while another trickles a {trickle:.1f} s answer")
    print(f"{'tree':<14} {'commit':<9} {'median ms':>10} {'min ms':>9} {'max ms':>9}  per round (ms)")
    for name, result in results:
        ms = [1000 * value for value in result["latencies"]]
        rounds = " ".join(f"{value:.0f}" for value in ms)
        print(
            f"{name:<14} {result['commit']:<9} {statistics.median(ms):>10.1f} {min(ms):>9.1f}"
            f" {max(ms):>9.1f}  {rounds}"
        )


if __name__ == "__main__":
    main()
