"""Fetch a provider's result video to disk, bounded in every dimension and guarded against SSRF.

The video is streamed to a temp file beside `dest` and renamed into place only when complete, so
`dest` never holds a partial file and memory never holds the whole video. Every URL, including each
redirect target, passes `check_public_url` first; redirects are followed by hand for that reason.

A hostile or broken CDN is bounded by: the compressed bytes on the wire and the decoded bytes
(`max_bytes` each; a body is decompressed here, step by step, never more than `_DECODE_STEP` at a
time, so a gzip bomb costs at most one step of memory), one content coding at most (`gzip, gzip`
is refused), the idle time between two reads (`IDLE_TIMEOUT_S`), the total time of all attempts
(`TOTAL_TIMEOUT_S`, and never past the job's own deadline: `time_budget_s`). Downloads use their
own client and connection pool (`make_download_client`), so slow downloads can never starve the
provider API calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
import zlib
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import BinaryIO

import httpx

from bot.media.net_guard import UnsafeURL, check_public_url
from bot.providers._http import parse_retry_after

MAX_REDIRECTS = 5
IDLE_TIMEOUT_S = 30.0  # no byte for this long: the CDN is stalled or trickling on purpose
TOTAL_TIMEOUT_S = 900.0  # every attempt together; a 50 MB video needs < 1 min even on 1 MB/s
# httpx's read timeout is per read from the socket, i.e. the idle timeout.
TIMEOUT = httpx.Timeout(connect=10.0, read=IDLE_TIMEOUT_S, write=10.0, pool=30.0)
# Downloads have a pool of their own: a hundred trickling CDNs queue among themselves, never in
# front of the provider API calls (which use the runtime's shared client).
DOWNLOAD_LIMITS = httpx.Limits(max_connections=32, max_keepalive_connections=8)
_DECODE_STEP = 1024 * 1024  # decoded bytes produced per decompression step, at most
# Content codings we undo ourselves (bounded); anything else, or a stack of them, is refused.
_ZLIB_WBITS = {
    "gzip": zlib.MAX_WBITS | 16,
    "x-gzip": zlib.MAX_WBITS | 16,
    "deflate": zlib.MAX_WBITS,
}
_FLUSH_BYTES = 1024 * 1024  # write to disk in ~1 MB pieces: few thread hops, little memory
_MAGIC_BYTES = 12
log = logging.getLogger(__name__)
_VIDEO_TYPES = frozenset({"application/octet-stream", "binary/octet-stream", "application/mp4"})
# Top-level ISO media boxes a video file may start with; old QuickTime files lack `ftyp`.
_ISO_BOXES = frozenset({b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"})
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"  # WebM / Matroska


class DownloadError(Exception):
    """Base of the download failures."""


class VideoTooLarge(DownloadError):
    """The video exceeds the cap; `size` is its declared size or the bytes seen so far."""

    def __init__(self, size: int) -> None:
        super().__init__(f"video too large: at least {size} bytes")
        self.size = size


class DownloadFailed(DownloadError):
    """The video could not be fetched; `status` is the HTTP status when there was one."""

    def __init__(
        self, reason: str, status: int | None = None, *, retry_after: float | None = None
    ) -> None:
        super().__init__(reason if status is None else f"{reason} (HTTP {status})")
        self.reason = reason
        self.status = status
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        """Worth another try: rate limited, a server error, or the network hiccupped."""
        return (
            self.status == 429
            or (self.status or 0) >= 500
            or self.reason.startswith(("timed out", "transport error"))
        )


RETRIES = 2  # result URLs live for hours: a short wait beats failing a paid job
MAX_RETRY_WAIT_S = 30.0
_sleep = asyncio.sleep  # tests replace it to record waits instead of sleeping


def make_download_client(transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """The one client for result downloads: its own pool, bounded timeouts, no content coding
    asked for. `transport` is where an address-pinning SSRF transport plugs in."""
    return httpx.AsyncClient(
        timeout=TIMEOUT,
        limits=DOWNLOAD_LIMITS,
        headers={"Accept-Encoding": "identity"},  # a video gains nothing from gzip
        follow_redirects=False,
        trust_env=False,  # no proxy from the environment: the SSRF guard checks the real peer
        transport=transport,
    )


async def download_video(
    client: httpx.AsyncClient,
    url: str,
    dest: Path,
    *,
    max_bytes: int,
    allow_private: bool,
    time_budget_s: float | None = None,
) -> int:
    """Stream the video at `url` into `dest`, retrying transient failures; returns its size.

    All attempts together take at most `TOTAL_TIMEOUT_S`, and at most `time_budget_s` (what is
    left of the job's deadline) when given."""
    budget = TOTAL_TIMEOUT_S if time_budget_s is None else min(TOTAL_TIMEOUT_S, time_budget_s)
    if budget <= 0:
        raise DownloadFailed("out of time: the job's deadline has passed")
    try:
        async with asyncio.timeout(budget):
            return await _download_with_retries(
                client, url, dest, max_bytes=max_bytes, allow_private=allow_private
            )
    except TimeoutError as exc:
        raise DownloadFailed(f"out of time: not complete after {budget:.0f} s") from exc


async def _download_with_retries(
    client: httpx.AsyncClient, url: str, dest: Path, *, max_bytes: int, allow_private: bool
) -> int:
    for attempt in range(RETRIES + 1):
        try:
            return await _download_once(
                client, url, dest, max_bytes=max_bytes, allow_private=allow_private
            )
        except DownloadFailed as exc:
            wait = exc.retry_after if exc.retry_after is not None else float(2**attempt)
            if not exc.transient or attempt == RETRIES or wait > MAX_RETRY_WAIT_S:
                raise
            log.warning("video download failed (%s); retrying in %.1f s", exc, wait)
            await _sleep(wait)
    raise AssertionError("unreachable")


async def _download_once(
    client: httpx.AsyncClient, url: str, dest: Path, *, max_bytes: int, allow_private: bool
) -> int:
    current = httpx.URL(url)
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            await check_public_url(str(current), allow_private=allow_private)
        except UnsafeURL as exc:
            raise DownloadFailed(f"unsafe URL: {exc.reason}") from exc
        try:
            async with client.stream(
                "GET", current, follow_redirects=False, timeout=TIMEOUT
            ) as response:
                if response.is_redirect:
                    current = current.join(response.headers["location"]).copy_with(fragment=None)
                    continue
                return await _save(response, dest, max_bytes)
        except httpx.TimeoutException as exc:
            raise DownloadFailed("timed out") from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise DownloadFailed(f"transport error: {type(exc).__name__}") from exc
    raise DownloadFailed(f"more than {MAX_REDIRECTS} redirects")


async def _save(response: httpx.Response, dest: Path, max_bytes: int) -> int:
    """Check the response's headers and first bytes, then stream its body into `dest`."""
    if response.status_code != httpx.codes.OK:
        raise DownloadFailed(
            "unexpected HTTP status",
            response.status_code,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )
    declared = _content_length(response)
    if declared is not None and declared > max_bytes:
        raise VideoTooLarge(declared)
    content_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type and not (content_type.startswith("video/") or content_type in _VIDEO_TYPES):
        raise DownloadFailed(f"not a video: content type {content_type!r}")
    body = _decoded_body(response, max_bytes)  # refuses an unknown or stacked coding now

    # Created synchronously (it is quick) so a cancellation cannot orphan a temp file.
    fd, temp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    temp = Path(temp_name)
    done = False
    try:
        with os.fdopen(fd, "wb") as file:
            written = await _stream_body(body, file, max_bytes)
        await asyncio.to_thread(os.replace, temp, dest)
        done = True
        return written
    finally:
        if not done:
            # Synchronous on purpose: it must also run when the task is being cancelled.
            with contextlib.suppress(OSError):
                os.unlink(temp)


def _decoded_body(response: httpx.Response, max_bytes: int) -> AsyncGenerator[bytes, None]:
    """The body's decoded bytes, bounded on the wire and after decoding (see the module doc).

    httpx would decode a whole network chunk at once (a 3.5 kB `gzip, gzip` body becomes
    gigabytes in one call): we read the raw bytes and decompress in bounded steps instead."""
    codings = [
        c.strip().lower()
        for c in response.headers.get("content-encoding", "").split(",")
        if c.strip() and c.strip().lower() != "identity"
    ]
    if len(codings) > 1 or (codings and codings[0] not in _ZLIB_WBITS):
        raise DownloadFailed(f"unsupported content encoding {', '.join(codings)[:40]!r}")
    wbits = _ZLIB_WBITS[codings[0]] if codings else None
    return _bounded_chunks(response, max_bytes, wbits)


async def _bounded_chunks(
    response: httpx.Response, max_bytes: int, wbits: int | None
) -> AsyncGenerator[bytes, None]:
    received = 0
    decoder = zlib.decompressobj(wbits) if wbits is not None else None
    async for raw in response.aiter_raw():
        received += len(raw)
        if received > max_bytes:
            raise VideoTooLarge(received)
        if decoder is None:
            yield raw
            continue
        data = raw
        while data:
            try:
                out = decoder.decompress(data, _DECODE_STEP)
            except zlib.error as exc:
                raise DownloadFailed("corrupt compressed body") from exc
            data = decoder.unconsumed_tail
            if decoder.eof and decoder.unused_data:
                raise DownloadFailed("data after the end of the compressed body")
            if out:
                yield out  # the caller counts decoded bytes and stops at the cap
    if decoder is not None and not decoder.eof:
        raise DownloadFailed("compressed body cut short")


async def _stream_body(body: AsyncGenerator[bytes, None], file: BinaryIO, max_bytes: int) -> int:
    """Copy the body into `file`, enforcing the cap and checking the video magic bytes."""
    written = 0
    pending = bytearray()
    checked = False
    async with contextlib.aclosing(body):
        async for chunk in body:
            written += len(chunk)
            if written > max_bytes:
                raise VideoTooLarge(written)
            pending += chunk
            if not checked and len(pending) >= _MAGIC_BYTES:
                _check_magic(bytes(pending[:_MAGIC_BYTES]))
                checked = True
            if checked and len(pending) >= _FLUSH_BYTES:
                await asyncio.to_thread(file.write, pending)
                pending = bytearray()
    if not checked:
        _check_magic(bytes(pending))
    await asyncio.to_thread(file.write, pending)
    return written


def _check_magic(head: bytes) -> None:
    if head[4:8] in _ISO_BOXES or head.startswith(_EBML_MAGIC):
        return
    raise DownloadFailed("not a video: unrecognised file signature")


def _content_length(response: httpx.Response) -> int | None:
    try:
        value = int(response.headers.get("content-length", ""))
    except ValueError:
        return None
    return value if value >= 0 else None
