"""Logging: secrets scrubbed from every line, JSON lines when asked."""

from __future__ import annotations

import io
import json
import logging

from bot.logs import JsonFormatter, RedactSecrets

TOKEN = "123456789:TESTtokenNotReal_0123456789abcdefXYZ"


def emit(
    handler_filter: RedactSecrets, formatter: logging.Formatter, msg: str, *args: object
) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(handler_filter)
    handler.setFormatter(formatter)
    logger = logging.getLogger("test-logs")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.info(msg, *args)
    return stream.getvalue()


def test_configured_secrets_and_token_shaped_strings_are_scrubbed() -> None:
    redact = RedactSecrets(["sk-live-abcdef123456"])
    out = emit(
        redact,
        logging.Formatter("%(message)s"),
        "GET https://api.telegram.org/bot%s/getMe key=%s other=%s",
        TOKEN,
        "sk-live-abcdef123456",
        "987654321:ZZanotherTOKENshape_0123456789abcd",
    )
    assert TOKEN not in out and "sk-live-abcdef123456" not in out
    assert "ZZanotherTOKENshape" not in out
    assert out.count("***") == 3


def test_json_lines_carry_level_logger_and_the_scrubbed_message() -> None:
    out = emit(RedactSecrets([]), JsonFormatter(), "job %s delivered: token %s", 7, TOKEN)
    line = json.loads(out)
    assert line["level"] == "INFO" and line["logger"] == "test-logs"
    assert line["message"] == "job 7 delivered: token ***"
