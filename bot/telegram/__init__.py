"""Telegram presentation: keyboards, message views, the messenger and video delivery.

With the composition root and `handlers/`, this package is the only code that imports `telegram`
(checked by the import contract in pyproject.toml): the job logic speaks in the names below.
"""

from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup

#: An inline keyboard attached to a message, and one of its buttons.
Keyboard = InlineKeyboardMarkup
Button = InlineKeyboardButton


def with_row(markup: Keyboard, row: list[Button]) -> Keyboard:
    """The same keyboard with one more row at the bottom."""
    return InlineKeyboardMarkup([*markup.inline_keyboard, row])


def prompt_question_markup(placeholder: str) -> ForceReply:
    """Selective ForceReply: sent as a reply to the user's photo, it targets the photo's author."""
    return ForceReply(selective=True, input_field_placeholder=placeholder)
