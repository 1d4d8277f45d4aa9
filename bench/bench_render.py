"""Time the local provider's pan/zoom render against a same-run baseline (not part of the tests).

The baseline encodes black frames of the same size and count with the same x264 settings and the
same silent AAC track, so the ratio shows what the photo work (resize per frame, RGB -> YUV)
costs on top of the bare encoder on this machine, whatever the machine is.

Usage:
    python bench/bench_render.py                 # synthetic 1600x1200 photo
    python bench/bench_render.py --photo my.jpg --repeat 3 --fps 24
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import av
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import QUICK, Figure, save

from bot.media.render import (
    MP4_OPTIONS,
    X264_OPTIONS,
    SilentAudio,
    even_size,
    render_pan_zoom,
)

CASES = [(5, 480), (5, 720), (10, 480), (10, 720)]
QUICK_CASES = [(5, 480)]


def synthetic_photo(path: Path, width: int = 1600, height: int = 1200) -> Path:
    """A photo-like test image: gradients, detail and noise (flat images flatter the encoder)."""
    base = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    noise = Image.effect_noise((width, height), 40).convert("RGB")
    image = Image.blend(base, noise, 0.35)
    draw = ImageDraw.Draw(image)
    for i in range(0, width, 97):
        draw.ellipse([i, (i * 7) % height, i + 120, (i * 7) % height + 90], outline=(255, 200, 0))
    image.save(path, "JPEG", quality=90)
    return path


def baseline(out: Path, width: int, height: int, duration_s: int, fps: int) -> float:
    """Seconds to encode black frames of the same size and count, with the same settings."""
    start = time.perf_counter()
    black = av.VideoFrame(width, height, "yuv420p")
    for plane, value in zip(black.planes, (16, 128, 128), strict=True):
        plane.update(bytes([value]) * plane.buffer_size)  # video-range black
    with av.open(str(out), "w", format="mp4", options=MP4_OPTIONS) as container:
        video = container.add_stream("libx264", rate=fps, options=X264_OPTIONS)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = SilentAudio(container)
        for i in range(duration_s * fps):
            black.pts = i
            container.mux(video.encode(black))
            audio.write_until((i + 1) / fps)
        container.mux(video.encode(None))
        audio.flush()
    return time.perf_counter() - start


async def loop_lag_ms(photo: Path, out: Path, fps: int) -> float:
    """Worst event-loop delay while one 10 s / 720 render runs in a worker thread."""
    done = False
    worst = 0.0

    async def ticker() -> None:
        nonlocal worst
        while not done:
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            worst = max(worst, time.perf_counter() - before - 0.005)

    tick = asyncio.create_task(ticker())
    await asyncio.to_thread(render_pan_zoom, photo, out, duration_s=10, fps=fps, max_side=720)
    done = True
    await tick
    return worst * 1000


def main() -> None:
    """Run every case, print one table row each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", type=Path, help="photo to render (default: synthetic)")
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=1, help="runs per case; the best counts")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        photo = args.photo or synthetic_photo(work / "photo.jpg")
        with Image.open(photo) as img:
            src_size = img.size
        size = f"{src_size[0]}x{src_size[1]}"
        print(f"photo {photo.name} {size}, fps {args.fps}, best of {args.repeat}")
        print(
            f"{'dur':>4} {'side':>5} {'size':>9} {'render s':>9} {'base s':>7} {'ratio':>6} "
            f"{'x realtime':>10} {'MB':>6}"
        )
        figures = []
        for duration, side in QUICK_CASES if QUICK else CASES:
            width, height = even_size(*src_size, side)
            rendered, base = [], []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                result = render_pan_zoom(
                    photo, work / "out.mp4", duration_s=duration, fps=args.fps, max_side=side
                )
                rendered.append(time.perf_counter() - t0)
                base.append(baseline(work / "base.mp4", width, height, duration, args.fps))
            best, floor = min(rendered), min(base)
            print(
                f"{duration:>4} {side:>5} {width:>4}x{height:<4} {best:>9.2f} {floor:>7.2f} "
                f"{best / floor:>6.2f} {duration / best:>10.1f} "
                f"{result.size_bytes / 1e6:>6.2f}"
            )
            figures.append(
                Figure(
                    "render", f"pan & zoom render, {duration} s at {side} px", best, "s", floor,
                    "bare x264 encode of black frames, same size/count/settings",
                    "none (tracks the renderer's cost)", None,
                )
            )  # fmt: skip

        lag = asyncio.run(loop_lag_ms(photo, work / "lag.mp4", args.fps))
        print(f"worst event-loop delay during a 10 s / 720 render in a thread: {lag:.1f} ms")
        save("render", figures, {"loop_lag_ms": lag})


if __name__ == "__main__":
    main()
