"""``foureyes backup`` of a server's live SQLite database, then the restore steps of
docs/operations.md, checked with the official HumanLayer SDK."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import humanlayer
import pytest

import foureyes

from .conftest import LiveServer

pytestmark = pytest.mark.slow


def test_a_backup_taken_under_writes_restores_to_a_server_that_serves_the_items(
    live_server: LiveServer, tmp_path: Path
) -> None:
    agent_key = live_server.create_key("agent")
    hl = foureyes.HumanLayer(api_key=agent_key, api_base_url=live_server.api_base)
    # Enough rows (with some bulk in their arguments) that the copy takes many steps.
    before = [
        hl.create_function_call(foureyes.FunctionCallSpec(fn="f", kwargs={"n": n, "pad": "x" * 4000})).call_id
        for n in range(300)
    ]

    acknowledged: list[str] = []
    stop = threading.Event()

    def write() -> None:
        writer = foureyes.HumanLayer(api_key=agent_key, api_base_url=live_server.api_base)
        n = 0
        while not stop.is_set():
            spec = foureyes.FunctionCallSpec(fn="during", kwargs={"n": n, "pad": "y" * 4000})
            acknowledged.append(writer.create_function_call(spec).call_id)
            n += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while len(acknowledged) < 20:  # the writes are under way before the copy starts
            stop.wait(0.01)
        started_with = len(acknowledged)
        backup = tmp_path / "copy" / "backup.db"
        done = live_server.foureyes("backup", str(backup), "--with-key")
        ended_with = len(acknowledged)
        while len(acknowledged) < ended_with + 20:  # and go on after it
            stop.wait(0.01)
    finally:
        stop.set()
        writer.join(timeout=30)
    assert done.returncode == 0, done.stderr
    assert "Backed up" in done.stdout
    assert ended_with > started_with  # the server took writes while the copy was made

    with sqlite3.connect(f"{backup.as_uri()}?mode=ro", uri=True) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        in_copy = {row[0] for row in copy.execute("SELECT call_id FROM items")}
    # A snapshot: everything acknowledged before the backup began, nothing that was never made,
    # and not everything (the writer went on after it).
    assert set(before) | set(acknowledged[:started_with]) <= in_copy
    assert in_copy <= set(before) | set(acknowledged)
    assert not set(acknowledged[ended_with:]) <= in_copy

    # The restore of docs/operations.md: stop the server, put the old files aside, copy the
    # backup (and its key) in, start.
    live_server.kill()  # the harshest stop: its -wal file is left behind
    database = live_server.workdir / "foureyes.db"
    aside = tmp_path / "aside"
    aside.mkdir()
    for suffix in ("", "-wal", "-shm", ".key"):
        old = database.with_name(database.name + suffix)
        if old.exists():
            shutil.move(old, aside / old.name)
    shutil.copy2(backup, database)
    shutil.copy2(backup.with_name("backup.db.key"), database.with_name("foureyes.db.key"))
    live_server.start()

    official = humanlayer.HumanLayer(api_key=agent_key, api_base_url=live_server.api_base)
    for n, call_id in enumerate(before):
        assert official.get_function_call(call_id).spec.kwargs == {"n": n, "pad": "x" * 4000}
    restored = sorted(in_copy - set(before))
    assert restored
    for call_id in restored:
        assert official.get_function_call(call_id).spec.fn == "during"
