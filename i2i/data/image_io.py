"""Reading and writing images: PIL <-> float arrays, EXIF, ICC, alpha, 16-bit, atomic writes.

Convention: pixels are float32 numpy arrays (H, W, C) in [0, 1], C = 1 (grayscale) or 3 (RGB);
alpha travels separately as (H, W).
"""
from __future__ import annotations

import io
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ImageError

DEFAULT_MAX_PIXELS = 200_000_000
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".ppm",
                  ".pgm", ".tga"}
FORMAT_BY_EXT = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP", "bmp": "BMP",
                 "tif": "TIFF", "tiff": "TIFF", "gif": "GIF", "ppm": "PPM", "pgm": "PPM",
                 "tga": "TGA"}
EXT_BY_FORMAT = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "BMP": "bmp", "TIFF": "tif",
                 "GIF": "png", "PPM": "ppm", "TGA": "png", "MPO": "jpg"}

# We check the pixel count ourselves with a clear message; PIL's own guard would only warn.
Image.MAX_IMAGE_PIXELS = None


@dataclass(frozen=True)
class ImageData:
    pixels: np.ndarray
    """(H, W, C) float32 in [0, 1]; C is 1 or 3."""
    alpha: np.ndarray | None = None
    """(H, W) float32 in [0, 1], or None."""
    bit_depth: int = 8
    """8 or 16: written back at the same depth where the format allows."""
    format: str = "PNG"
    """PIL format name of the source."""
    icc_profile: bytes | None = None
    exif: bytes | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)"""
        return self.pixels.shape[1], self.pixels.shape[0]

    @property
    def is_gray(self) -> bool:
        return self.pixels.shape[2] == 1

    def with_pixels(self, pixels, alpha=None) -> "ImageData":
        return replace(self, pixels=pixels, alpha=alpha)


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def read_image(source, *, name: str | None = None, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageData:
    """Decode a path or bytes; any failure becomes one ImageError naming the file."""
    name = name or str(source)
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise ImageError(name, "empty input (0 bytes)")
        source = io.BytesIO(source)
    else:
        try:
            if os.path.getsize(source) == 0:
                raise ImageError(name, "empty file (0 bytes)")
        except OSError as e:
            raise ImageError(name, f"cannot read ({e.strerror or e})") from None
    try:
        im = Image.open(source)
    except UnidentifiedImageError:
        raise ImageError(name, "not an image (format not recognised)") from None
    except OSError as e:
        raise ImageError(name, f"cannot read ({e.strerror or e})") from None
    w, h = im.size
    if w * h > max_pixels:
        raise ImageError(name, f"{w}x{h} is {w * h / 1e6:.0f} megapixels, above the limit of "
                               f"{max_pixels / 1e6:.0f} (raise it with --max-pixels)")
    try:
        im.load()
        fmt = im.format or "PNG"
        im = ImageOps.exif_transpose(im)
    except Exception as e:  # PIL raises OSError, SyntaxError, ValueError... for bad data
        raise ImageError(name, f"truncated or corrupt image data ({e})") from None
    return _from_pil(im, fmt)


def _from_pil(im: Image.Image, fmt: str) -> ImageData:
    icc, exif = im.info.get("icc_profile"), im.info.get("exif")
    mode = im.mode
    alpha = None
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float32).clip(0, 65535) / 65535
        return ImageData(arr[..., None], None, 16, fmt, icc, exif)
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode in ("1", "F"):
        im = im.convert("L")
    elif mode == "PA":
        im = im.convert("RGBA")
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        im = im.convert("RGB")  # CMYK, YCbCr, LAB, HSV
    arr = np.asarray(im, dtype=np.float32) / 255
    if arr.ndim == 2:
        arr = arr[..., None]
    if im.mode in ("LA", "RGBA"):
        alpha, arr = arr[..., -1], arr[..., :-1]
    return ImageData(np.ascontiguousarray(arr), alpha, 8, fmt, icc, exif)


def quantize(pixels: np.ndarray, bit_depth: int = 8) -> np.ndarray:
    """Float samples in [0, 1] -> uint8 or uint16, rounded."""
    if bit_depth == 16:
        return (np.clip(pixels, 0, 1) * 65535 + 0.5).astype(np.uint16)
    return (np.clip(pixels, 0, 1) * 255 + 0.5).astype(np.uint8)


def to_pil(img: ImageData) -> Image.Image:
    """ImageData -> PIL image in the mode its depth, channels and alpha call for."""
    if img.bit_depth == 16 and img.is_gray and img.alpha is None:
        return Image.fromarray(quantize(img.pixels[..., 0], 16))  # mode I;16
    arr = img.pixels if img.alpha is None else np.concatenate([img.pixels, img.alpha[..., None]], 2)
    arr8 = quantize(arr)
    if arr8.shape[2] == 2:  # Pillow infers L, RGB, RGBA from the shape, but not LA
        return Image.merge("LA", [Image.fromarray(arr8[..., 0]), Image.fromarray(arr8[..., 1])])
    return Image.fromarray(arr8[..., 0] if arr8.shape[2] == 1 else arr8)


# zlib level for PNG outputs. Level 1 encodes a 2560x1920 photo about four times faster than
# Pillow's default 6 for files about a fifth larger (benchmarks/png_level.py): large upscaled PNGs
# were encode-bound.
PNG_COMPRESS_LEVEL = 1


def encode_params(fmt: str, img: ImageData, quality: int) -> dict:
    params: dict = {"compress_level": PNG_COMPRESS_LEVEL} if fmt == "PNG" else {}
    if img.icc_profile and fmt in ("PNG", "JPEG", "WEBP", "TIFF"):
        params["icc_profile"] = img.icc_profile
    if img.exif and fmt in ("PNG", "JPEG", "WEBP", "TIFF"):
        params["exif"] = img.exif
    if fmt in ("JPEG", "WEBP"):
        params["quality"] = quality
    if fmt == "JPEG":
        params["subsampling"] = 0 if quality >= 90 else 2
    return params


def encode_image(img: ImageData, fmt: str, quality: int = 95) -> bytes:
    pil = to_pil(img)
    if fmt == "JPEG" and pil.mode not in ("L", "RGB"):
        pil = pil.convert("L" if img.is_gray else "RGB")
    buf = io.BytesIO()
    pil.save(buf, format=fmt, **encode_params(fmt, img, quality))
    return buf.getvalue()


@contextmanager
def atomic_output(path) -> Iterator[BinaryIO]:
    """A file written under a temporary name beside `path` and renamed to it only on success:
    an interrupted or failed write never leaves a truncated output."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(data: bytes, path) -> None:
    with atomic_output(path) as f:
        f.write(data)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_save(pil: Image.Image, path, format: str = "PNG", **params) -> None:
    buf = io.BytesIO()
    pil.save(buf, format=format, **params)
    atomic_write_bytes(buf.getvalue(), path)


def load_rgb(path, size: int | None = None) -> Image.Image:
    """A PIL RGB image for training data (EXIF applied), optionally resized to `size` short side."""
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
    except Exception as e:
        raise ImageError(path, f"cannot read as an image ({e})") from None
    if size:
        w, h = im.size
        s = size / min(w, h)
        im = im.resize((max(size, round(w * s)), max(size, round(h * s))), Image.BICUBIC)
    return im
