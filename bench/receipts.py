"""The cost of decision receipts: decision latency with and without signing, side by side.

In process, on the service (no HTTP): each trial creates a function call and times
``Decisions.decide_function_call`` (check, sign, one transaction, emit). Trials alternate between
the real signer and one that signs nothing, so both see the same machine load. Also timed: our
SDK's check of one receipt (``_receipts.check_approval``: Ed25519 verify and the RFC 8785 digest).

    .venv/bin/python bench/receipts.py [--trials 400] [--database sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from foureyes import _receipts
from foureyes.server.push import notifier_for
from foureyes.server.service import Service
from foureyes.server.settings import Settings
from foureyes.storage import Database

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


class _Unsigned:
    """A stand-in for ``Receipts`` that signs nothing: the decision path as it was before."""

    def sign(self, *_: Any) -> None:
        return None


def _service(url: str, workdir: Path) -> Service:
    db = Database.from_url(url, secret_key_file=workdir / "key")
    db.migrate()
    return Service(db, notifier_for(db), settings=Settings(database_url=url))


def _run(service: Service, trials: int) -> dict[str, list[float]]:
    project = service.keys.create_api_key(project="bench", scopes=["agent"])
    project_id = service.keys.authenticate(project.plaintext).project_id
    service.receipts.ensure_key()
    signed, unsigned = service.decisions.receipts, _Unsigned()
    kwargs = {
        "to": "ops@example.com",
        "amount": 1250,
        "lines": [{"sku": f"A-{i}", "qty": i} for i in range(10)],
    }
    timings: dict[str, list[float]] = {"with receipts": [], "without receipts": []}
    for n in range(trials):
        label = "with receipts" if n % 2 == 0 else "without receipts"
        service.decisions.receipts = signed if n % 2 == 0 else unsigned  # type: ignore[assignment]
        call_id = f"bench-{n}"
        body = {"run_id": "r", "call_id": call_id, "spec": {"fn": "wire", "kwargs": kwargs}, "status": None}
        service.items.create_function_call(project_id, body)
        started = time.perf_counter()
        service.decisions.decide_function_call(
            project_id, call_id, approved=True, channel="bench", actor_key_id=None
        )
        timings[label].append((time.perf_counter() - started) * 1000)
    service.decisions.receipts = signed
    return timings


def _verify_cost(trials: int) -> list[float]:
    key = _receipts.new_private_key()
    jwks = {"keys": [_receipts.public_jwk(_receipts.public_of(key))]}
    kwargs = {
        "to": "ops@example.com",
        "amount": 1250,
        "lines": [{"sku": f"A-{i}", "qty": i} for i in range(10)],
    }
    claims = {"call_id": "c", "kind": "function_call", "fn": "wire", "outcome": "approved", "edited": False}
    token = _receipts.sign(claims | {"args_sha256": _receipts.arguments_digest(kwargs)}, key)
    found = []
    for _ in range(trials):
        started = time.perf_counter()
        _receipts.check_approval(token, jwks, call_id="c", fn="wire", arguments=kwargs, edited=False)
        found.append((time.perf_counter() - started) * 1000)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=400)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    options = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        urls = []
        if options.database in ("sqlite", "both"):
            urls.append(("SQLite", f"sqlite:///{workdir / 'bench.db'}"))
        if options.database in ("postgresql", "both"):
            name = f"bench_receipts_{int(time.time())}"
            admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            urls.append(("PostgreSQL", PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"))
        for label, url in urls:
            service = _service(url, workdir)
            try:
                timings = _run(service, options.trials)
            finally:
                service.close()
            rows.append(
                (
                    label,
                    statistics.median(timings["without receipts"]),
                    statistics.median(timings["with receipts"]),
                )
            )
        if options.database in ("postgresql", "both"):
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{name}"'))
    print(f"decision latency, median of {options.trials // 2} decisions each (ms)")
    print(f"{'database':<12}{'without receipts':>18}{'with receipts':>16}{'difference':>12}")
    for label, without, with_ in rows:
        print(f"{label:<12}{without:>18.2f}{with_:>16.2f}{with_ - without:>+12.2f}")
    verify = _verify_cost(options.trials)
    print(
        "SDK check of one receipt (Ed25519 verify + RFC 8785 digest): "
        f"median {statistics.median(verify):.3f} ms"
    )


if __name__ == "__main__":
    main()
