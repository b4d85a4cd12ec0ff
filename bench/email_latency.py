"""Time from creating a request that names an email address to the message being accepted by
the SMTP server (aiosmtpd on 127.0.0.1), one request at a time, through a real foureyes server.

    .venv/bin/python bench/email_latency.py [--requests 100]
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
from tests.email_channel.smtp_server import start_smtp
from tests.integration.conftest import LiveServer, free_port


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    smtp_port = free_port()
    controller, mailbox = start_smtp(smtp_port)
    with tempfile.TemporaryDirectory() as workdir:
        server = LiveServer(Path(workdir))
        server.env |= {
            "FOUREYES_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
            "FOUREYES_EMAIL_FROM": "bench@example.com",
            "FOUREYES_PUBLIC_URL": server.url,
        }
        server.start()
        try:
            key = server.create_key("agent")
            api = httpx.Client(base_url=server.api_base, headers={"Authorization": f"Bearer {key}"})
            channel = {"email": {"address": "boss@example.com"}}
            took: list[float] = []
            for n in range(args.requests):
                body = {
                    "run_id": "bench",
                    "call_id": f"c{n}",
                    "spec": {"fn": "f", "kwargs": {}, "channel": channel},
                }
                started = time.perf_counter()
                assert api.post("/function_calls", json=body).status_code == 200
                mailbox.wait(n + 1, timeout=30)
                took.append(time.perf_counter() - started)
            took_ms = sorted(t * 1000 for t in took)
            p99 = took_ms[min(len(took_ms) - 1, round(0.99 * len(took_ms)))]
            print(
                f"create -> accepted by SMTP, {len(took_ms)} requests: "
                f"p50 {statistics.median(took_ms):.1f} ms, p99 {p99:.1f} ms, max {took_ms[-1]:.1f} ms"
            )
        finally:
            server.stop()
            controller.stop()


if __name__ == "__main__":
    main()
