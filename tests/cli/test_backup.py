"""``foureyes backup`` on a database another connection keeps writing to, in-process."""

from __future__ import annotations

import sqlite3
import stat
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from foureyes.cli import app
from foureyes.storage.backup import BackupError, backup_sqlite


def run(*args: str, url: str) -> tuple[int, str, str]:
    done = CliRunner().invoke(app, list(args), env={"FOUREYES_DATABASE_URL": url, "COLUMNS": "250"})
    if done.exception is not None and not isinstance(done.exception, SystemExit):
        raise done.exception
    return done.exit_code, done.stdout, done.stderr


def _database(path: Path, rows: int) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, pad BLOB)")
        conn.executemany("INSERT INTO t VALUES (?, ?)", ((n, b"x" * 4000) for n in range(rows)))


def test_the_copy_is_one_snapshot_while_another_connection_writes(tmp_path: Path) -> None:
    source = tmp_path / "live.db"
    _database(source, 5000)  # about 20 MB: many steps of the copy
    stop = threading.Event()
    written = [4999]

    def write() -> None:
        with sqlite3.connect(source, isolation_level=None) as conn:
            while not stop.is_set():
                n = written[-1] + 1
                conn.execute("INSERT INTO t VALUES (?, ?)", (n, b"y" * 4000))
                written.append(n)

    seen: list[tuple[int, int]] = []
    writer = threading.Thread(target=write)
    writer.start()
    try:
        while len(written) < 50:
            stop.wait(0.001)
        result = backup_sqlite(
            source, tmp_path / "copy.db", progress=lambda done, total: seen.append((done, total))
        )
        after = len(written)
        while len(written) < after + 20:
            stop.wait(0.001)
    finally:
        stop.set()
        writer.join()

    assert len(seen) > 1
    assert seen[-1][0] == seen[-1][1] == result.size
    with sqlite3.connect(tmp_path / "copy.db") as copy:
        assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        numbers = [n for (n,) in copy.execute("SELECT n FROM t ORDER BY n")]
    # Whole rows up to one commit, none missing in between, and the writer went on after it.
    assert numbers == list(range(len(numbers)))
    assert 5000 + 49 <= len(numbers) <= written[-1]
    assert stat.S_IMODE((tmp_path / "copy.db").stat().st_mode) == 0o600
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_an_existing_file_is_kept_unless_forced(tmp_path: Path) -> None:
    source = tmp_path / "live.db"
    _database(source, 10)
    target = tmp_path / "backup.db"
    target.write_text("an older backup")
    url = f"sqlite:///{source}"

    code, _, errors = run("backup", str(target), url=url)
    assert code == 1
    assert "already exists (pass --force" in errors
    assert target.read_text() == "an older backup"

    (tmp_path / "live.db.key").write_text("the key\n")
    code, shown, errors = run("backup", str(target), "--force", "--with-key", url=url)
    assert code == 0, errors
    assert "Backed up" in shown
    with sqlite3.connect(target) as copy:
        assert copy.execute("SELECT count(*) FROM t").fetchone() == (10,)
    assert (tmp_path / "backup.db.key").read_text() == "the key\n"


def test_without_the_key_the_command_says_where_it_is(tmp_path: Path) -> None:
    source = tmp_path / "live.db"
    _database(source, 1)
    code, _, errors = run("backup", str(tmp_path / "b.db"), url=f"sqlite:///{source}")
    assert code == 0
    assert "Not copied" in errors
    assert "live.db.key" in errors
    assert not (tmp_path / "b.db.key").exists()


def test_a_backup_never_replaces_its_own_database(tmp_path: Path) -> None:
    source = tmp_path / "live.db"
    _database(source, 1)
    with pytest.raises(BackupError, match="cannot replace the database"):
        backup_sqlite(source, source, overwrite=True)


def test_postgresql_is_told_to_use_pg_dump_without_the_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://fe:s3cret@db.example:5433/approvals?sslmode=require"
    code, shown, errors = run("backup", str(tmp_path / "x.dump"), url=url)
    assert code == 1
    assert "pg_dump is the tool" in errors
    assert shown.strip() == (
        f"pg_dump --format=custom --file={tmp_path / 'x.dump'} "
        "'postgresql://fe@db.example:5433/approvals?sslmode=require'"
    )
    assert "s3cret" not in shown + errors
