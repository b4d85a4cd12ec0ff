"""Time from creating a request to its Web Push message reaching the push service (a stand-in on
127.0.0.1), encrypted and VAPID-signed, through a real foureyes server; one request at a time,
with ``--subscribers`` subscribed members (the time is until the last one's message arrives).

    .venv/bin/python bench/webpush_latency.py [--requests 100] [--subscribers 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.integration.conftest import LiveServer
from tests.webpush.push_service import BrowserKeys, running_push_service

from foureyes.server.service import open_service
from foureyes.server.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--subscribers", type=int, default=1)
    args = parser.parse_args()
    with running_push_service() as push, tempfile.TemporaryDirectory() as workdir:
        server = LiveServer(Path(workdir))
        server.env["FOUREYES_PUSH_ALLOW_PRIVATE"] = "true"
        server.start()
        service = open_service(Settings(database_url=server.database_url, push_allow_private=True))
        try:
            for n in range(args.subscribers):
                user, _ = service.people.add_user(f"r{n}@example.com", "default", "reviewer", f"R{n}")
                project, _ = service.people.project_for(user.id, "default")
                keys = BrowserKeys()
                service.push.turn_on(user.id, project.id, f"{push.url}/sub/{n}", keys.p256dh, keys.auth)
            key = server.create_key("agent")
            api = httpx.Client(base_url=server.api_base, headers={"Authorization": f"Bearer {key}"})
            took: list[float] = []
            for n in range(args.requests):
                body = {"run_id": "bench", "call_id": f"c{n}", "spec": {"fn": "f", "kwargs": {"n": n}}}
                started = time.perf_counter()
                assert api.post("/function_calls", json=body).status_code == 200
                push.wait_for((n + 1) * args.subscribers)
                took.append(time.perf_counter() - started)
            took_ms = sorted(t * 1000 for t in took)
            p99 = took_ms[min(len(took_ms) - 1, round(0.99 * len(took_ms)))]
            print(
                f"create -> last of {args.subscribers} push message(s) received, {len(took_ms)} requests: "
                f"p50 {statistics.median(took_ms):.1f} ms, p99 {p99:.1f} ms, max {took_ms[-1]:.1f} ms"
            )
        finally:
            service.close()
            server.stop()


if __name__ == "__main__":
    main()
