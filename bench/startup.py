"""Start-up time of the ``foureyes`` command and of the server, on this checkout and, with
``--baseline PATH``, on another checkout's ``src`` (e.g. ``git archive COMMIT src | tar -x -C
PATH``), alternating the two in one run so both see the same machine.

Three figures per checkout, each the median of ``--runs`` (5):

- ``foureyes --help``: wall time of ``python -m foureyes --help``, and its CPU time;
- the CPU time of ``python -c "import foureyes.server.app"``;
- its imports: the sum of ``python -X importtime``'s top-level entries for the same command;
- the server's imports: the same sum for ``import foureyes.server.app``;
- server start: from launching ``foureyes serve`` on an existing, migrated SQLite database to
  the first 200 of ``/healthz`` (a restart: a first start also runs every migration, which on a
  loaded machine costs more than everything else).

    .venv/bin/python bench/startup.py [--runs 5] [--baseline PATH]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent.parent / "src"


def _env(src: Path, workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOUREYES_", "HUMANLAYER_"))}
    env["PYTHONPATH"] = str(src)  # ahead of the editable install: this checkout's code or the baseline's
    env["FOUREYES_DATABASE_URL"] = f"sqlite:///{workdir / 'f.db'}"
    return env


def help_seconds(src: Path) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "foureyes", "--help"],
            env=_env(src, Path(tmp)),
            capture_output=True,
            check=True,
        )
        return time.perf_counter() - started


def cpu_seconds(src: Path, *command: str) -> float:
    """CPU time (user + system) of one run of ``python COMMAND``: on a shared machine it moves
    far less with the load than wall time does."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, *command], env=_env(src, Path(tmp)), capture_output=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def import_seconds(src: Path, *command: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [sys.executable, "-X", "importtime", *command],
            env=_env(src, Path(tmp)),
            capture_output=True,
            text=True,
            check=True,
        )
    total = 0
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line[len("import time:") :].split("|")
        if not name.startswith("  "):  # a top-level import; nested ones are inside its figure
            total += int(cumulative)
    return total / 1e6


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_WORKDIRS: dict[Path, Path] = {}


def serve_seconds(src: Path) -> float:
    if src not in _WORKDIRS:  # the first start migrates the database, untimed
        _WORKDIRS[src] = Path(tempfile.mkdtemp(prefix="foureyes-startup-"))
        _start(src, _WORKDIRS[src])
    return _start(src, _WORKDIRS[src])


def _start(src: Path, workdir: Path) -> float:
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "foureyes", "serve", "--port", str(port), "--log-level", "warning"],
        env=_env(src, workdir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError("the server exited at start")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                time.sleep(0.01)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", type=Path, help="a checkout (or its src folder) to compare with")
    args = parser.parse_args()
    checkouts = {"this checkout": HERE}
    if args.baseline is not None:
        base = args.baseline / "src" if (args.baseline / "src").is_dir() else args.baseline
        checkouts = {"baseline": base.resolve(), **checkouts}
    measures: dict[str, Callable[[Path], float]] = {
        "foureyes --help, s": help_seconds,
        "foureyes --help, CPU s": lambda src: cpu_seconds(src, "-m", "foureyes", "--help"),
        "import foureyes.server.app, CPU s": lambda src: cpu_seconds(src, "-c", "import foureyes.server.app"),
        "its imports, s": lambda src: import_seconds(src, "-m", "foureyes", "--help"),
        "the server's imports, s": lambda src: import_seconds(src, "-c", "import foureyes.server.app"),
        "server start (restart), s": serve_seconds,
    }
    results: dict[tuple[str, str], list[float]] = {}
    try:
        for _ in range(args.runs):
            for what, measure in measures.items():
                for name, src in checkouts.items():  # alternated, so load changes hit both alike
                    results.setdefault((what, name), []).append(measure(src))
    finally:
        for workdir in _WORKDIRS.values():
            shutil.rmtree(workdir, ignore_errors=True)
    names = list(checkouts)
    print("| median of", args.runs, "|", " | ".join(names), "|")
    print("|---|" + "---|" * len(names))
    for what in measures:
        cells = " | ".join(f"{statistics.median(results[what, name]):.2f}" for name in names)
        print(f"| {what} | {cells} |")


if __name__ == "__main__":
    main()
