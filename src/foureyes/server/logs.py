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


def apply(settings: Settings) -> None:
    """Give the root logger's handlers (set up by whoever runs the server) the request id, and
    the JSON format when chosen. Without handlers (the app embedded elsewhere) nothing changes."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())
        if settings.log_format == "json":
            handler.setFormatter(JsonFormatter())


def uvicorn_log_config(settings: Settings) -> dict[str, Any] | None:
    """uvicorn's loggers in JSON too; None keeps uvicorn's own text configuration."""
    if settings.log_format != "json":
        return None
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "json",
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
