"""The idle barrier: wait until the bot and the fakes have nothing left to do.

An "exactly once" or "nothing else happened" assertion is only meaningful once every wake-up the
bot spawned has run: a duplicate callback's second delivery, a due poll, a paced status edit.
`wait_idle` returns when, checked twice in a row with nothing waited on in between:

- the fake Bot API has no update the bot has not taken and no request it is still answering;
- PTB has processed every update it took (its update queue is joined);
- the job context has no background task but its loops (BACKGROUND_LOOPS), and no paced edit
  is waiting;
- no submitted job has a poll that is due now (a due poll is run, not skipped);
- every provider fake has no callback delivery or timer in flight, and the local renderer no
  render running.

It waits on those things themselves (tasks, queues, the fakes' signals), never on a sleep.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from bot.runtime import BACKGROUND_LOOPS, BotRuntime
from bot.testing.bot_api import FakeBotApi


class QuietFake(Protocol):
    """A provider fake: `idle()` returns once nothing of its own is in flight."""

    _background: set[asyncio.Task[Any]]

    async def idle(self, timeout: float = 10.0) -> None: ...  # noqa: ASYNC109


async def wait_idle(
    tg: FakeBotApi,
    runtime: BotRuntime,
    *providers: QuietFake,
    timeout: float = 20.0,  # noqa: ASYNC109 - the test-control API names it so
) -> None:
    """Return once the bot and every fake are idle (see the module docstring)."""
    async with asyncio.timeout(timeout):
        quiet_checks = 0
        while quiet_checks < 2:
            if await _wait_once(tg, runtime, providers):
                quiet_checks = 0
            else:
                quiet_checks += 1
                await asyncio.sleep(0)  # one loop turn: callbacks already scheduled run first


async def _wait_once(
    tg: FakeBotApi, runtime: BotRuntime, providers: tuple[QuietFake, ...]
) -> bool:
    """Wait for whatever is busy now; True if anything was."""
    ctx, app, poller = runtime.ctx, runtime.app, runtime.poller
    assert ctx is not None and app is not None and poller is not None
    waited = False
    if tg.pending_updates:
        await tg.wait_until(lambda: not tg.pending_updates)
        waited = True
    if app.update_queue.qsize() or app.update_processor.current_concurrent_updates:
        waited = True
    await app.update_queue.join()  # every update taken has been handled
    current = asyncio.current_task()
    tasks = ctx.tasks.running()
    busy = [t for t in tasks if t.get_name() not in BACKGROUND_LOOPS and t is not current]
    busy += ctx.messenger.waiting_edits()
    for provider in ctx.registry.providers:
        busy += list(getattr(provider, "_runners", ()))  # the local renderer's renders
    if busy:
        await asyncio.wait(busy)
        waited = True
    if tg.in_flight:
        await tg.wait_until(lambda: tg.in_flight == 0)
        waited = True
    for fake in providers:
        if fake._background:
            await fake.idle()
            waited = True
    if await ctx.store.due_for_poll(ctx.clock()) and await poller.poll_once():
        waited = True  # a due poll is work the bot would do next: let it happen
    return waited


async def bot_tasks_done(runtime: BotRuntime) -> None:
    """The narrower wait: every task the bot spawned has finished (its endless loops aside).

    For tests that only need the bot's own work done (no fake to drain, no due poll to run)."""
    assert runtime.ctx is not None
    tasks = runtime.ctx.tasks
    while busy := [
        t for t in tasks.running() if t.get_name() not in BACKGROUND_LOOPS and not t.done()
    ]:
        await asyncio.wait(busy, timeout=10)
