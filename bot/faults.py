"""Deterministic crash points for the crash test (never active unless the variable is set).

`P2V_CRASH_AT="<point>[:<n>]"` makes the process kill itself (SIGKILL, no clean-up, exactly like
`kill -9`) the n-th time (default 1st) execution reaches `crash_point("<point>")`. This is how the
crash test stops the real bot at exact places in a job's life instead of at random moments.
"""

from __future__ import annotations

import os
import signal
import sys

POINTS = (
    "draft_created",  # a draft exists, nothing paid
    "reserved",  # credits reserved, nothing sent to a provider
    "before_create",  # job marked submitting, create request not sent
    "after_create",  # the provider accepted the task, the database does not know its id
    "submitted",  # the task id is recorded
    "before_query",  # about to ask the provider where the task stands
    "after_query",  # the provider answered, nothing acted on yet
    "claimed",  # the job is claimed for delivery (downloading)
    "downloaded",  # the video is on disk
    "before_send",  # sending recorded, sendVideo not called
    "after_send",  # Telegram accepted the video, the database does not know yet
    "delivered",  # delivery recorded, status message not updated
    "failed",  # failure and refund recorded, user not told yet
    "cancelled",  # cancel recorded, user not told yet
    "update_recorded",  # an update is in the database, not handled, its offset not confirmed
    "update_handled",  # an update's handlers ran, the database does not know yet
)
# issue 15: kill points of a Stars purchase (their own crash test, tests/test_payments_crash.py).
PAYMENT_POINTS = (
    "payment_received",  # successful_payment received, before the ledger write
    "payment_credited",  # the purchase is in the ledger, the buyer not told yet
)

_plan = os.environ.get("P2V_CRASH_AT", "")
_point, _, _count = _plan.partition(":")
_remaining = int(_count) if _count.isdigit() else 1


def crash_point(name: str) -> None:
    """Die here if the crash plan says so."""
    global _remaining
    if not _point or name != _point:
        return
    _remaining -= 1
    if _remaining <= 0:
        sys.stderr.write(f"crash point {name} reached: killing the process\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)
