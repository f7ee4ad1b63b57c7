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
from ..files import PNG_COMPRESS_LEVEL
from .media_types import ANIMATED_SUFFIXES
from .video_io import Frame

DEFAULT_DURATION_MS = 100  # what browsers show for a GIF frame without a delay


class AnimationReader:
    """Frames of one animated image, each (H, W, 3) uint8, or (H, W, 4) when it has transparency."""

    def __init__(self, path, *, max_pixels: int, name: str | None = None):
        """path: a file, or a binary file object (stdin's bytes); name: what messages call it
        (default: the path)."""
        self.path = name or str(path)
        try:
            self.image = Image.open(path if hasattr(path, "read") else str(path))
        except Exception as e:
            raise ImageError(self.path, f"not a readable animation ({e})") from None
        self.format = self.image.format
        self.width, self.height = self.image.size
        if self.width * self.height > max_pixels:
            self.image.close()
            raise ImageError(
                self.path,
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
        self.plays = _plays(self.format, self.image.info.get("loop"))
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

    def __init__(self, path: Path, ext: str, *, plays: int, quality: int, source: str):
        """plays: how many times the animation is shown, 0 for ever (AnimationReader.plays)."""
        self.path, self.format, self.plays, self.quality = path, ANIMATED_SUFFIXES[ext], plays, quality
        self.source = source  # named in errors (path is a temporary file)
        self.frames: list[Image.Image] = []
        self.durations: list[float] = []
        self.notes: list[str] = []
        self.size: tuple[int, int] | None = None
        """(width, height) of the frames written."""

    @property
    def frames_written(self) -> int:
        return len(self.frames)

    def write(self, pixels: np.ndarray, timing: tuple):
        self.frames.append(Image.fromarray(pixels))
        self.size = (pixels.shape[1], pixels.shape[0])
        self.durations.append(timing[0])

    def copy(self, packet):  # animations carry no other streams
        raise AssertionError("animations have no streams to copy")

    def close(self):
        if not self.frames:
            raise ImageError(self.source, "no frame to write")
        params: dict = {"save_all": True, "duration": self.durations}
        loop = _loop_field(self.format, self.plays)
        if loop is not None:
            params["loop"] = loop
        frames = self.frames
        if self.format == "GIF":
            frames = _shared_palette(frames)
            params["disposal"] = 2 if "transparency" in frames[0].info else 1
            if "transparency" in frames[0].info:
                params["transparency"] = frames[0].info["transparency"]
        elif self.format == "WEBP":
            params["quality"] = self.quality
        else:
            params["compress_level"] = PNG_COMPRESS_LEVEL
        try:
            frames[0].save(self.path, format=self.format, append_images=frames[1:], **params)
        except (OSError, ValueError) as e:
            raise ImageError(self.source, f"cannot write the {self.format} animation ({e})") from None
        self.frames = []

    def abort(self):
        self.frames = []


def _plays(fmt: str, loop: int | None) -> int:
    """Pillow's `loop` of an animation read -> times it is shown (0: for ever). APNG's num_plays
    and WebP's loop count are that already; a GIF's NETSCAPE loop count is the repeats after the
    first showing (what browsers do), and a GIF without one plays once."""
    if fmt != "GIF":
        return loop or 0
    if loop is None:
        return 1
    return 0 if loop == 0 else loop + 1


def _loop_field(fmt: str, plays: int) -> int | None:
    """Times shown (0: for ever) -> Pillow's `loop` for writing `fmt` (None: leave it out, which
    for a GIF means no NETSCAPE block: shown once)."""
    if fmt != "GIF":
        return plays
    if plays == 0:
        return 0
    return None if plays == 1 else plays - 1


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
