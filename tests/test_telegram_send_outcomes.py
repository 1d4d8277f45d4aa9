"""How the bot reads a failed Telegram call: never sent, answer lost, or chat gone.

PTB wraps the httpx error as the cause of its own; only a failure before the request left the
machine may be sent again without risking a second copy in the chat.
"""

from __future__ import annotations

import httpx
import pytest
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, TimedOut

from bot.telegram.chat_fates import ChatMoves, answer_lost, chat_gone, never_sent


def _wrapped(error: type[NetworkError], cause: Exception) -> NetworkError:
    try:
        raise error("failed") from cause
    except NetworkError as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "sent_again", "lost"),
    [
        (_wrapped(NetworkError, httpx.ConnectError("refused")), True, False),
        (_wrapped(TimedOut, httpx.ConnectTimeout("slow connect")), True, False),
        (_wrapped(TimedOut, httpx.PoolTimeout("no connection")), True, False),
        (_wrapped(NetworkError, httpx.RemoteProtocolError("dropped")), False, True),
        (_wrapped(TimedOut, httpx.ReadTimeout("slow answer")), False, True),
        (BadRequest("Wrong file identifier"), False, False),
    ],
)
def test_never_sent_versus_answer_lost(exc: NetworkError, sent_again: bool, lost: bool) -> None:
    assert never_sent(exc) is sent_again
    assert answer_lost(exc) is lost


def test_chats_that_take_no_more_messages() -> None:
    assert chat_gone(Forbidden("Forbidden: bot was blocked by the user"))
    assert chat_gone(BadRequest("Chat not found"))
    assert chat_gone(BadRequest("Topic_closed"))
    assert not chat_gone(BadRequest("Message to edit not found"))
    assert not chat_gone(ChatMigrated(-100123))


async def test_chat_moves_follow_a_migration_once_and_tell_the_owner() -> None:
    moves = ChatMoves()
    told: list[tuple[int, int]] = []

    async def on_moved(old: int, new: int) -> None:
        told.append((old, new))

    moves.on_moved = on_moved
    sent_to: list[int] = []

    async def send(chat_id: int) -> int:
        sent_to.append(chat_id)
        if chat_id == -5:
            raise ChatMigrated(-1005)
        return chat_id

    assert await moves.follow(-5, send) == -1005
    assert await moves.follow(-5, send) == -1005
    assert sent_to == [-5, -1005, -1005] and told == [(-5, -1005)]
    assert moves.current(-5) == -1005 and moves.current(7) == 7
