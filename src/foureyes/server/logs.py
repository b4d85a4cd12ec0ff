"""The server's log format (``log_format``): ``text`` lines, or ``json``, one object a line.

Library code installs no handlers: ``foureyes serve`` sets up the root logger, ``apply`` then
gives its handlers the chosen format and the request id of the request being served, and
``uvicorn_log_config`` does the same for uvicorn's own loggers (startup and access lines).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from foureyes.server.http.request_id import current_request_id
from foureyes.server.settings import Settings


class RequestIdFilter(logging.Filter):
    """Puts ``request_id`` (or None outside a request) on every record it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request_id, and the
    traceback as ``exc`` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or current_request_id.get(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """One readable line per record, the request id in brackets when the record has one:
    ``2026-12-03 07:10:00,123 INFO    foureyes.server.domain.items [req 3f9c...]: created ...``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s%(request_tag)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None) or current_request_id.get()
        record.request_tag = f" [req {request_id}]" if request_id else ""
        return super().format(record)


def apply(settings: Settings) -> None:
    """Give the root logger's handlers (set up by whoever runs the server) the request id, and
    the JSON format when chosen. Without handlers (the app embedded elsewhere) nothing changes."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())
        if settings.log_format == "json":
            handler.setFormatter(JsonFormatter())


def uvicorn_log_config(settings: Settings) -> dict[str, Any]:
    """uvicorn's loggers (startup and access lines) in the chosen format, request id included."""
    formatter = JsonFormatter if settings.log_format == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"chosen": {"()": formatter}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "chosen",
                "filters": ["request_id"],
                "stream": "ext://sys.stderr",
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["default"], "level": "INFO", "propagate": False},
        },
    }
