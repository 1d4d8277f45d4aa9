"""Bot API methods about files: sendPhoto/Video/Document/Animation and getFile."""

from __future__ import annotations

import copy
import functools
import io
import mimetypes
import posixpath
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from PIL import Image

from bot.testing.bot_api.compose import (
    MAX_CAPTION,
    Handler,
    formatted,
    new_bot_message,
    set_formatted,
)
from bot.testing.bot_api.store import DOWNLOAD_LIMIT, MB, StoredFile, World
from bot.testing.bot_api.wire import ApiError, Json, UploadedFile, bad_request

UPLOAD_LIMIT = 50 * MB  # multipart uploads to the cloud Bot API
LOCAL_UPLOAD_LIMIT = 2000 * MB  # a local Bot API server (--local)
_URL_LIMIT = {"photo": 5 * MB}  # send-by-URL; other kinds DOWNLOAD_LIMIT (20 MB)
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_DEFAULT_MIME = {"video": "video/mp4", "animation": "video/mp4"}
_THUMB_MAX_BYTES = 200 * 1024
_THUMB_MAX_SIDE = 320


class MediaMethods:
    """Handlers that take or return files; uploads are kept and re-sendable by file_id."""

    def __init__(
        self,
        world: World,
        session: Callable[[], aiohttp.ClientSession | None],
        upload_limit: int = UPLOAD_LIMIT,
    ) -> None:
        self.world = world
        self.session = session
        self.upload_limit = upload_limit
        # sendVideo answers `animation` for a silent MP4 and `document` for a non-MP4, as
        # Telegram does; off only for a test that needs every upload to stay a `video`.
        self.video_kinds_like_telegram = True
        # What Telegram makes of an upload is decided on its side (how it judges sound, looping
        # or format is not documented): a test can force the kind to exercise the bot's handling.
        self.video_kind_override: str | None = None

    def handlers(self) -> dict[str, Handler]:
        """Method name -> handler."""
        sends = {"sendPhoto": "photo", "sendVideo": "video", "sendDocument": "document"}
        sends["sendAnimation"] = "animation"
        table: dict[str, Handler] = {
            name: functools.partial(self.send, kind) for name, kind in sends.items()
        }
        table["getFile"] = self.get_file
        return table

    async def send(self, kind: str, params: Json, files: dict[str, UploadedFile]) -> Json:
        """send<Kind>: a Message carrying the new or re-used file."""
        chat, message = new_bot_message(self.world, params)
        source = await self._source(kind, params, files)
        caption, entities = formatted(params, "caption", "caption_entities")
        if len(caption) > MAX_CAPTION:
            raise bad_request("message caption is too long")
        if isinstance(source, StoredFile):
            message.update(_reuse(kind, source))
        else:
            if kind == "video" and self.video_kind_override is not None:
                kind = self.video_kind_override
            elif kind == "video" and self.video_kinds_like_telegram:
                kind = telegram_video_kind(source.data)
            message.update(self._store(kind, source, params, files))
        set_formatted(message, "caption", caption, entities)
        if params.get("has_spoiler") and kind != "document":
            message["has_media_spoiler"] = True
        if params.get("show_caption_above_media") and caption:
            message["show_caption_above_media"] = True
        return copy.deepcopy(self.world.add_message(chat, message))

    async def get_file(self, params: Json, files: dict[str, UploadedFile]) -> Json:
        """getFile: path relative to the file base URL; 20 MB download cap."""
        stored = self.world.files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise bad_request("invalid file_id")
        if len(stored.data) > DOWNLOAD_LIMIT:
            raise bad_request("file is too big")
        return stored.file_json()

    async def _source(
        self, kind: str, params: Json, files: dict[str, UploadedFile]
    ) -> UploadedFile | StoredFile:
        value = params.get(kind)
        upload = files.get(kind)
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value.removeprefix("attach://"))
            if upload is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
        if upload is None and isinstance(value, str) and value.startswith(("http://", "https://")):
            upload = await self._fetch(kind, value)
        if upload is not None:
            if len(upload.data) > self.upload_limit:
                raise ApiError(413, "Request Entity Too Large")
            if not upload.data:
                raise bad_request("file must be non-empty")
            return upload
        if not value:
            raise bad_request(f"there is no {kind} in the request")
        stored = self.world.files.get(str(value))
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        if stored.kind != kind:
            raise bad_request("type of file mismatch")
        return stored

    async def _fetch(self, kind: str, url: str) -> UploadedFile:
        """Send-by-URL, as Telegram's servers do it; only loopback is reachable offline."""
        session = self.session()
        limit = _URL_LIMIT.get(kind, DOWNLOAD_LIMIT)
        if session is None or urlsplit(url).hostname not in _LOOPBACK:
            raise bad_request("failed to get HTTP URL content")
        try:
            async with session.get(url) as response:
                data = await response.content.read(limit + 1)
                ok = response.status == 200 and len(data) <= limit
                content_type = response.content_type
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise bad_request("failed to get HTTP URL content") from exc
        if not ok:
            raise bad_request("failed to get HTTP URL content")
        name = posixpath.basename(urlsplit(url).path) or None
        return UploadedFile(kind, name, content_type, data)

    def _store(
        self, kind: str, upload: UploadedFile, params: Json, files: dict[str, UploadedFile]
    ) -> Json:
        if kind == "photo":
            return {"photo": self._photo(upload.data)}
        mime = _mime(kind, upload)
        ext = (mimetypes.guess_extension(mime) or ".bin").lstrip(".")
        stored = self.world.add_file(upload.data, kind, ext)
        media: Json = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        if kind in ("video", "animation"):
            for key in ("width", "height", "duration"):
                value = params.get(key)
                media[key] = value if isinstance(value, int) and value > 0 else 0
        if upload.filename:
            media["file_name"] = upload.filename
        media["mime_type"] = mime
        media["file_size"] = len(upload.data)
        if kind == "document":
            thumbnail = self.world.thumbnail(upload.data)  # Telegram previews image documents
        else:
            thumbnail = self._thumbnail(params.get("thumbnail"), files)
        if thumbnail is not None:
            media["thumbnail"] = thumbnail
        stored.meta = media
        return _reuse(kind, stored)

    def _photo(self, data: bytes) -> list[Json]:
        try:
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise bad_request("IMAGE_PROCESS_FAILED") from exc
        if width + height > 10000 or max(width, height) > 20 * min(width, height):
            raise bad_request("PHOTO_INVALID_DIMENSIONS")
        return self.world.photo_sizes(data)

    def _thumbnail(self, value: Any, files: dict[str, UploadedFile]) -> Json | None:
        """Keep an uploaded thumbnail only if Telegram would: JPEG, ≤200 kB, ≤320 px a side."""
        upload = files.get("thumbnail")
        if isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value.removeprefix("attach://"))
        if upload is None or len(upload.data) > _THUMB_MAX_BYTES:
            return None
        try:
            with Image.open(io.BytesIO(upload.data)) as image:
                kind, (width, height) = image.format, image.size
        except (OSError, ValueError, Image.DecompressionBombError):
            return None
        if kind != "JPEG" or max(width, height) > _THUMB_MAX_SIDE:
            return None
        stored = self.world.add_file(upload.data, "thumbnail", "jpg")
        return self.world.photo_size(stored, width, height)


_SOUND_TRACK = re.compile(rb"hdlr.{8}soun", re.DOTALL)  # an MP4 handler box of a sound track


def telegram_video_kind(data: bytes) -> str:
    """What Telegram turns a sendVideo upload into: only an MP4 with sound stays a `video`."""
    if data[4:8] != b"ftyp":
        return "document"  # "other formats may be sent as Document"
    if _SOUND_TRACK.search(data) is None:
        return "animation"  # a silent MP4 is shown (and returned) as a GIF-like animation
    return "video"


def _mime(kind: str, upload: UploadedFile) -> str:
    if upload.content_type and upload.content_type != "application/octet-stream":
        return upload.content_type
    guessed = mimetypes.guess_type(upload.filename or "")[0]
    return guessed or _DEFAULT_MIME.get(kind, "application/octet-stream")


def _reuse(kind: str, stored: StoredFile) -> Json:
    """The Message fields for a stored file (an animation also shows up as a document)."""
    if kind == "photo":
        sizes = stored.meta if isinstance(stored.meta, list) else []
        return {"photo": copy.deepcopy(sizes)}
    media = copy.deepcopy(stored.meta)
    if kind != "animation":
        return {kind: media}
    document = {k: v for k, v in media.items() if k not in ("width", "height", "duration")}
    return {"animation": media, "document": document}
