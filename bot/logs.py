"""Logging set-up: text or JSON lines, and a filter that scrubs every secret from every record.

httpx logs each request URL at INFO, and PTB's URLs contain the bot token; the filter replaces
any configured secret (and anything shaped like a bot token) with "***" before a line is written.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable

TOKEN_SHAPE = re.compile(r"(?<![0-9])\d{5,}:[A-Za-z0-9_-]{20,}")  # also inside "./bot<token>/"


class RedactSecrets(logging.Filter):
    """Rewrites the message and arguments of a record so no secret survives."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return TOKEN_SHAPE.sub("***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = self.scrub(message)
        record.args = None
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            data["exception"] = record.exc_text
        return json.dumps(data, ensure_ascii=False)


def setup_logging(level: str, fmt: str, secrets: Iterable[str]) -> RedactSecrets:
    """Configure the root logger once; returns the filter (tests add secrets to it)."""
    handler = logging.StreamHandler(sys.stderr)
    redact = RedactSecrets(secrets)
    handler.addFilter(redact)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet_noisy_loggers()
    return redact


def quiet_noisy_loggers() -> None:
    """Request lines add nothing an operator needs and would carry the token if unfiltered;
    aiosqlite's DEBUG lines quote every SQL parameter, per-job callback secrets and photo tokens
    among them, which no list of configured secrets can scrub."""
    for name in ("httpx", "httpcore", "apscheduler", "aiosqlite"):
        logging.getLogger(name).setLevel(logging.WARNING)
