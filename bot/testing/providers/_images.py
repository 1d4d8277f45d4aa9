"""URL rules and the hosted-image check the fake providers run on every create.

The fakes fetch image URLs only on loopback hosts: a test must never reach beyond 127.0.0.1, so a
public URL (as the bot builds in production) is recorded as "not fetched" and accepted.
"""

from __future__ import annotations

import io
import ipaddress
import re
from urllib.parse import urlsplit

import httpx
from PIL import Image, UnidentifiedImageError

from bot.testing.providers._records import ImageCheck, ImageProblem

MAX_IMAGE_BYTES = 10 * 1024 * 1024
ALLOWED_CONTENT_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
MAX_CALLBACK_URL = 2048
# A Telegram bot token in a Bot API or file URL: /bot123456:ABC... or /file/bot...
_BOT_TOKEN_RE = re.compile(r"/bot\d+:|/file/bot")


def looks_like_bot_token(url: str) -> bool:
    """True when `url` carries something shaped like a Telegram bot token."""
    return bool(_BOT_TOKEN_RE.search(url))


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def is_loopback_url(url: str) -> bool:
    """True for http(s) URLs on localhost or a loopback IP: the only hosts a fake may reach."""
    if not url.startswith(("http://", "https://")):
        return False
    host = _host(url)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def strict_callback_problem(url: str) -> str | None:
    """Why evolink's documented callback rules refuse `url` (HTTPS, public host, length)."""
    if len(url) > MAX_CALLBACK_URL:
        return f"callback_url must not exceed {MAX_CALLBACK_URL} characters"
    if not url.startswith("https://"):
        return "callback_url must use HTTPS"
    host = _host(url)
    if not host:
        return "callback_url has no host"
    if host == "localhost":
        return "callback_url must not point to a private address"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None  # a DNS name: the fake cannot resolve it offline, so it is taken as public
    if not ip.is_global:
        return "callback_url must not point to a private address"
    return None


def _refused(
    url: str,
    problem: ImageProblem,
    reason: str,
    *,
    status: int | None = None,
    content_type: str | None = None,
    size: int | None = None,
    width: int | None = None,
    height: int | None = None,
    fmt: str | None = None,
) -> ImageCheck:
    return ImageCheck(
        url,
        False,
        reason,
        status=status,
        content_type=content_type,
        size=size,
        width=width,
        height=height,
        format=fmt,
        problem=problem,
        token_in_url=looks_like_bot_token(url),
    )


async def check_image(
    client: httpx.AsyncClient,
    url: str,
    *,
    min_side: int = 1,
    max_aspect: float | None = None,
    max_bytes: int = MAX_IMAGE_BYTES,
    fetch_timeout: float = 10.0,
) -> ImageCheck:
    """GET `url` like the provider would and say whether the image is acceptable."""
    token = looks_like_bot_token(url)
    if not is_loopback_url(url):
        reason = "not fetched: non-loopback host"
        return ImageCheck(url, True, reason, fetched=False, token_in_url=token)
    try:
        async with client.stream("GET", url, timeout=fetch_timeout) as resp:
            ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower() or None
            data = bytearray()
            async for chunk in resp.aiter_bytes():
                data.extend(chunk)
                if len(data) > max_bytes:
                    break  # the provider stops reading, the image is refused anyway
    except httpx.HTTPError as exc:
        return _refused(url, "unreachable", f"unreachable: {type(exc).__name__}")
    status, size = resp.status_code, len(data)
    if status != 200:
        reason = f"unreachable: HTTP {status}"
        return _refused(url, "unreachable", reason, status=status, content_type=ctype, size=size)
    if ctype not in ALLOWED_CONTENT_TYPES:
        reason = f"unsupported content type {ctype}"
        return _refused(url, "format", reason, status=status, content_type=ctype, size=size)
    if size > max_bytes:
        reason = f"image larger than {max_bytes} bytes"
        return _refused(url, "size", reason, status=status, content_type=ctype, size=size)
    try:
        with Image.open(io.BytesIO(bytes(data))) as image:
            fmt, (width, height) = image.format, image.size
    except (UnidentifiedImageError, OSError):
        reason = "not a decodable image"
        return _refused(url, "format", reason, status=status, content_type=ctype, size=size)
    reason = ""
    problem: ImageProblem = "dimension"
    if fmt not in ALLOWED_CONTENT_TYPES.values():
        reason, problem = f"unsupported image format {fmt}", "format"
    elif min(width, height) < min_side:
        reason = f"{width}x{height}: a side is below {min_side} px"
    elif max_aspect is not None and max(width / height, height / width) > max_aspect:
        reason = f"{width}x{height}: aspect ratio beyond {max_aspect}:1"
    if reason:
        return _refused(
            url,
            problem,
            reason,
            status=status,
            content_type=ctype,
            size=size,
            width=width,
            height=height,
            fmt=fmt,
        )
    return ImageCheck(
        url,
        True,
        "ok",
        status=status,
        content_type=ctype,
        size=size,
        width=width,
        height=height,
        format=fmt,
        token_in_url=token,
    )
