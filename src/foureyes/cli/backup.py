"""``foureyes backup FILE``: a consistent copy of the SQLite database while the server runs.

PostgreSQL has its own tool for this; for a PostgreSQL URL the command prints the ``pg_dump``
line to run (without the password) and exits 1, so a script never mistakes it for a backup made.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from foureyes.cli._common import DatabaseUrl, err, fail, load_settings, out

if TYPE_CHECKING:
    from foureyes.storage.backup import Progress

# Below this, a progress bar would flash and vanish; the summary line is enough.
PROGRESS_FROM_BYTES = 64 * 1024 * 1024


def backup(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="Where to write the copy.")],
    force: Annotated[bool, typer.Option("--force", help="Replace FILE if it exists.")] = False,
    with_key: Annotated[
        bool,
        typer.Option(
            "--with-key",
            help="Also copy the key that seals the server's secrets, to FILE.key (by default it is "
            "left out: keep it apart from the database's backups).",
        ),
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Copy the SQLite database to FILE, consistently, while the server keeps running."""
    from sqlalchemy.engine import make_url

    from foureyes.storage.backup import BackupError, backup_sqlite, copy_key_file
    from foureyes.storage.sealing import key_file_for

    settings = load_settings(database_url)
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        err.print(
            "foureyes backup copies SQLite databases; for PostgreSQL, pg_dump is the tool. Run "
            "(the password from PGPASSWORD or ~/.pgpass):",
            highlight=False,
        )
        print(pg_dump_command(settings.database_url, file))
        raise typer.Exit(1)
    source = Path(url.database or "")
    key_file = Path(settings.secret_key_file) if settings.secret_key_file else key_file_for(str(source))
    key_target = file.with_name(file.name + ".key")
    if with_key and key_target.exists() and not force:
        raise fail(f"{key_target} already exists (pass --force to replace it)")
    started = time.monotonic()
    try:
        with _progress(source) as progress:
            result = backup_sqlite(source, file, overwrite=force, progress=progress)
        if with_key:
            copy_key_file(key_file, key_target, overwrite=force)
    except (BackupError, OSError) as exc:
        raise fail(str(exc)) from None
    seconds = time.monotonic() - started
    out.print(
        f"Backed up {escape(str(source))} to {escape(str(file))}: {_size(result.size)} in {seconds:.1f} s, "
        "checked.",
        highlight=False,
    )
    if with_key:
        err.print(
            f"The key that seals the server's secrets is copied to {escape(str(key_target))}.",
            highlight=False,
        )
    else:
        err.print(
            f"Not copied: the key that seals the server's secrets ({escape(str(key_file))}). Back it "
            "up apart: without it, the restored server cannot open webhook secrets, Slack tokens or "
            "receipt keys.",
            highlight=False,
        )


@contextmanager
def _progress(source: Path) -> Iterator[Progress | None]:
    """A progress bar on stderr while a large database is copied; nothing for a small one."""
    wal = source.with_name(source.name + "-wal")
    size = sum(p.stat().st_size for p in (source, wal) if p.is_file())
    if size < PROGRESS_FROM_BYTES:
        yield None
        return
    from rich import progress as bars

    columns = (bars.BarColumn(), bars.DownloadColumn(), bars.TimeRemainingColumn())
    with bars.Progress("copying", *columns, console=err, transient=True) as bar:
        task = bar.add_task("copy", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _size(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def pg_dump_command(database_url: str, file: Path) -> str:
    """The pg_dump line for a PostgreSQL URL, the password left out, shell-quoted."""
    import shlex

    from sqlalchemy.engine import URL, make_url

    given = make_url(database_url)
    # URL.set(password=None) would keep the password: None there means "unchanged".
    url = URL.create("postgresql", given.username, None, given.host, given.port, given.database, given.query)
    return shlex.join(
        ["pg_dump", "--format=custom", f"--file={file}", url.render_as_string(hide_password=False)]
    )
