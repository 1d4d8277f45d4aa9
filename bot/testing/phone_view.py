"""A chat as a phone shows it: the fake Bot API's messages rendered as a 390 pt wide HTML page.

`render_chat(tg, chat_id, title)` returns a self-contained HTML page (photos inlined as data
URIs) of the chat's messages as they stand now: edits applied, deleted messages gone. Inline
keyboards are drawn the way Telegram's apps draw them: the buttons of a row share the width
equally and a label that does not fit is cut with an ellipsis, at 16 px. Headless Chromium turns
the page into a PNG (see `bot/demo/screenshots.py` and `make screenshots`).
"""

from __future__ import annotations

import base64
import html
from typing import Any

from bot.testing.bot_api import FakeBotApi

Json = dict[str, Any]
PHONE_WIDTH_PT = 390
BUTTON_FONT_PX = 16

_STYLE = f"""
* {{ box-sizing: border-box; }}
body {{ margin: 0; width: {PHONE_WIDTH_PT}px; background: #cfe0b8;
  font: 15px/1.35 "DejaVu Sans", "Noto Sans", sans-serif; color: #000; }}
header {{ background: #517da2; color: #fff; padding: 10px 14px; font-weight: bold; }}
.chat {{ padding: 8px 8px 16px; }}
.msg {{ margin: 6px 0; max-width: 86%; }}
.bot {{ margin-right: auto; }}
.user {{ margin-left: auto; }}
.bubble {{ border-radius: 12px; padding: 6px 9px; background: #fff;
  word-wrap: break-word; white-space: pre-wrap; }}
.user .bubble {{ background: #effdde; }}
.name {{ font-size: 13px; font-weight: bold; color: #3a6d99; }}
.quote {{ border-left: 3px solid #3a6d99; padding-left: 6px; margin-bottom: 3px;
  font-size: 13px; color: #3a6d99; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }}
.photo {{ display: block; max-width: 100%; max-height: 150px; border-radius: 8px;
  margin-bottom: 4px; }}
.video {{ background: #222; color: #fff; border-radius: 8px; height: 120px; display: flex;
  align-items: center; justify-content: center; font-size: 28px; margin-bottom: 4px; }}
.kb {{ margin-top: 2px; }}
.row {{ display: flex; gap: 3px; margin-top: 3px; }}
.btn {{ flex: 1 1 0; min-width: 0; background: rgba(80, 110, 80, .55); color: #fff;
  border-radius: 8px; padding: 9px 4px; text-align: center; font-size: {BUTTON_FONT_PX}px;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }}
.msg.bot {{ max-width: 100%; }}
.force {{ font-size: 12px; color: #555; margin-top: 2px; }}
"""


def render_chat(tg: FakeBotApi, chat_id: int, title: str) -> str:
    """The chat `chat_id` as a phone-sized HTML page."""
    stored = tg.world.messages.get(chat_id, {})
    parts = [_message_html(tg, message) for _, message in sorted(stored.items())]
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<style>{_STYLE}</style></head><body><header>{html.escape(title)}</header>"
        f'<div class="chat">{"".join(parts)}</div></body></html>'
    )


def _message_html(tg: FakeBotApi, message: Json) -> str:
    sender = message.get("from") or {}
    mine = sender.get("id") == tg.world.bot_id
    body: list[str] = []
    if not mine and message.get("chat", {}).get("type") != "private":
        body.append(f'<div class="name">{html.escape(str(sender.get("first_name", "")))}</div>')
    quoted = message.get("reply_to_message")
    if quoted:
        snippet = quoted.get("text") or quoted.get("caption") or "📷 Photo"
        body.append(f'<div class="quote">{html.escape(snippet.splitlines()[0])}</div>')
    photo = _photo_uri(tg, message)
    if photo:
        body.append(f'<img class="photo" src="{photo}">')
    if message.get("video") or message.get("animation"):
        body.append('<div class="video">▶</div>')
    text_key = "text" if "text" in message else "caption"
    text = message.get(text_key) or ""
    if text:
        body.append(_with_entities(text, message.get(f"{text_key}_entities") or []))
    bubble = f'<div class="bubble">{"".join(body)}</div>'
    keyboard = _keyboard_html(message.get("reply_markup"))
    side = "bot" if mine else "user"
    return f'<div class="msg {side}">{bubble}{keyboard}</div>'


def _photo_uri(tg: FakeBotApi, message: Json) -> str | None:
    """A small JPEG of the message's photo (the 320 px size), inlined."""
    sizes = message.get("photo") or []
    if not sizes:
        thumb = (message.get("document") or {}).get("thumbnail")
        sizes = [thumb] if thumb else []
    if not sizes:
        return None
    size = min(sizes, key=lambda s: abs(int(s.get("width", 0)) - 320))
    data = tg.world.files.get(size["file_id"])
    if data is None:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(data.data).decode()


def _with_entities(text: str, entities: list[Json]) -> str:
    """Bold and italic entities as tags (offsets are in UTF-16 code units, as on Telegram)."""
    units = text.encode("utf-16-le")
    marks: dict[int, list[str]] = {}
    tags = {"bold": "b", "italic": "i", "code": "code", "underline": "u"}
    for entity in entities:
        tag = tags.get(str(entity.get("type")))
        if tag is None:
            continue
        start, end = int(entity["offset"]) * 2, (int(entity["offset"]) + int(entity["length"])) * 2
        marks.setdefault(start, []).append(f"<{tag}>")
        marks.setdefault(end, []).insert(0, f"</{tag}>")
    out: list[str] = []
    last = 0
    for cut in sorted(marks):
        out.append(html.escape(units[last:cut].decode("utf-16-le")))
        out.extend(marks[cut])
        last = cut
    out.append(html.escape(units[last:].decode("utf-16-le")))
    return "".join(out)


def _keyboard_html(markup: Json | None) -> str:
    if not markup:
        return ""
    if markup.get("force_reply"):
        placeholder = markup.get("input_field_placeholder") or ""
        return f'<div class="force">⌨️ {html.escape(placeholder)}</div>'
    rows = markup.get("inline_keyboard") or []
    drawn = []
    for row in rows:
        buttons = "".join(f'<div class="btn">{html.escape(b["text"])}</div>' for b in row)
        drawn.append(f'<div class="row">{buttons}</div>')
    return f'<div class="kb">{"".join(drawn)}</div>'
