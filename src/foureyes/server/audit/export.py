"""``export``: the log's entries as JSON lines (each entry's exact bytes) or CSV (one column per
field, ``actor`` and ``data`` as JSON), with each entry's leaf hash."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime

from foureyes.storage import Database
from foureyes.storage import audit as rows

FORMATS = ("jsonl", "csv")
CSV_COLUMNS = ("index", "time", "kind", "project", "call_id", "actor", "data", "leaf_hash")


def export(db: Database, *, since: datetime | None = None, format: str = "jsonl") -> Iterator[str]:
    """The entries from ``since`` on (all by default), one line (or CSV record) at a time."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    if format == "csv":
        yield _csv_line(CSV_COLUMNS)
    with db.snapshot() as conn:
        for entry in rows.since(conn, since):
            if format == "jsonl":
                yield entry.entry + "\n"
                continue
            parsed = json.loads(entry.entry)
            values = [
                parsed["index"],
                parsed["time"],
                parsed["kind"],
                parsed["project"] or "",
                parsed["call_id"] or "",
                json.dumps(parsed["actor"], sort_keys=True, separators=(",", ":")),
                json.dumps(parsed["data"], sort_keys=True, separators=(",", ":"), ensure_ascii=False),
                entry.leaf_hash,
            ]
            yield _csv_line(values)


def _csv_line(values: object) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)  # type: ignore[arg-type]
    return buffer.getvalue()
