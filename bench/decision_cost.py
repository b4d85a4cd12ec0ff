"""The service's own cost of a decision, in-process (no HTTP): ``--single`` decisions one at a
time through ``Decisions.decide_function_call``, and ``--bulk`` decided in one
``BulkDecisions.decide_each`` (one transaction). SQLite file in a temporary directory (WAL,
``synchronous=FULL``). Prints one JSON line: median ms per single decision, ms per decision in
the bulk, and the load average. To compare two checkouts, run it alternately with each one's
``src`` first on ``PYTHONPATH`` and compare medians.

    .venv/bin/python bench/decision_cost.py [--single 100] [--bulk 500]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

from foureyes.server.domain.bulk import Verdict
from foureyes.server.push import InProcessNotifier
from foureyes.server.service import Service
from foureyes.server.settings import Settings
from foureyes.storage import Database


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--single", type=int, default=100)
    parser.add_argument("--bulk", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        db = Database.from_url(url)
        db.migrate()
        service = Service(db, InProcessNotifier(), settings=Settings(database_url=url))
        key = service.keys.create_api_key(project="default", scopes=("agent", "respond"))
        principal = service.keys.authenticate(key.plaintext)
        project = principal.project_id

        def create(call_id: str) -> None:
            body = {"run_id": "r", "call_id": call_id, "spec": {"fn": "transfer", "kwargs": {"to": call_id}}}
            service.items.create_function_call(project, body, actor_key_id=principal.key_id, channel="api")

        for n in range(args.single + 20):
            create(f"s{n}")
        for n in range(args.bulk + 20):
            create(f"b{n}")
        # warm-up: pools, the signing key, statement caches
        for n in range(20):
            service.decisions.decide_function_call(
                project, f"s{n}", approved=True, channel="api", actor_key_id=principal.key_id
            )
        service.bulk.decide_each(
            project, [Verdict(f"b{n}", True) for n in range(20)], channel="api", actor_key_id=principal.key_id
        )
        singles = []
        for n in range(20, args.single + 20):
            started = time.perf_counter()
            service.decisions.decide_function_call(
                project, f"s{n}", approved=True, channel="api", actor_key_id=principal.key_id
            )
            singles.append(time.perf_counter() - started)
        verdicts = [Verdict(f"b{n}", True) for n in range(20, args.bulk + 20)]
        started = time.perf_counter()
        outcome = service.bulk.decide_each(project, verdicts, channel="api", actor_key_id=principal.key_id)
        bulk = time.perf_counter() - started
        assert len(outcome.decided) == args.bulk
        service.close()
    print(
        json.dumps(
            {
                "single_p50_ms": round(statistics.median(singles) * 1000, 2),
                "bulk_ms_each": round(bulk / args.bulk * 1000, 2),
                "load": round(os.getloadavg()[0], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
