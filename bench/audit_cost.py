"""What the audit log costs a create and a decision: the service's own calls, in one process,
with the log (as the server runs) and without it (the emitter's recorder unset), interleaved in
rounds so both see the same machine. Medians in milliseconds.

    .venv/bin/python bench/audit_cost.py [--n 300] [--postgres-url postgresql+psycopg://root@127.0.0.1/test]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from foureyes.server.push import InProcessNotifier
from foureyes.server.service import Service
from foureyes.server.settings import Settings
from foureyes.storage import Database


def _one(service: Service, project_id: int, call_id: str) -> tuple[float, float]:
    body = {"run_id": "bench", "call_id": call_id, "spec": {"fn": "wire", "kwargs": {"usd": 5}}}
    start = time.perf_counter()
    service.items.create_function_call(project_id, body)
    created = time.perf_counter()
    service.decisions.decide_function_call(
        project_id, call_id, approved=True, channel="bench", actor_key_id=None
    )
    return created - start, time.perf_counter() - created


def measure(url: str, n: int) -> dict[str, tuple[float, float]]:
    db = Database.from_url(url)
    db.migrate()
    service = Service(db, InProcessNotifier(), settings=Settings(database_url=url))
    try:
        key = service.keys.create_api_key("bench", ["agent"])
        project_id = service.keys.authenticate(key.plaintext).project_id
        recorder = service.emitter.audit
        times: dict[str, list[tuple[float, float]]] = {"with audit": [], "without": []}
        for i in range(n):
            for label in times:
                service.emitter.audit = recorder if label == "with audit" else None
                times[label].append(_one(service, project_id, f"{label[:4]}-{i}-{time.time_ns()}"))
        service.emitter.audit = recorder
        return {
            label: (
                statistics.median(t[0] for t in found) * 1000,
                statistics.median(t[1] for t in found) * 1000,
            )
            for label, found in times.items()
        }
    finally:
        service.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--postgres-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        targets = {"SQLite": f"sqlite:///{Path(tmp) / 'bench.db'}"}
        if args.postgres_url:
            targets["PostgreSQL"] = args.postgres_url
        for name, url in targets.items():
            for label, (create, decide) in measure(url, args.n).items():
                print(f"{name:10} {label:10}  create {create:6.2f} ms   decide {decide:6.2f} ms")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
