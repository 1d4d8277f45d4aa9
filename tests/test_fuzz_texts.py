"""Every text the bot builds around user input is valid Telegram HTML and within its limits.

Checked with the fake Bot API's parser (tdlib's rules), over arbitrary Unicode plus the markup
characters that used to break things (`&`, `<`, `>`, the NUL the views use as a placeholder).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.catalog import ModelSpec, OptionSpec
from bot.models import Job, JobStatus
from bot.storage import Balance
from bot.telegram import views
from bot.testing.bot_api.html import parse_html

MAX_TEXT = 4096
MAX_CAPTION = 1024

SPEC = ModelSpec(
    "grok",
    "Grok <Imagine> & co",
    (OptionSpec("mode", ("fun", "normal"), "normal"), OptionSpec("duration", ("6", "10"), "6")),
)
BASE = Job(
    id=7, user_id=1, chat_id=1, thread_id=None, photo_message_id=1, status_message_id=2,
    photo_file_id="f", photo_width=640, photo_height=480, prompt="", model="grok",
    options={"mode": "normal", "duration": "6"}, price=1, status=JobStatus.DRAFT,
    provider="evolink",
    task_id="t", callback_secret="s", tried_providers=(), progress=40, eta_s=90, deadline_at=None,
    next_poll_at=None, poll_interval=None, error_kind="send", error_message=None,
    video_file_id=None, video_message_id=None, language="en", created_at=0.0, updated_at=0.0,
    submitted_at=0.0, retry_of=None, media_token=None, ask_message_id=None, not_found_count=0,
)  # fmt: skip
BALANCE = Balance(daily=3, granted=2, daily_quota=5, resets_at=datetime(2026, 1, 1, tzinfo=UTC))

MARKUP = st.sampled_from(["&", "<", ">", "&amp;", "&lt;", "<b>", "</b>", "\x00", ";", "#", "é"])
PROMPTS = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(MARKUP, st.text(max_size=3)), max_size=400).map("".join),
    st.builds(lambda c, n: c * n, MARKUP, st.integers(0, 6000)),
)


def _visible(html_text: str, limit: int) -> str:
    plain, _ = parse_html(html_text)  # raises the 400 Telegram would answer
    assert len(plain) <= limit, (len(plain), limit)
    return plain


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prompt=PROMPTS, language=st.sampled_from(["en", "ru"]))
def test_every_view_of_any_prompt_is_valid_html_within_limits(prompt: str, language: str) -> None:
    job = dataclasses.replace(BASE, prompt=prompt, language=language)
    caption = _visible(views.caption(job, SPEC.title), MAX_CAPTION)
    if prompt.strip():
        # The prompt's start survives intact (escaped, then parsed back to the same text).
        head = prompt.strip()[:20]
        assert caption.startswith("🎬 " + head) or caption.startswith("🎬 " + head[:19])
    private = views.OptionsScene(price_of=lambda _model, _options: 3, balance=BALANCE)
    text, _ = views.options_view(job, {"grok": SPEC}, private)
    _visible(text, MAX_TEXT)
    # In a group the owner's first name (chosen by the user, like the prompt) is shown too.
    group = views.OptionsScene(price_of=lambda _model, _options: 3, owner=prompt)
    text, _ = views.options_view(job, {"grok": SPEC}, group)
    _visible(text, MAX_TEXT)
    for status in JobStatus:
        _visible(views.status_text(dataclasses.replace(job, status=status), SPEC.title), MAX_TEXT)


@settings(max_examples=50, deadline=None)
@given(char=MARKUP, exponent=st.integers(3, 6))
def test_building_a_caption_escapes_a_bounded_part_of_any_prompt(char: str, exponent: int) -> None:
    """Linear in the input: the text is cut before it is escaped, so the markup built from a
    prompt of a million characters is no longer than from one of a thousand."""
    frame = "🎬 \x00\n<i>model</i>"
    built = views.fill_bounded(frame, char * 10**exponent, MAX_CAPTION)
    # at most limit + 1 characters were escaped, each into at most 5 ("&amp;")
    assert len(built) <= len(frame) + 5 * (MAX_CAPTION + 1)
    _visible(built, MAX_CAPTION)


def test_a_frame_with_no_room_left_keeps_the_frame_only() -> None:
    frame = "x" * 1030 + "\x00"
    assert views.fill_bounded(frame, "&&&", MAX_CAPTION, empty="") == "x" * 1030
