"""A consistent copy of a live SQLite database, taken while a server keeps writing to it.

SQLite's online backup API copies the database page by page. Between steps it would normally
drop its read lock, and a commit by the server in between makes it start over (forever, under a
steady stream of writes). Here the source connection opens one read transaction first and keeps
it for the whole copy: in WAL mode a reader never blocks the writer, so the server goes on
committing while every step reads the same snapshot, and the copy is exactly the database as it
was at that instant. Stepping still matters: it lets the caller show progress.

The copy is written to a hidden file beside the target, fsynced, checked with ``PRAGMA
quick_check``, switched to a rollback journal (one self-contained file; the server turns WAL
back on when it opens it) and only then given its name, so a half-written backup never carries
the name of a good one.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Pages copied per step: 4 MiB at SQLite's default page size, small enough for a lively
# progress bar, large enough that the per-step overhead does not show.
STEP_PAGES = 1024
BUSY_TIMEOUT_MS = 10_000


class BackupError(RuntimeError):
    """The backup could not be made; nothing was left at the target path."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    pages: int
    page_size: int

    @property
    def size(self) -> int:
        return self.pages * self.page_size


Progress = Callable[[int, int], None]  # (bytes copied, bytes in all)


def backup_sqlite(
    source: Path, target: Path, *, overwrite: bool = False, progress: Progress | None = None
) -> BackupResult:
    """Copy the SQLite database ``source`` to ``target`` while others may write to it."""
    if not source.is_file():
        raise BackupError(f"no SQLite database at {source}")
    if target.exists() and not overwrite:
        raise BackupError(f"{target} already exists (pass --force to replace it)")
    if target.resolve() == source.resolve():
        raise BackupError("the backup cannot replace the database it copies")
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(f".{target.name}.{os.getpid()}.partial")
    # The copy holds everything the database does: readable by its owner only, like the original.
    os.close(os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    try:
        result = _copy(source, scratch, progress)
        _install(scratch, target, overwrite)
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise
    return BackupResult(target, result[0], result[1])


def _copy(source: Path, scratch: Path, progress: Progress | None) -> tuple[int, int]:
    try:
        src = sqlite3.connect(f"{source.absolute().as_uri()}?mode=rw", uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open {source}: {exc}") from None
    dst = sqlite3.connect(scratch, isolation_level=None)
    try:
        src.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # The snapshot every step reads (see the module docstring).
        src.execute("BEGIN")
        src.execute("SELECT count(*) FROM sqlite_master").fetchone()
        page_size = int(src.execute("PRAGMA page_size").fetchone()[0])
        total = int(src.execute("PRAGMA page_count").fetchone()[0])

        def step(_status: int, remaining: int, pages: int) -> None:
            if progress is not None:
                progress((pages - remaining) * page_size, pages * page_size)

        src.backup(dst, pages=STEP_PAGES, progress=step, sleep=0)
        src.execute("COMMIT")
        dst.execute("PRAGMA journal_mode=DELETE")
        problems = [row[0] for row in dst.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise BackupError(f"the copy failed its check: {'; '.join(problems[:5])}")
    except sqlite3.Error as exc:
        raise BackupError(f"the backup failed: {exc}") from None
    finally:
        dst.close()
        src.close()
    _fsync(scratch)
    return total, page_size


def _install(scratch: Path, target: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(scratch, target)
    else:
        # A link fails if the name was taken meanwhile: an existing file is never replaced.
        try:
            os.link(scratch, target)
        except FileExistsError:
            raise BackupError(f"{target} already exists (pass --force to replace it)") from None
        scratch.unlink()
    with contextlib.suppress(OSError):  # not every file system lets a directory be fsynced
        _fsync(target.parent)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def copy_key_file(key_file: Path, target: Path, *, overwrite: bool = False) -> None:
    """Copy the key that seals the server's secrets, 0600, without replacing a file unless asked."""
    data = key_file.read_bytes()
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(target, flags, 0o600)
    except FileExistsError:
        raise BackupError(f"{target} already exists (pass --force to replace it)") from None
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
