"""Regenerate the video before/after in examples/: style-starry-night on a panning clip, frame by
frame and with temporal consistency.

* video_stylize_strip.png: rows input / frame by frame / temporal; columns two consecutive frames
  and their difference after compensating the pan (x4, so flicker shows as bright speckle).
* video_stylize_before_after.webp: the three side by side, animated (lossy WebP, no palette
  dithering to add flicker of its own).

Run: python examples/make_video_example.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from benchmarks.clips import load_photo, pan_zoom, read_frames, write_clip  # noqa: E402
from benchmarks.common import DATA, WEIGHTS  # noqa: E402
from benchmarks.video import engine_for, run_clip  # noqa: E402
from i2i.data.video_io import EncoderSettings  # noqa: E402
from i2i.engine.adapters import RGBAdapter  # noqa: E402
from i2i.engine.video import VideoOptions  # noqa: E402

OUT = ROOT / "examples"
SIZE, FRAMES, PAN = (320, 180), 24, 2


def label(im: Image.Image, text: str) -> Image.Image:
    ImageDraw.Draw(im).text((4, 3), text, fill="white", stroke_width=2, stroke_fill="black")
    return im


def pan_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|b(x) - a(x + pan)| x 4, grey, the right PAN columns black."""
    d = np.zeros(a.shape[:2], np.float32)
    d[:, :-PAN] = np.abs(b[:, :-PAN].astype(np.float32) - a[:, PAN:]).mean(axis=2) * 4
    return np.repeat(np.clip(d, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def main() -> None:
    photo = load_photo(DATA / "sr/val/Set14/monarch.png")
    frames = pan_zoom(photo, SIZE, FRAMES, pan=(PAN, 0), start=(300, 160), noise=0.5)
    lossless = EncoderSettings(codec="ffv1", pix_fmt="bgr0")
    engine = engine_for(WEIGHTS / "style-starry-night.safetensors", lambda m: RGBAdapter(task=m.task))
    with tempfile.TemporaryDirectory() as tmp:
        clip = write_clip(Path(tmp) / "pan.mkv", frames, audio=False, codec="ffv1")
        _, plain = run_clip(engine, clip, Path(tmp) / "plain", VideoOptions(encoder=lossless, consistent=False))
        _, smooth = run_clip(engine, clip, Path(tmp) / "temporal", VideoOptions(encoder=lossless))
        rows = {
            "input": read_frames(clip),
            "frame by frame": read_frames(plain),
            "temporal (default)": read_frames(smooth),
        }
    t = FRAMES // 2
    strip = []
    for name, seq in rows.items():
        cells = [
            label(Image.fromarray(seq[t]), f"{name}, frame {t}"),
            label(Image.fromarray(seq[t + 1]), f"frame {t + 1}"),
            label(Image.fromarray(pan_difference(seq[t], seq[t + 1])), "change after the pan, x4"),
        ]
        strip.append(np.concatenate([np.asarray(c) for c in cells], axis=1))
    Image.fromarray(np.concatenate(strip, axis=0)).save(OUT / "video_stylize_strip.png", optimize=True)
    animation = [
        label(
            Image.fromarray(np.concatenate([seq[i] for seq in rows.values()], axis=1)),
            "input | frame by frame | temporal",
        )
        for i in range(FRAMES)
    ]
    animation[0].save(
        OUT / "video_stylize_before_after.webp",
        save_all=True,
        append_images=animation[1:],
        duration=1000 // 12,
        loop=0,
        quality=70,
    )
    print(OUT / "video_stylize_strip.png", OUT / "video_stylize_before_after.webp")


if __name__ == "__main__":
    main()
