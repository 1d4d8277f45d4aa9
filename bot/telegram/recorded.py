"""PTB glue that records every update before Telegram learns it arrived, and replays the rest.

Polling: PTB's updater puts each fetched update into the application's queue and only then asks
for the next batch with an offset that confirms this one. `RecordingQueue.put` writes the update
to the database first, so a confirmed update is always recorded. Webhook: the web handler puts
the update into the same queue before it answers 2xx. `RecordingApplication` marks an update
handled once PTB has run its handlers; start-up puts every update a dead process left unmarked
back into the queue (see `replay`; replicas also do it for each other as leases run out), so a
crash at any point loses no photo and no button press.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

from telegram import Update
from telegram.ext import Application

from bot.faults import crash_point
from bot.storage.updates import UpdateLog

log = logging.getLogger(__name__)
PRUNE_EVERY = 1000  # recorded updates between two prunes of old handled ones
# Per application: the ids of updates handled again from the record after a restart.
_replayed: weakref.WeakKeyDictionary[Any, set[int]] = weakref.WeakKeyDictionary()


def is_replay(update: Update, context: Any) -> bool:
    """Whether this update is handled again from the record after a restart."""
    return update.update_id in _replayed.get(context.application, ())


def parse_update(data: dict[str, Any], bot: Any) -> Update | None:
    """A webhook body as an Update; None (logged, dropped) for what PTB cannot read or an id
    outside Telegram's range, which Telegram itself never sends."""
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or not 0 <= update_id < 2**63:
        log.warning("webhook body with an impossible update_id dropped")
        return None
    try:
        return Update.de_json(data, bot)
    except Exception as exc:  # PTB raises whatever the malformed field makes it raise
        log.warning("webhook update %s unreadable (%s): dropped", update_id, type(exc).__name__)
        return None


class RecordingQueue(asyncio.Queue[object]):
    """The application's update queue: an update is recorded before it is queued, once."""

    def __init__(self, updates: UpdateLog) -> None:
        super().__init__()
        self.updates = updates
        self._recorded = 0

    async def put(self, item: object) -> None:
        if isinstance(item, Update):
            try:
                new = await self.updates.record(item.update_id, item.to_dict())
            except Exception:
                # Handling it unrecorded beats dropping it: only a crash now could lose it.
                log.exception(
                    "update %s could not be recorded; handling it anyway", item.update_id
                )
                new = True
            if not new:
                # Telegram delivered it again (its offset was not confirmed before a crash, or
                # a webhook retry) while the record already has it: handled or being replayed.
                log.info("update %s received again: already recorded, skipped", item.update_id)
                return
            crash_point("update_recorded")
            self._recorded += 1
            if self._recorded % PRUNE_EVERY == 0:
                await self.updates.prune()  # a bot that never restarts must not grow forever
        await super().put(item)

    async def replay(self, item: Update) -> None:
        """Queue an update that is already recorded (start-up recovery)."""
        await super().put(item)


class RecordingApplication(Application[Any, Any, Any, Any, Any, Any]):
    """PTB's Application, marking each recorded update handled once its handlers have run."""

    update_log: UpdateLog | None = None

    async def process_update(self, update: object) -> None:
        updates = self.update_log if isinstance(update, Update) else None
        if updates is not None and isinstance(update, Update) and _at_most_once(update):
            await updates.handled(update.update_id)
            updates = None
        await super().process_update(update)  # handler errors are dealt with in there
        if updates is not None and isinstance(update, Update):
            # A crash here handles the update again after the restart (at least once): harmless
            # for photos (one more options message) and presses (compare-and-set), see below.
            crash_point("update_handled")
            await updates.handled(update.update_id)


def _at_most_once(update: Update) -> bool:
    """Admin commands that move credits are never handled twice, even if one is lost in a crash
    (the admin sees no answer and can send it again; a second grant could not be taken back)."""
    message = update.message
    text = (message.text or "") if message is not None else ""
    return text.split("@", 1)[0].split(" ", 1)[0] == "/grant"


async def replay(
    app: Application[Any, Any, Any, Any, Any, Any], updates: UpdateLog, lease_s: float
) -> int:
    """Put the recorded but unhandled updates of a dead process (`UpdateLog.claim_unhandled`)
    back into the queue; returns how many."""
    queue = app.update_queue
    pending = await updates.claim_unhandled(lease_s)
    replayed = _replayed.setdefault(app, set())
    for body in pending:
        update = Update.de_json(body, app.bot)
        replayed.add(update.update_id)
        if isinstance(queue, RecordingQueue):
            await queue.replay(update)
        else:
            await queue.put(update)
    if pending:
        log.info("replaying %d update(s) received but not handled before a restart", len(pending))
    return len(pending)
