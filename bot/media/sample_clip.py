"""A sample clip for /start: a drawn picture run through the local renderer, so a new user sees
what a photo becomes before sending one (no provider, no credits, no file shipped with the bot).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from bot.media.render import render_pan_zoom

SIZE = (640, 480)
CLIP_SECONDS = 3
CLIP_FPS = 20
CLIP_SIDE = 480  # small: it is a preview, sent once per process and then reused by file_id


def sample_picture() -> Image.Image:
    """A landscape: sky fading to the horizon, a sun, two hills and a house."""
    fade = Image.linear_gradient("L").resize(SIZE)  # 0 at the top, 255 at the bottom
    image = Image.merge(
        "RGB",
        (
            fade.point(lambda v: 90 + v // 3),
            fade.point(lambda v: 150 + v // 4),
            fade.point(lambda v: 235 - v // 6),
        ),
    )
    draw = ImageDraw.Draw(image)
    draw.ellipse((430, 60, 530, 160), fill=(255, 214, 90))
    draw.ellipse((-200, 300, 380, 720), fill=(86, 160, 76))
    draw.ellipse((220, 330, 860, 760), fill=(60, 132, 64))
    draw.rectangle((120, 300, 220, 380), fill=(236, 226, 206))
    draw.polygon([(110, 300), (170, 250), (230, 300)], fill=(178, 64, 52))
    draw.rectangle((158, 335, 182, 380), fill=(120, 78, 48))
    return image


def render_sample_clip(work_dir: Path) -> Path:
    """Write the picture and its clip into `work_dir`; returns the MP4 (silent, a few seconds)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    photo = work_dir / "sample.jpg"
    sample_picture().save(photo, "JPEG", quality=90)
    clip = work_dir / "sample.mp4"
    render_pan_zoom(photo, clip, duration_s=CLIP_SECONDS, fps=CLIP_FPS, max_side=CLIP_SIDE)
    return clip
