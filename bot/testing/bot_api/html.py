"""Telegram's HTML parse mode, after tdlib: plain text plus entities, or the exact 400.

Telegram keeps plain text plus entities with UTF-16 offsets, never the markup the bot sent, and
it rejects malformed HTML with a 400 that names the byte offset. A bare "<" in badly escaped user
input is the classic way to hit that error, so the fake reproduces it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.testing.bot_api.wire import ApiError, Json, bad_request

_SPACE = " \t\r\n\v\0"
_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
}
_TAGS = frozenset(_SIMPLE) | {"a", "tg-emoji", "blockquote", "tg-time"}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_UNQUOTED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of entity offsets."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _Open:
    tag: str
    offset: int
    begin: int
    attrs: dict[str, str] = field(default_factory=dict)


def _fail(detail: str) -> ApiError:
    return bad_request(f"can't parse entities: {detail}")


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8"))


def _decode_entity(source: str, pos: int) -> tuple[str, int] | None:
    """tdlib's decode_html_entity: &lt; &gt; &amp; &quot; and numeric ones; ';' is optional."""
    end = pos + 1
    n = len(source)
    if end < n and source[end] == "#":
        end += 1
        base = 10
        if end < n and source[end] in "xX":
            base, end = 16, end + 1
        digits = "0123456789abcdefABCDEF" if base == 16 else "0123456789"
        start = end
        while end < n and source[end] in digits:
            end += 1
        if start == end:
            return None
        code = int(source[start:end], base)
        if code == 0 or code >= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None
        char = chr(code)
    else:
        while end < n and source[end].isascii() and source[end].isalpha():
            end += 1
        named = _NAMED.get(source[pos + 1 : end])
        if named is None:
            return None
        char = named
    if end < n and source[end] == ";":
        end += 1
    return char, end


def parse_html(source: str) -> tuple[str, list[Json]]:
    """Plain text and entities for HTML parse mode, or the 400 Telegram answers."""
    out: list[str] = []
    offset = 0
    stack: list[_Open] = []
    entities: list[Json] = []
    i, n = 0, len(source)
    while i < n:
        char = source[i]
        decoded = _decode_entity(source, i) if char == "&" else None
        if decoded is not None or char != "<":
            text, i = decoded if decoded is not None else (char, i + 1)
            out.append(text)
            offset += utf16_len(text)
            continue
        begin = _byte_offset(source, i)
        if i + 1 < n and source[i + 1] == "/":
            i = _close_tag(source, i, begin, stack, entities, offset)
        else:
            tag, attrs, i = _open_tag(source, i, begin)
            stack.append(_Open(tag, offset, begin, attrs))
    if stack:
        raise _fail(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _skip_space(source: str, i: int) -> int:
    while i < len(source) and source[i] in _SPACE:
        i += 1
    return i


def _open_tag(source: str, i: int, begin: int) -> tuple[str, dict[str, str], int]:
    n = len(source)
    j = i + 1
    while j < n and source[j] not in _SPACE and source[j] != ">":
        j += 1
    if j >= n:
        raise _fail(f"Unclosed start tag at byte offset {begin}")
    tag = source[i + 1 : j].lower()
    if tag not in _TAGS:
        raise _fail(f'Unsupported start tag "{tag}" at byte offset {begin}')
    attrs: dict[str, str] = {}
    while True:
        j = _skip_space(source, j)
        if j >= n:
            raise _fail(f"Unclosed start tag at byte offset {begin}")
        if source[j] == ">":
            break
        start = j
        while j < n and source[j] not in _SPACE and source[j] not in "=>":
            j += 1
        name = source[start:j].lower()
        if not name:
            raise _fail(f'Empty attribute name in the tag "{tag}" at byte offset {begin}')
        j = _skip_space(source, j)
        if j >= n or source[j] != "=":
            if tag == "blockquote" and name == "expandable":
                attrs[name] = ""
                continue
            raise _fail(
                "Expected equal sign in declaration of an attribute of the tag "
                f'"{tag}" at byte offset {begin}'
            )
        j = _skip_space(source, j + 1)
        if j >= n:
            raise _fail(f"Unclosed start tag at byte offset {begin}")
        value, j = _attr_value(source, j, begin, tag, name)
        attrs[name] = value
    if tag == "span" and attrs.get("class") != "tg-spoiler":
        raise _fail(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
    return tag, attrs, j + 1


def _attr_value(source: str, j: int, begin: int, tag: str, name: str) -> tuple[str, int]:
    quote = source[j]
    if quote in "'\"":
        end = source.find(quote, j + 1)
        if end < 0:
            raise _fail(f"Unclosed start tag at byte offset {begin}")
        raw = source[j + 1 : end]
        parts: list[str] = []
        k = 0
        while k < len(raw):
            decoded = _decode_entity(raw, k) if raw[k] == "&" else None
            text, k = decoded if decoded is not None else (raw[k], k + 1)
            parts.append(text)
        return "".join(parts), end + 1
    end = j
    while end < len(source) and source[end] in _UNQUOTED:
        end += 1
    if end == j:
        raise _fail(
            f'Empty value of the attribute "{name}" of the tag "{tag}" at byte offset {begin}'
        )
    return source[j:end], end


def _close_tag(
    source: str, i: int, begin: int, stack: list[_Open], entities: list[Json], offset: int
) -> int:
    if not stack:
        raise _fail(f"Unexpected end tag at byte offset {begin}")
    n = len(source)
    j = i + 2
    while j < n and source[j] not in _SPACE and source[j] != ">":
        j += 1
    name = source[i + 2 : j]
    j = _skip_space(source, j)
    if j >= n or source[j] != ">":
        raise _fail(f"Unclosed end tag at byte offset {begin}")
    open_ = stack.pop()
    if name and name != open_.tag:
        raise _fail(
            f'Unmatched end tag at byte offset {begin}, expected "</{open_.tag}>", '
            f'found "</{name}>"'
        )
    length = offset - open_.offset
    if length > 0:
        entity = _entity(open_, length, stack)
        if entity is not None:
            entities.append(entity)
    return j + 1


def _entity(open_: _Open, length: int, stack: list[_Open]) -> Json | None:
    base: Json = {"offset": open_.offset, "length": length}
    tag, attrs = open_.tag, open_.attrs
    if tag == "code" and stack and stack[-1].tag == "pre":
        # <pre><code class="language-x"> is one pre entity with a language, as tdlib merges it.
        language = attrs.get("class", "")
        if language.startswith("language-"):
            stack[-1].attrs["language"] = language.removeprefix("language-")
        return None
    if tag == "pre" and attrs.get("language"):
        return {"type": "pre", **base, "language": attrs["language"]}
    if tag in _SIMPLE:
        return {"type": _SIMPLE[tag], **base}
    if tag == "a":
        href = attrs.get("href", "")
        return {"type": "text_link", **base, "url": href} if href else None
    if tag == "blockquote":
        kind = "expandable_blockquote" if "expandable" in attrs else "blockquote"
        return {"type": kind, **base}
    if tag == "tg-emoji":
        emoji_id = attrs.get("emoji-id", "")
        return {"type": "custom_emoji", **base, "custom_emoji_id": emoji_id} if emoji_id else None
    unix = attrs.get("unix", "")
    if not unix.isdigit():
        return None
    entity: Json = {"type": "date_time", **base, "unix_time": int(unix)}
    if attrs.get("format"):
        entity["date_time_format"] = attrs["format"]
    return entity
