"""/start (two lines, one-tap description ideas, a sample clip), /help and unknown commands."""

from __future__ import annotations

import logging
import re

from telegram import Message, Update
from telegram.error import TelegramError

from bot.jobs.showcase import sample_clip
from bot.telegram import keyboards
from bot.texts import raw, t
from handlers.context import BotContext, lang
from handlers.payments import start_argument

PRESETS = ("smile", "wind", "zoom", "turn")
PRESET_KEY = "preset_prompt"  # user_data: the description tapped for the next photo

log = logging.getLogger(__name__)


async def start(update: Update, context: BotContext) -> None:
    """Greet the user in two lines, with description ideas to tap, then show a sample clip."""
    msg = update.effective_message
    if msg is None:
        return
    language = lang(update, context)
    await msg.reply_text(
        t(language, "start", quota=context.config.daily_quota),
        reply_markup=keyboards.presets_keyboard(language, PRESETS),
    )
    await start_argument(update, context)  # issue 15: /start buy, /start ref_<code>
    await _send_sample(msg, context, language)


async def _send_sample(msg: Message, context: BotContext, language: str) -> None:
    """The sample clip as a looping animation: rendered on the first /start, then re-sent by
    file_id (no second render or upload). It is a nicety: any failure is only logged."""
    caption = raw(language, "sample_caption")
    cached = context.bot_data.sample_clip_file_id
    try:
        if cached is not None:
            await msg.reply_animation(cached, caption=caption)
            return
        sent = await msg.reply_animation(await sample_clip(), caption=caption)
        if sent.animation is not None:
            context.bot_data.sample_clip_file_id = sent.animation.file_id
    except (TelegramError, OSError, ValueError) as exc:
        log.info("the /start sample clip was not sent: %s", exc)


async def on_preset_button(update: Update, context: BotContext) -> None:
    """A preset tapped: it becomes the description of the user's next photo without a caption."""
    query = update.callback_query
    if query is None or not isinstance(context.match, re.Match):
        return
    preset = context.match["value"]
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


def take_preset(context: BotContext) -> str:
    """The preset waiting for this user's next photo (used once), or ""."""
    if context.user_data is None:
        return ""
    value = context.user_data.pop(PRESET_KEY, "")
    return value if isinstance(value, str) else ""


async def help_command(update: Update, context: BotContext) -> None:
    """How to use the bot."""
    if update.effective_message:
        await update.effective_message.reply_text(t(lang(update, context), "help"))


async def unknown(update: Update, context: BotContext) -> None:
    """A command we do not know, in a private chat."""
    if update.effective_message:
        await update.effective_message.reply_text(t(lang(update, context), "unknown_command"))
