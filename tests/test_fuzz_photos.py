"""Fuzzing the photo door: any bytes a user uploads are a checked photo or a PhotoRejected."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.media.photos import PhotoRejected, PreparedPhoto, prepare_photo
from bot.testing.sample_media import make_sample_photo

SEEDS = [make_sample_photo(64, 48, fmt) for fmt in ("JPEG", "PNG", "WEBP", "GIF", "BMP")]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A real image with bytes flipped, cut short, or with its header grafted onto garbage."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    how = draw(st.sampled_from(["flip", "truncate", "graft", "huge_dims"]))
    if how == "flip":
        for _ in range(draw(st.integers(1, 12))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    elif how == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    elif how == "graft":
        data = data[: draw(st.integers(2, 40))] + bytearray(draw(st.binary(max_size=300)))
    else:  # claim an enormous size in the header bytes (decompression-bomb shape)
        for i in range(min(len(data), 40)):
            if draw(st.booleans()):
                data[i] = 0xFF
    return bytes(data)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(mutated(), st.binary(max_size=400)))
def test_any_upload_is_a_checked_photo_or_refused(data: bytes) -> None:
    try:
        photo = prepare_photo(data)
    except PhotoRejected:
        return
    assert isinstance(photo, PreparedPhoto)
    assert photo.content_type == "image/jpeg" and photo.width > 0 and photo.height > 0
