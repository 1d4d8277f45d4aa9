"""MediaStore: tokens, traversal attempts, expiry with an injected clock, reload after restart."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from bot.media.hosted import MediaStore, is_valid_token
from bot.media.photos import PreparedPhoto

JPEG = PreparedPhoto(b"\xff\xd8\xff fake jpeg bytes", "image/jpeg", 640, 480, True)
PNG = PreparedPhoto(b"\x89PNG\r\n\x1a\n fake png", "image/png", 640, 480, True)


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> MediaStore:
    return MediaStore(tmp_path / "media", default_ttl_s=100, clock=clock)


def test_put_then_get_returns_the_bytes_and_type(store: MediaStore) -> None:
    token = store.put(7, JPEG)

    found = store.get(token)

    assert found is not None
    path, content_type = found
    assert content_type == "image/jpeg"
    assert path.read_bytes() == JPEG.data
    assert path.parent == store.root
    assert store.path_for_job(7) == path
    assert store.token_for_job(7) == token


def test_tokens_are_long_urlsafe_and_unique(store: MediaStore) -> None:
    tokens = {store.put(1, JPEG) for _ in range(50)}

    assert len(tokens) == 50
    for token in tokens:
        assert re.fullmatch(r"[A-Za-z0-9_-]{32}", token)
        assert len(base64.urlsafe_b64decode(token)) * 8 >= 128
        assert is_valid_token(token)


@pytest.mark.parametrize(
    "token",
    [
        "../x",
        "%2e%2e",
        "..%2F..%2Fetc%2Fpasswd",
        "../" * 10 + "etc/passwd",
        "a" * 31,
        "a" * 33,
        "a" * 31 + "/",
        "a" * 31 + ".",
        "a" * 31 + "%",
        "",
    ],
)
def test_malformed_tokens_resolve_to_nothing(store: MediaStore, token: str) -> None:
    store.put(1, JPEG)
    (store.root.parent / "x").write_bytes(b"outside the store")

    assert store.get(token) is None
    assert not is_valid_token(token)


def test_well_formed_but_unknown_token_resolves_to_nothing(store: MediaStore) -> None:
    token = store.put(1, JPEG)
    other = ("b" if token[0] == "a" else "a") + token[1:]

    assert store.get(other) is None


def test_token_expires_and_files_go(store: MediaStore, clock: Clock) -> None:
    token = store.put(3, JPEG)
    found = store.get(token)
    assert found is not None
    path = found[0]

    clock.now += 99.9
    assert store.get(token) is not None
    clock.now += 0.1
    assert store.get(token) is None
    assert not path.exists()
    assert list(store.root.iterdir()) == []
    assert store.path_for_job(3) is None


def test_custom_ttl_and_purge_expired(store: MediaStore, clock: Clock) -> None:
    short = store.put(1, JPEG, ttl_s=10)
    long = store.put(2, PNG, ttl_s=1000)

    clock.now += 50
    assert store.purge_expired() == 1
    assert store.get(short) is None
    assert store.get(long) is not None
    assert store.purge_expired() == 0
    assert sorted(p.suffix for p in store.root.iterdir()) == [".json", ".png"]


def test_release_job_deletes_only_that_jobs_files(store: MediaStore) -> None:
    first = store.put(5, JPEG)
    second = store.put(5, PNG)
    kept = store.put(6, JPEG)

    store.release_job(5)

    assert store.get(first) is None and store.get(second) is None
    assert store.path_for_job(5) is None
    found = store.get(kept)
    assert found is not None
    assert {p.name for p in store.root.iterdir()} == {found[0].name, f"{kept}.json"}


def test_sidecar_records_job_type_and_expiry(store: MediaStore, clock: Clock) -> None:
    token = store.put(9, PNG)

    sidecar = json.loads((store.root / f"{token}.json").read_text())

    assert sidecar == {"job_id": 9, "content_type": "image/png", "expires_at": clock.now + 100}


def test_reload_after_restart_keeps_valid_and_drops_expired(tmp_path: Path, clock: Clock) -> None:
    root = tmp_path / "media"
    before = MediaStore(root, default_ttl_s=100, clock=clock)
    alive = before.put(1, JPEG, ttl_s=500)
    dying = before.put(2, PNG, ttl_s=10)
    (root / "stray.jpg").write_bytes(b"left by a crash")
    (root / f"{'c' * 32}.jpg.tmp").write_bytes(b"half written")
    (root / f"{'d' * 32}.json").write_text("{not json")

    clock.now += 60
    after = MediaStore(root, default_ttl_s=100, clock=clock)
    assert after.get(alive) is None  # nothing known before load()
    assert after.load() == 1

    found = after.get(alive)
    assert found is not None
    assert found == (root / f"{alive}.jpg", "image/jpeg")
    assert found[0].read_bytes() == JPEG.data
    assert after.path_for_job(1) == found[0]
    assert after.get(dying) is None
    assert {p.name for p in root.iterdir()} == {f"{alive}.jpg", f"{alive}.json"}


def test_reload_drops_an_entry_whose_image_is_missing(tmp_path: Path, clock: Clock) -> None:
    root = tmp_path / "media"
    token = MediaStore(root, clock=clock).put(4, JPEG)
    (root / f"{token}.jpg").unlink()

    after = MediaStore(root, clock=clock)

    assert after.load() == 0
    assert after.get(token) is None
    assert list(root.iterdir()) == []


def test_unhostable_content_type_is_refused(store: MediaStore) -> None:
    gif = PreparedPhoto(b"GIF89a", "image/gif", 1, 1, False)

    with pytest.raises(ValueError, match="image/gif"):
        store.put(1, gif)
    assert list(store.root.iterdir()) == []
