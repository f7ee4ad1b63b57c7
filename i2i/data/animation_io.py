"""Animated GIF, WebP and PNG (APNG) through Pillow: frames out with their durations, and the
same kind of animation written back with the same durations and loop count.

Pillow hands out each frame fully composited (disposal and blending applied), so the frames a
model sees are what a viewer shows. The writer holds the (encoded-size) output frames until the
end, as Pillow's animated encoders need them all at once; animations are short by nature.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import ImageError
from .media_types import ANIMATED_SUFFIXES
from .video_io import Frame

DEFAULT_DURATION_MS = 100  # what browsers show for a GIF frame without a delay


class AnimationReader:
    """Frames of one animated image, each (H, W, 3) uint8, or (H, W, 4) when it has transparency."""

    def __init__(self, path, *, max_pixels: int):
        self.path = str(path)
        try:
            self.image = Image.open(self.path)
        except Exception as e:
            raise ImageError(path, f"not a readable animation ({e})") from None
        self.format = self.image.format
        self.width, self.height = self.image.size
        if self.width * self.height > max_pixels:
            self.image.close()
            raise ImageError(
                path,
                f"{self.width}x{self.height} frames are above the limit of "
                f"{max_pixels / 1e6:.0f} megapixels (raise it with --max-pixels)",
            )
        # An APNG may store a default image before its animation (a poster for viewers without
        # APNG); Pillow hands it out as frame 0, but it is not a frame of the animation.
        self.first = 1 if self.image.info.get("default_image") else 0
        try:
            self.total_frames = self.image.n_frames - self.first  # GIF: a scan of the file
        except Exception:  # a damaged frame: events() names it when it gets there
            self.total_frames = None
        self.loop = self.image.info.get("loop")  # absent: play once (GIF without NETSCAPE block)
        info = self.image.info
        self.has_alpha = self.image.mode in ("RGBA", "LA", "PA") or "transparency" in info
        self.dropped = []

    def events(self) -> Iterator[Frame]:
        mode = "RGBA" if self.has_alpha else "RGB"
        index = 0  # of the animation's frames (Pillow's frame index - self.first)
        while True:
            try:
                self.image.seek(self.first + index)
            except EOFError:
                return
            except Exception as e:  # Pillow raises OSError, SyntaxError, struct.error... on bad data
                raise ImageError(self.path, f"corrupt animation data at frame {index} ({e})") from None
            try:
                pixels = np.asarray(self.image.convert(mode))
            except Exception as e:
                raise ImageError(self.path, f"corrupt animation data at frame {index} ({e})") from None
            duration = self.image.info.get("duration") or DEFAULT_DURATION_MS
            yield Frame(index, pixels, (duration,))
            index += 1

    def close(self):
        self.image.close()


class AnimationWriter:
    """Collects frames and writes them as a GIF, WebP or APNG to `path` on close()."""

    def __init__(self, path: Path, ext: str, *, loop: int | None, quality: int, source: str):
        self.path, self.format, self.loop, self.quality = path, ANIMATED_SUFFIXES[ext], loop, quality
        self.source = source  # named in errors (path is a temporary file)
        self.frames: list[Image.Image] = []
        self.durations: list[float] = []
        self.notes: list[str] = []

    @property
    def frames_written(self) -> int:
        return len(self.frames)

    def write(self, pixels: np.ndarray, timing: tuple):
        self.frames.append(Image.fromarray(pixels))
        self.durations.append(timing[0])

    def copy(self, packet):  # animations carry no other streams
        raise AssertionError("animations have no streams to copy")

    def close(self):
        if not self.frames:
            raise ImageError(self.source, "no frame to write")
        params: dict = {"save_all": True, "duration": self.durations}
        if self.loop is not None:
            params["loop"] = self.loop
        frames = self.frames
        if self.format == "GIF":
            frames = _shared_palette(frames)
            params["disposal"] = 2 if "transparency" in frames[0].info else 1
            if "transparency" in frames[0].info:
                params["transparency"] = frames[0].info["transparency"]
        elif self.format == "WEBP":
            params["quality"] = self.quality
            params["loop"] = self.loop or 0
        else:
            params["compress_level"] = 1
        try:
            frames[0].save(self.path, format=self.format, append_images=frames[1:], **params)
        except (OSError, ValueError) as e:
            raise ImageError(self.source, f"cannot write the {self.format} animation ({e})") from None
        self.frames = []

    def abort(self):
        self.frames = []


PALETTE_SAMPLE_PIXELS = 1 << 20
"""Pixels drawn from the whole clip (the same number from every frame) to build a GIF's shared
palette: about what median cut needs to see every colour that covers a visible area."""
OWN_PALETTE_MARGIN = 2.0
"""A GIF frame gets its own palette where the shared one maps it this many 8-bit levels further
(mean absolute error per channel) from its colours than its own palette would."""


def _shared_palette(frames: list[Image.Image]) -> list[Image.Image]:
    """Quantize the frames to one palette that represents the whole clip: a palette chosen per
    frame makes flat areas change colour from frame to frame, one made from the first frames
    loses the colours that come later. A frame whose colours that palette cannot hold (a clip
    with more than 256 colours over its length) gets its own palette, as GIF allows. Index 255
    marks transparency."""
    alpha = frames[0].mode == "RGBA"
    colours = 255 if alpha else 256
    rgb = [f.convert("RGB") for f in frames]
    palette = _sample_sheet(rgb).quantize(colours, method=Image.Quantize.MEDIANCUT)
    out = []
    for f, pixels in zip(frames, rgb):
        chosen = palette
        own = pixels.quantize(colours, method=Image.Quantize.MEDIANCUT)
        if _palette_error(pixels, palette) > _palette_error(pixels, own) + OWN_PALETTE_MARGIN:
            chosen = own
        p = pixels.quantize(palette=chosen, dither=Image.Dither.FLOYDSTEINBERG)
        if alpha:
            p.paste(255, mask=Image.fromarray((np.asarray(f)[..., 3] < 128).astype(np.uint8) * 255))
            p.info["transparency"] = 255
        out.append(p)
    return out


def _sample_sheet(frames: list[Image.Image]) -> Image.Image:
    """An RGB image of pixels drawn evenly from every frame (all of them when the clip is small),
    PALETTE_SAMPLE_PIXELS at most; the draw is seeded, so a clip always gets the same palette."""
    rng = np.random.default_rng(0)
    per_frame = max(1, PALETTE_SAMPLE_PIXELS // len(frames))
    drawn = []
    for f in frames:
        pixels = np.asarray(f).reshape(-1, 3)
        if len(pixels) > per_frame:
            pixels = pixels[rng.choice(len(pixels), per_frame, replace=False)]
        drawn.append(pixels)
    sample = np.concatenate(drawn)
    return Image.fromarray(sample[None])


def _palette_error(pixels: Image.Image, palette: Image.Image) -> float:
    """Mean absolute difference (8-bit levels) between an RGB image and its nearest colours in
    `palette` (no dithering: how far the flat areas move)."""
    mapped = pixels.quantize(palette=palette, dither=Image.Dither.NONE).convert("RGB")
    return float(np.abs(np.asarray(mapped, np.int16) - np.asarray(pixels, np.int16)).mean())
