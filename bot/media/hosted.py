"""Checked photos hosted under unguessable, expiring tokens (docs/architecture.md).

A remote provider fetches the photo from `PUBLIC_BASE_URL/media/<token>`. The token is the only
secret, so it carries 192 bits from `secrets`; it resolves until the job releases it or its TTL
passes, whichever comes first. Each photo is `root/<token>.<ext>` plus a JSON sidecar
`root/<token>.json` ({job_id, content_type, expires_at}) so hosting survives a restart (`load`).

Replicas (issue 17) share `root` (MEDIA_DIR on a volume they all mount) with `shared=True`: a
token or job this process does not know yet is looked up on disk, another replica may have
stored it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.media.photos import PreparedPhoto

log = logging.getLogger(__name__)

TOKEN_BYTES = 24  # 192 bits; token_urlsafe(24) is exactly 32 characters
TOKEN_LENGTH = 32
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{32}")  # the URL-safe base64 alphabet, TOKEN_LENGTH long
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
_SIDECAR = ".json"
_TEMP = ".tmp"


def is_valid_token(token: str) -> bool:
    """True when `token` has the exact shape of one we issue (checked before any disk access)."""
    return _TOKEN_RE.fullmatch(token) is not None


@dataclass(frozen=True)
class _Entry:
    job_id: int
    path: Path
    content_type: str
    expires_at: float


class MediaStore:
    """Keeps checked photos on disk under tokens and resolves tokens while they are valid."""

    def __init__(
        self,
        root: Path,
        *,
        default_ttl_s: float = 3 * 3600,
        clock: Callable[[], float] = time.time,  # wall clock: expiry times outlive the process
        shared: bool = False,
    ) -> None:
        self.root = root
        self.shared = shared
        self.default_ttl_s = default_ttl_s
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def put(self, job_id: int, photo: PreparedPhoto, *, ttl_s: float | None = None) -> str:
        """Store the photo for a job and return its new token."""
        ext = _EXTENSIONS.get(photo.content_type)
        if ext is None:
            raise ValueError(f"cannot host content type {photo.content_type!r}")
        token = secrets.token_urlsafe(TOKEN_BYTES)
        ttl = self.default_ttl_s if ttl_s is None else ttl_s
        entry = _Entry(
            job_id, self.root / f"{token}.{ext}", photo.content_type, self._clock() + ttl
        )
        # Image first, sidecar last: a sidecar on disk always means a complete image.
        _write_atomic(entry.path, photo.data)
        sidecar = {
            "job_id": job_id,
            "content_type": entry.content_type,
            "expires_at": entry.expires_at,
        }
        _write_atomic(self._sidecar(token), json.dumps(sidecar).encode())
        self._entries[token] = entry
        return token

    def get(self, token: str) -> tuple[Path, str] | None:
        """(path, content type) for a valid token; None when malformed, unknown or expired."""
        if not is_valid_token(token):
            return None
        entry = self._entries.get(token) or (self._adopt(token) if self.shared else None)
        if entry is None:
            return None
        if self._expired(entry):
            self._drop(token)
            return None
        if not entry.path.is_file():
            return None
        return entry.path, entry.content_type

    def path_for_job(self, job_id: int) -> Path | None:
        """The newest valid photo stored for a job, if any."""
        token = self.token_for_job(job_id)
        return self._entries[token].path if token is not None else None

    def token_for_job(self, job_id: int) -> str | None:
        """The newest valid token stored for a job, if any (to rebuild its URL after a restart)."""
        found = self._newest_token(job_id)
        if found is None and self.shared:
            self._adopt_all()  # stored by another replica sharing the folder?
            found = self._newest_token(job_id)
        return found

    def _newest_token(self, job_id: int) -> str | None:
        found: tuple[float, str] | None = None
        for token, entry in self._entries.items():
            if entry.job_id == job_id and not self._expired(entry):
                if found is None or entry.expires_at >= found[0]:
                    found = (entry.expires_at, token)
        return found[1] if found is not None else None

    def release_job(self, job_id: int) -> None:
        """Forget every token of a job and delete its files (the job reached a final state)."""
        for token in [t for t, e in self._entries.items() if e.job_id == job_id]:
            self._drop(token)

    def purge_expired(self) -> int:
        """Delete every expired photo; return how many went."""
        expired = [t for t, e in self._entries.items() if self._expired(e)]
        for token in expired:
            self._drop(token)
        return len(expired)

    def load(self) -> int:
        """Re-read the photos kept on disk (at start-up), dropping expired and broken ones."""
        self._entries.clear()
        for path in self.root.iterdir():
            if path.suffix != _SIDECAR:
                continue
            token = path.name.removesuffix(_SIDECAR)
            entry = self._read_sidecar(token, path) if is_valid_token(token) else None
            if entry is None or self._expired(entry) or not entry.path.is_file():
                self._delete_files(token, entry)
                continue
            self._entries[token] = entry
        self._delete_orphans()
        return len(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def _adopt(self, token: str) -> _Entry | None:
        """A token another replica stored in the shared folder (never deletes anything: its
        image may be written before its sidecar at this very moment)."""
        sidecar = self._sidecar(token)
        if not sidecar.is_file():
            return None
        entry = self._read_sidecar(token, sidecar)
        if entry is not None and entry.path.is_file():
            self._entries[token] = entry
            return entry
        return None

    def _adopt_all(self) -> None:
        for path in self.root.glob(f"*{_SIDECAR}"):
            token = path.name.removesuffix(_SIDECAR)
            if is_valid_token(token) and token not in self._entries:
                self._adopt(token)

    def _expired(self, entry: _Entry) -> bool:
        return self._clock() >= entry.expires_at

    def _sidecar(self, token: str) -> Path:
        return self.root / f"{token}{_SIDECAR}"

    def _drop(self, token: str) -> None:
        self._delete_files(token, self._entries.pop(token, None))

    def _delete_files(self, token: str, entry: _Entry | None) -> None:
        for path in (entry.path if entry else None, self.root / f"{token}{_SIDECAR}"):
            if path is not None:
                path.unlink(missing_ok=True)

    def _read_sidecar(self, token: str, path: Path) -> _Entry | None:
        try:
            raw = json.loads(path.read_text())
            job_id, content_type = int(raw["job_id"]), str(raw["content_type"])
            expires_at = float(raw["expires_at"])
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("dropping unreadable media sidecar %s", path.name)
            return None
        ext = _EXTENSIONS.get(content_type)
        if ext is None:
            return None
        return _Entry(job_id, self.root / f"{token}.{ext}", content_type, expires_at)

    def _delete_orphans(self) -> None:
        """Remove images without a live sidecar and temp files left by a crash mid-write."""
        keep = {e.path.name for e in self._entries.values()}
        for path in self.root.iterdir():
            if path.suffix == _SIDECAR or path.name in keep or not path.is_file():
                continue
            path.unlink(missing_ok=True)


def _write_atomic(path: Path, data: bytes) -> None:
    """Write via a temp file and rename, so a crash never leaves a half-written file."""
    temp = path.with_name(path.name + _TEMP)
    temp.write_bytes(data)
    os.replace(temp, path)
