"""/start (two lines and one-tap description ideas), /help and unknown commands."""

from __future__ import annotations

from telegram import Update

from bot.telegram import keyboards
from bot.texts import raw, t
from handlers.context import Context, config, lang

PRESETS = ("smile", "wind", "zoom", "turn")
PRESET_KEY = "preset_prompt"  # user_data: the description tapped for the next photo


async def start(update: Update, context: Context) -> None:
    """Greet the user in two lines, with description ideas to tap before sending a photo."""
    if update.effective_message:
        language = lang(update, context)
        await update.effective_message.reply_text(
            t(language, "start", quota=config(context).daily_quota),
            reply_markup=keyboards.presets_keyboard(language, PRESETS),
        )


async def on_preset_button(update: Update, context: Context, preset: str) -> None:
    """A preset tapped: it becomes the description of the user's next photo without a caption."""
    query = update.callback_query
    assert query is not None
    language = lang(update, context)
    if preset not in PRESETS:
        await query.answer(raw(language, "stale_button"))
        return
    prompt = raw(language, f"preset_{preset}_prompt")
    if context.user_data is not None:
        context.user_data[PRESET_KEY] = prompt
    await query.answer()
    if query.message is not None:
        await context.bot.send_message(
            query.message.chat.id, t(language, "preset_chosen", prompt=prompt)
        )


def take_preset(context: Context) -> str:
    """The preset waiting for this user's next photo (used once), or ""."""
    if context.user_data is None:
        return ""
    value = context.user_data.pop(PRESET_KEY, "")
    return value if isinstance(value, str) else ""


async def help_command(update: Update, context: Context) -> None:
    """How to use the bot."""
    if update.effective_message:
        await update.effective_message.reply_text(t(lang(update, context), "help"))


async def unknown(update: Update, context: Context) -> None:
    """A command we do not know, in a private chat."""
    if update.effective_message:
        await update.effective_message.reply_text(t(lang(update, context), "unknown_command"))
