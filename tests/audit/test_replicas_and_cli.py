"""Two replicas appending at once keep the index dense (PostgreSQL), and the `foureyes audit`
commands: verify (OK, then a named failure and exit 1), checkpoint, export, prove, check-proof."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from sqlalchemy import update
from typer.testing import CliRunner

from foureyes.cli import app as cli
from foureyes.server.audit.verify import verify
from foureyes.server.push import InProcessNotifier
from foureyes.server.service import Service
from foureyes.server.settings import Settings
from foureyes.storage import Database
from foureyes.storage import audit as audit_rows
from foureyes.storage.schema import decisions

from .conftest import World

PER_WRITER = 25


def test_two_replicas_appending_at_once_keep_the_index_dense(postgres_database_url: str) -> None:
    settings = Settings(database_url=postgres_database_url)
    replicas = []
    for _ in range(2):
        db = Database.from_url(postgres_database_url)
        replicas.append(Service(db, InProcessNotifier(), settings=settings))
    try:
        key = replicas[0].keys.create_api_key("default", ["agent"])
        project_id = replicas[0].keys.authenticate(key.plaintext).project_id
        start = threading.Barrier(2)

        def write(n: int, service: Service) -> None:
            start.wait()
            for i in range(PER_WRITER):
                body = {"run_id": "r", "call_id": f"w{n}-{i}", "spec": {"fn": "f", "kwargs": {"i": i}}}
                service.items.create_function_call(project_id, body)
                service.decisions.decide_function_call(
                    project_id, f"w{n}-{i}", approved=True, channel="test", actor_key_id=None
                )

        threads = [threading.Thread(target=write, args=(n, s)) for n, s in enumerate(replicas)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        replicas[1].audit.checkpoint()
        with replicas[0].db.read() as conn:
            found = list(audit_rows.entries(conn))
        assert [e.seq for e in found] == list(range(len(found)))
        assert sum(e.kind == "created" for e in found) == 2 * PER_WRITER
        assert sum(e.kind == "decided" for e in found) == 2 * PER_WRITER
        report = verify(replicas[0].db)
        assert report.ok, report.problems
    finally:
        for service in replicas:
            service.close()


def test_the_audit_commands(world: World, tmp_path: Path) -> None:
    world.call("c-1", amount=1)
    world.decide("c-1", False)
    url = world.settings.database_url
    runner = CliRunner()
    env = {"FOUREYES_DATABASE_URL": url}
    signed = runner.invoke(cli, ["audit", "checkpoint"], env=env)
    assert signed.exit_code == 0, signed.output
    assert signed.stdout.startswith("foureyes/audit\n")
    vkey = world.service.audit.verifier_key()
    ok = runner.invoke(cli, ["audit", "verify", "--key", vkey], env=env)
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.startswith("OK: ")
    lines = runner.invoke(cli, ["audit", "export"], env=env).stdout.splitlines()
    assert [json.loads(line)["index"] for line in lines] == list(range(len(lines)))
    table = runner.invoke(
        cli, ["audit", "export", "--format", "csv", "--since", "2026-01-01T12:00:00Z"], env=env
    )
    assert table.stdout.splitlines()[0] == "index,time,kind,project,call_id,actor,data,leaf_hash"
    proof = runner.invoke(cli, ["audit", "prove", "c-1"], env=env)
    assert proof.exit_code == 0, proof.output
    (tmp_path / "proof.json").write_text(proof.stdout)
    checked = runner.invoke(cli, ["audit", "check-proof", str(tmp_path / "proof.json"), "--key", vkey])
    assert checked.exit_code == 0, checked.output
    decided = world.service.items.get_function_call(world.project_id, "c-1").decisions[-1]
    with world.service.db.write() as tx:
        tx.execute(update(decisions).where(decisions.c.id == decided.id).values(comment="fine by me"))
    failed = runner.invoke(cli, ["audit", "verify"], env=env)
    assert failed.exit_code == 1
    assert f"decision {decided.id} differs from the log in comment" in failed.stderr
