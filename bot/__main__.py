"""`python -m bot` runs the bot; `python -m bot demo` runs the offline demo;
`python -m bot migrate-db --to postgresql://...` copies the SQLite database into PostgreSQL.

Configuration comes from the environment (and `.env`); any invalid or missing value is listed
in one message and the process exits with status 2. SIGTERM and SIGINT stop it cleanly.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from telegram.error import InvalidToken, NetworkError

from bot.config import ConfigError, load_settings
from bot.logs import setup_logging


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "demo":
        from bot.demo import run_demo

        return run_demo(args[1:])
    if args and args[0] == "migrate-db":  # issue 17: SQLite -> PostgreSQL
        from bot.storage.migrate import main as migrate_db

        return migrate_db(args[1:])
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    secrets = [
        value.get_secret_value()
        for value in (
            settings.telegram_bot_token,
            settings.telegram_webhook_secret,
            settings.metrics_token,
            settings.apikley_webhook_hmac_key,
            settings.database_url,
            *settings.provider_keys().values(),
        )
        if value is not None
    ]
    if settings.webhook_path_token:
        secrets.append(settings.webhook_path_token)  # whoever knows the path may post updates
    setup_logging(settings.log_level, settings.log_format, secrets)
    return asyncio.run(_serve(settings))


async def _serve(settings: object) -> int:
    from bot.config import Settings
    from bot.runtime import run_until_stopped

    assert isinstance(settings, Settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log = logging.getLogger("bot")
    try:
        await run_until_stopped(settings, stop)
    except InvalidToken:
        log.error("Telegram refused the bot token: check TELEGRAM_BOT_TOKEN")
        return 2
    except NetworkError as exc:
        log.error("cannot reach the Bot API at %s: %s", settings.telegram_api_base_url, exc)
        log.debug("details", exc_info=True)
        return 1
    except Exception as exc:  # a start-up failure: say what, with the details for a bug report
        log.error("the bot stopped: %s", exc, exc_info=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
