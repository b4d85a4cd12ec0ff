"""The Slack channel through a real foureyes server and the stand-in of Slack's Web API on
127.0.0.1, one request at a time: create -> ``chat.postMessage`` received, the answer time of a
signed Approve click (Slack allows 3 s; it includes ``users.info`` and the decision's commit),
and click -> ``chat.update`` received.

    .venv/bin/python bench/slack_latency.py [--requests 50]
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
from tests.slack.signing import SECRET, block_action, signed
from tests.slack.slack_api import running_slack_api


def summary(name: str, seconds: list[float]) -> str:
    took = sorted(s * 1000 for s in seconds)
    p99 = took[min(len(took) - 1, round(0.99 * len(took)))]
    median = statistics.median(took)
    return f"{name}, {len(took)} requests: p50 {median:.1f} ms, p99 {p99:.1f} ms, max {took[-1]:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    with running_slack_api() as slack, tempfile.TemporaryDirectory() as workdir:
        server = LiveServer(Path(workdir))
        server.env |= {
            "FOUREYES_SLACK_API_URL": slack.url,
            "FOUREYES_SLACK_BOT_TOKEN": "xoxb-bench",
            "FOUREYES_SLACK_SIGNING_SECRET": SECRET,
            "FOUREYES_PUBLIC_URL": server.url,
        }
        server.start()
        try:
            assert server.foureyes("users", "add", "boss@example.com").returncode == 0
            slack.users["U0BOSS"] = ("boss@example.com", True)
            key = server.create_key("agent")
            api = httpx.Client(base_url=server.api_base, headers={"Authorization": f"Bearer {key}"})
            web = httpx.Client(base_url=server.url)
            channel = {"slack": {"channel_or_user_id": "C0BENCH"}}
            posted: list[float] = []
            answered: list[float] = []
            updated: list[float] = []
            for n in range(args.requests):
                body = {
                    "run_id": "bench",
                    "call_id": f"c{n}",
                    "spec": {"fn": "f", "kwargs": {}, "channel": channel},
                }
                started = time.perf_counter()
                assert api.post("/function_calls", json=body).status_code == 200
                post = slack.wait_for("chat.postMessage", n + 1, timeout=30)[n]
                posted.append(time.perf_counter() - started)
                click = block_action(post.args["blocks"], "approve", user="U0BOSS", channel="C0BENCH", ts="1")
                content, headers = signed(click)
                started = time.perf_counter()
                assert web.post("/slack/interactions", content=content, headers=headers).status_code == 200
                answered.append(time.perf_counter() - started)
                slack.wait_for("chat.update", n + 1, timeout=30)
                updated.append(time.perf_counter() - started)
            print(summary("create -> chat.postMessage received", posted))
            print(summary("signed Approve click answered", answered))
            print(summary("click -> chat.update received", updated))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
