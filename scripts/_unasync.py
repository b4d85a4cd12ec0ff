"""Write the sync SDK (src/foureyes/_sync/) from its asyncio source (src/foureyes/_async/).

Each rule below rewrites one asyncio idiom into its sync twin, line by line (as httpcore's
scripts/unasync.py does). A line that has no mechanical twin carries its sync form after a
``# sync:`` marker (an empty one drops the line). Imports the sync copy no longer needs are
removed and the result is formatted with ruff, so the committed copy is exactly what this
script writes. ``--check`` writes nothing and fails when a committed copy is stale.
"""

from __future__ import annotations

import argparse
import difflib
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src/foureyes/_async"
TARGET = ROOT / "src/foureyes/_sync"
# Hand-written on both sides: what truly differs between the two (see _async/__init__.py).
HAND_WRITTEN = {"__init__.py", "connections.py"}

RULES = [
    (r"\bfoureyes\._async\b", "foureyes._sync"),
    (r"\bAsync(?=[A-Z])", ""),  # AsyncHumanLayer, httpx.AsyncClient, AsyncDecide ...
    (r"\basync (def|with|for)\b", r"\1"),
    (r"\bawait asyncio\.to_thread\(([\w.]+), ", r"\1("),  # the sync client calls it in place
    (r"\bawait ", ""),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\baclose\b", "close"),
    (r"\basyncio\.sleep\b", "time.sleep"),
    (r"\bAwaitable\[([^\[\]]+)\]", r"\1"),
]
MARKER = re.compile(r"^(?P<indent>\s*)(?P<code>.*?)\s+# sync:(?P<sync>.*)$")


def unasync_line(line: str) -> str | None:
    marked = MARKER.match(line)
    if marked:
        sync = marked["sync"].strip()
        return marked["indent"] + sync if sync else None
    for pattern, replacement in RULES:
        line = re.sub(pattern, replacement, line)
    return line


def ruff(args: list[str], text: str, filename: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--stdin-filename", str(filename), "-"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        sys.exit(f"ruff {' '.join(args)} failed on the sync copy of {filename}:\n{done.stderr}")
    return done.stdout


def generate(source: Path) -> str:
    target = TARGET / source.name
    lines = [unasync_line(line) for line in source.read_text().splitlines()]
    header = (
        f"# Generated from {source.relative_to(ROOT)} by scripts/generate_sync: do not edit.\n"
        "# Change the asyncio source and run scripts/generate_sync.\n"
    )
    text = header + "\n".join(line for line in lines if line is not None) + "\n"
    text = ruff(["check", "--fix", "--exit-zero", "--quiet", "--select", "F401,I"], text, target)
    return ruff(["format", "--quiet"], text, target)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a committed copy is stale")
    check = parser.parse_args().check
    stale: list[Path] = []
    for source in sorted(SOURCE.glob("*.py")):
        if source.name in HAND_WRITTEN:
            continue
        target = TARGET / source.name
        wanted = generate(source)
        current = target.read_text() if target.exists() else ""
        if wanted == current:
            continue
        if check:
            stale.append(target)
            sys.stdout.writelines(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    wanted.splitlines(keepends=True),
                    f"{target.relative_to(ROOT)} (committed)",
                    f"{target.relative_to(ROOT)} (generated)",
                )
            )
        else:
            target.write_text(wanted)
            print(f"wrote {target.relative_to(ROOT)}")
    sources = {path.name for path in SOURCE.glob("*.py")}
    for orphan in sorted(TARGET.glob("*.py")):
        if orphan.name not in sources | HAND_WRITTEN:
            print(f"{orphan.relative_to(ROOT)} has no asyncio source left: delete it", file=sys.stderr)
            stale.append(orphan)
    if stale:
        names = ", ".join(str(path.relative_to(ROOT)) for path in stale)
        print(f"stale generated code: {names}; run scripts/generate_sync", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
