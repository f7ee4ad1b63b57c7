"""Reading and writing images: PIL/OpenCV <-> float arrays, EXIF, ICC, DPI, text, alpha, 16-bit,
atomic writes.

Convention: pixels are float32 numpy arrays (H, W, C) in [0, 1], C = 1 (grayscale) or 3 (RGB);
alpha travels separately as (H, W).

Pillow decodes and encodes everything except 16-bit colour (it holds 16 bits for grayscale
only): 16-bit RGB(A) and gray+alpha PNG and TIFF files are read with OpenCV, 16-bit colour PNGs
are written by our streaming PNG encoder (which keeps the metadata) and 16-bit colour TIFFs by
OpenCV.
"""

from __future__ import annotations

import functools
import io
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from ..errors import ImageError
from ..files import PNG_COMPRESS_LEVEL, atomic_write_bytes

DEFAULT_MAX_PIXELS = 200_000_000
DEFAULT_MAX_OUTPUT_PIXELS = 1_000_000_000
FORMAT_BY_EXT = {
    "png": "PNG",
    "jpg": "JPEG",
    "jpeg": "JPEG",
    "webp": "WEBP",
    "bmp": "BMP",
    "tif": "TIFF",
    "tiff": "TIFF",
    "gif": "GIF",
    "ppm": "PPM",
    "pgm": "PPM",
    "tga": "TGA",
}
"""Extensions i2i writes (-o FILE, --ext), with the Pillow format of each."""
EXT_BY_FORMAT = {
    "PNG": "png",
    "JPEG": "jpg",
    "WEBP": "webp",
    "BMP": "bmp",
    "TIFF": "tif",
    "GIF": "png",
    "PPM": "ppm",
    "TGA": "png",
    "MPO": "jpg",
}
"""The output extension --ext auto picks for a source format (png for formats it does not keep)."""
Image.init()
if "AVIF" in Image.SAVE:  # Pillow >= 11.3 built with libavif
    FORMAT_BY_EXT["avif"] = "AVIF"
    EXT_BY_FORMAT["AVIF"] = "avif"
ALPHA_FORMATS = {"PNG", "WEBP", "TIFF", "AVIF"}
"""Formats whose alpha channel i2i writes; elsewhere transparency is flattened onto white."""
DEEP_FORMATS = {"PNG", "TIFF"}
"""Formats written at 16 bits per sample when the source had 16; others get 8, scaled."""
GRAY_FORMATS = {"PNG", "JPEG", "TIFF", "BMP", "PPM", "TGA", "GIF", "AVIF"}
"""Formats that store grayscale; the others (WebP) get RGB with three equal channels."""
MAX_SIDE = {"WEBP": 16383, "JPEG": 65535, "GIF": 65535, "TGA": 65535}
"""The largest width or height a format can store, where that is below what memory allows."""

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
    dpi: tuple[float, float] | None = None
    """Pixels per inch (x, y) of these pixels: scaled with the pixel size, so the print size stays."""
    text: dict[str, str] | None = None
    """PNG text chunks (tEXt, zTXt, iTXt), written back into PNG outputs."""

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)"""
        return self.pixels.shape[1], self.pixels.shape[0]

    @property
    def is_gray(self) -> bool:
        return self.pixels.shape[2] == 1

    def with_pixels(self, pixels, alpha=None) -> ImageData:
        return replace(self, pixels=pixels, alpha=alpha)


# ---- which files are images ----


@functools.cache
def readable_formats() -> dict[str, str]:
    """{".ext": Pillow format} for every file extension the installed Pillow can decode.

    Pillow registers some formats it can only identify (stub plugins such as GRIB or HDF5,
    MPEG, EPS without Ghostscript); those are not images here.
    """
    from PIL import EpsImagePlugin

    readable = {}
    for ext, fmt in Image.registered_extensions().items():
        opener = Image.OPEN.get(fmt)
        if fmt == "MPO":  # opened by the JPEG plugin
            readable[ext] = fmt
        elif opener is None or fmt == "MPEG" or (fmt == "EPS" and not EpsImagePlugin.has_ghostscript()):
            continue
        elif isinstance(opener[0], type) and issubclass(opener[0], ImageFile.StubImageFile):
            continue
        else:
            readable[ext] = fmt
    return readable


def is_image_path(path) -> bool:
    """Whether a file's extension is one the installed Pillow can decode (case-insensitive)."""
    return Path(path).suffix.lower() in readable_formats()


def short_side_size(size: tuple[int, int], short: int, multiple: int = 1, max_aspect: float = 8) -> tuple[int, int]:
    """(width, height) `size` scaled so its short side is `short` pixels, the long side at most
    `max_aspect` times that (a 1x4000 strip would otherwise be 256x1024000), each side rounded to
    a multiple of `multiple` (at least one) -> (height, width)."""
    w, h = size
    s = min(short / min(w, h), max_aspect * short / max(w, h))
    m = multiple
    return max(m, round(h * s / m) * m), max(m, round(w * s / m) * m)


def describe_pixels(n: int) -> str:
    """A pixel count for messages: '4096 pixels', '12.6 megapixels' (never '0 megapixels')."""
    return f"{n} pixels" if n < 1_000_000 else f"{n / 1e6:.3g} megapixels"


# ---- decoding ----


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
        raise ImageError(
            name,
            f"{w}x{h} is {describe_pixels(w * h)}, above the limit of "
            f"{describe_pixels(max_pixels)} (raise it with --max-pixels)",
        )
    try:
        fmt = im.format or "PNG"
        if _is_deep_color(im, fmt):
            return _read_deep_color(im, source, fmt)
        im.load()
        text = dict(getattr(im, "text", None) or {}) if fmt == "PNG" else None
        orientation = im.getexif().get(0x0112, 1)
        im = ImageOps.exif_transpose(im)
    except MemoryError:
        raise ImageError(name, "not enough memory to decode it") from None
    except Exception as e:  # PIL raises OSError, SyntaxError, ValueError... for bad data
        raise ImageError(name, f"truncated or corrupt image data ({e})") from None
    return _from_pil(im, fmt, text=text, transposed=orientation in (5, 6, 7, 8))


def _dpi(info: dict, transposed: bool) -> tuple[float, float] | None:
    dpi = info.get("dpi")
    try:
        x, y = float(dpi[0]), float(dpi[1])
    except (TypeError, ValueError, IndexError):
        return None
    if not (x > 0 and y > 0 and np.isfinite(x) and np.isfinite(y)):
        return None
    return (y, x) if transposed else (x, y)


def _from_pil(im: Image.Image, fmt: str, *, text: dict | None = None, transposed: bool = False) -> ImageData:
    icc, exif = im.info.get("icc_profile") or None, im.info.get("exif") or None
    meta = dict(format=fmt, exif=exif, dpi=_dpi(im.info, transposed), text=text or None)
    mode = im.mode
    if mode == "F":  # floating-point samples (TIFF): scaled by their range, not clipped to 8 bits
        arr = np.nan_to_num(np.asarray(im, dtype=np.float32))
        peak = float(arr.max(initial=0))
        arr = arr / (1 if peak <= 1 else 255 if peak <= 255 else 65535 if peak <= 65535 else peak)
        return ImageData(np.clip(arr, 0, 1)[..., None], None, 16, icc_profile=icc, **meta)
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        raw = np.asarray(im)
        arr = raw.astype(np.float32).clip(0, 65535) / 65535
        alpha = None
        key = im.info.get("transparency")
        if isinstance(key, int):  # tRNS colour key on 16-bit gray
            alpha = (raw != key).astype(np.float32)
        return ImageData(arr[..., None], alpha, 16, icc_profile=icc, **meta)
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode in ("L", "RGB") and "transparency" in im.info:  # a tRNS colour key: one colour is see-through
        im = im.convert("LA" if mode == "L" else "RGBA")
    elif mode == "1":
        im = im.convert("L")
    elif mode in ("PA", "RGBa"):  # RGBa: premultiplied alpha (TIFF, PSD); Pillow divides it out
        im = im.convert("RGBA")
    elif mode == "La":
        im = im.convert("LA")
    elif mode not in ("L", "LA", "RGB", "RGBA"):  # CMYK, YCbCr, LAB, HSV...
        im, icc = _to_srgb(im, icc)
    arr = np.asarray(im, dtype=np.float32) / 255
    if arr.ndim == 2:
        arr = arr[..., None]
    alpha = None
    if im.mode in ("LA", "RGBA"):
        alpha, arr = arr[..., -1], arr[..., :-1]
    return ImageData(np.ascontiguousarray(arr), alpha, 8, icc_profile=icc, **meta)


def icc_color_space(icc: bytes | None) -> bytes | None:
    """The data colour space of an ICC profile (b'RGB ', b'GRAY', b'CMYK', b'Lab '...) from its
    header (ICC.1 section 7.2.6), or None when the bytes are not a profile."""
    if not icc or len(icc) < 128 or icc[36:40] != b"acsp":
        return None
    return icc[16:20]


def _to_srgb(im: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """A CMYK/Lab/... image -> RGB. With an embedded profile of the image's own colour space,
    colour-managed (ImageCms, perceptual intent); the result is sRGB and carries no profile, since
    the source profile describes the old colour space (a CMYK profile on RGB pixels breaks viewers)."""
    from PIL import ImageCms

    space = {"CMYK": b"CMYK", "LAB": b"Lab ", "YCbCr": b"YCbr"}.get(im.mode)
    try:
        if space and icc_color_space(icc) == space:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(im, source, ImageCms.createProfile("sRGB"), outputMode="RGB"), None
        if im.mode == "LAB":  # Pillow has no plain LAB -> RGB conversion
            return ImageCms.profileToProfile(
                im, ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), outputMode="RGB"
            ), None
    except (ImageCms.PyCMSError, OSError, ValueError):
        pass  # an unusable profile: Pillow's plain conversion below
    return im.convert("RGB"), None


def _rawmode(im: Image.Image) -> str:
    """How the file stores its samples (e.g. 'RGB;16B', 'LA;16B'), from Pillow's header parse."""
    if not im.tile:
        return ""
    args = im.tile[0].args
    rawmode = args if isinstance(args, str) else (args[0] if args else "")
    return rawmode if isinstance(rawmode, str) else ""


def _is_deep_color(im: Image.Image, fmt: str) -> bool:
    """A 16-bit colour or gray+alpha PNG/TIFF, which Pillow would decode at 8 bits."""
    return fmt in ("PNG", "TIFF") and im.mode in ("RGB", "RGBA", "LA") and ";16" in _rawmode(im)


def _read_deep_color(im: Image.Image, source, fmt: str) -> ImageData:
    """16 bits per sample through OpenCV; metadata and orientation from Pillow's header parse."""
    import cv2

    if isinstance(source, io.BytesIO):
        data = source.getvalue()
    else:
        with open(source, "rb") as f:
            data = f.read()
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16 or arr.shape[:2] != (im.size[1], im.size[0]):
        raise ValueError("OpenCV could not decode its 16-bit samples")
    if arr.ndim == 2:
        arr = arr[..., None]
    alpha = None
    if arr.shape[2] in (2, 4):
        alpha, arr = arr[..., -1], arr[..., :-1]
    arr = arr[..., ::-1] if arr.shape[2] == 3 else arr  # OpenCV's BGR
    if _rawmode(im).startswith("LA"):  # gray+alpha: Pillow calls it RGBA, OpenCV gives BGRA
        arr = arr[..., :1]
    key = im.info.get("transparency")
    if alpha is None and isinstance(key, tuple) and arr.shape[2] == 3:  # tRNS colour key
        alpha = np.where((arr == np.array(key, np.uint16)).all(axis=2), 0, 65535).astype(np.uint16)
    exif = im.getexif()
    orientation = exif.get(0x0112, 1)
    arr = orient(arr, orientation)
    alpha = None if alpha is None else orient(alpha, orientation)
    pixels = np.ascontiguousarray(arr, dtype=np.float32) / 65535
    return ImageData(
        pixels,
        None if alpha is None else alpha.astype(np.float32) / 65535,
        16,
        fmt,
        im.info.get("icc_profile") or None,
        im.info.get("exif") or None,
        _dpi(im.info, orientation in (5, 6, 7, 8)),
        dict(getattr(im, "text", None) or {}) or None,
    )


def orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """(H, W, ...) pixels stored with EXIF orientation 1-8 -> upright, as ImageOps.exif_transpose."""
    if orientation in (5, 6, 7, 8):
        # 5: transpose; 6: rotate 90 clockwise; 7: transverse; 8: rotate 90 anticlockwise
        arr = {
            5: lambda a: a.swapaxes(0, 1),
            6: lambda a: np.rot90(a, -1),
            7: lambda a: np.rot90(a, 2).swapaxes(0, 1),
            8: lambda a: np.rot90(a, 1),
        }[orientation](arr)
    elif orientation == 2:
        arr = arr[:, ::-1]
    elif orientation == 3:
        arr = arr[::-1, ::-1]
    elif orientation == 4:
        arr = arr[::-1]
    return np.ascontiguousarray(arr)


# ---- transparency ----


def fill_transparent(img: ImageData) -> ImageData:
    """Fully transparent pixels take the colour of the nearest visible pixel.

    The colour under alpha 0 is invisible but not inert: a network or a resampling filter mixes
    it into the visible neighbours (a sprite on transparent black upscales with a dark fringe).
    Filling it from the visible edge ("alpha bleeding", as texture tools do) makes the result
    independent of what was hidden there. Partly transparent pixels keep their colour.
    """
    if img.alpha is None:
        return img
    hidden = img.alpha <= 0
    if not hidden.any():
        return img
    if hidden.all():
        return replace(img, pixels=np.zeros_like(img.pixels))
    import cv2

    # Distance to the nearest zero pixel, labelled per zero pixel (numbered in raster order).
    _, labels = cv2.distanceTransformWithLabels(hidden.astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    ys, xs = np.nonzero(~hidden)
    nearest = labels[hidden] - 1
    pixels = img.pixels.copy()
    pixels[hidden] = img.pixels[ys[nearest], xs[nearest]]
    return replace(img, pixels=pixels)


# ---- encoding ----


def quantize(pixels: np.ndarray, bit_depth: int = 8) -> np.ndarray:
    """Float samples in [0, 1] -> uint8 or uint16, scaled and rounded."""
    if bit_depth == 16:
        return (np.clip(pixels, 0, 1) * 65535 + 0.5).astype(np.uint16)
    return (np.clip(pixels, 0, 1) * 255 + 0.5).astype(np.uint8)


def to_pil(img: ImageData) -> Image.Image:
    """ImageData -> PIL image in the mode its depth, channels and alpha call for.

    Pillow holds 16 bits for grayscale without alpha only (mode I;16); other 16-bit images come
    back at 8 bits (encode_image writes them at 16)."""
    if img.bit_depth == 16 and img.is_gray and img.alpha is None:
        return Image.fromarray(quantize(img.pixels[..., 0], 16))  # mode I;16
    arr = img.pixels if img.alpha is None else np.concatenate([img.pixels, img.alpha[..., None]], 2)
    arr8 = quantize(arr)
    if arr8.shape[2] == 2:  # Pillow infers L, RGB, RGBA from the shape, but not LA
        return Image.merge("LA", [Image.fromarray(arr8[..., 0]), Image.fromarray(arr8[..., 1])])
    return Image.fromarray(arr8[..., 0] if arr8.shape[2] == 1 else arr8)


def fit_format(img: ImageData, fmt: str) -> ImageData:
    """The image in a layout `fmt` can store: never clipped, never silently mis-tagged.

    16 bits become 8 (scaled) where the format has no 16-bit samples; transparency is flattened
    onto white where it has no alpha; gray becomes RGB where it has no grayscale.
    """
    if img.alpha is not None and fmt not in ALPHA_FORMATS:
        a = img.alpha[..., None]
        img = replace(img, pixels=img.pixels * a + (1 - a), alpha=None)
    if img.bit_depth == 16 and fmt not in DEEP_FORMATS:
        img = replace(img, bit_depth=8)
    if img.is_gray and fmt not in GRAY_FORMATS:
        img = replace(img, pixels=np.repeat(img.pixels, 3, axis=2))
    return img


def profile_for(icc: bytes | None, channels: int) -> bytes | None:
    """The ICC profile if its colour space is that of the output (GRAY for 1-2 channels, RGB for
    3-4), else None: a profile of another colour space makes colour-managed viewers fail."""
    space = icc_color_space(icc)
    return icc if (space == b"GRAY" and channels <= 2) or (space == b"RGB " and channels >= 3) else None


def exif_for(img: ImageData, size: tuple[int, int] | None = None) -> bytes | None:
    """The source EXIF made true of these pixels (or of an output of `size`): pixel dimensions,
    resolution, and no orientation (the pixels are already upright). Unparseable EXIF is passed
    on unchanged."""
    if not img.exif:
        return None
    from PIL.TiffImagePlugin import IFDRational

    try:
        exif = Image.Exif()
        exif.load(img.exif)
        w, h = size or img.size
        exif.pop(0x0112, None)  # Orientation
        for tag, value in ((0x0100, w), (0x0101, h)):  # ImageWidth, ImageLength
            if tag in exif:
                exif[tag] = value
        sub = exif.get_ifd(0x8769)  # the Exif IFD
        for tag, value in ((0xA002, w), (0xA003, h)):  # PixelXDimension, PixelYDimension
            if tag in sub:
                sub[tag] = value
        if img.dpi and 0x011A in exif:  # XResolution, YResolution
            exif[0x011A], exif[0x011B] = IFDRational(img.dpi[0]), IFDRational(img.dpi[1])
            exif[0x0128] = 2  # ResolutionUnit: inch
        return exif.tobytes()
    except Exception:  # noqa: BLE001  (vendor EXIF that Pillow cannot rewrite: keep it as it was)
        return img.exif


def scale_metadata(img: ImageData, source_size: tuple[int, int]) -> ImageData:
    """DPI scaled with the pixel size (an image upscaled x4 prints at the same size)."""
    if not img.dpi:
        return img
    (w0, h0), (w, h) = source_size, img.size
    return replace(img, dpi=(img.dpi[0] * w / w0, img.dpi[1] * h / h0))


def encode_params(fmt: str, img: ImageData, quality: int, channels: int | None = None) -> dict:
    channels = channels or img.pixels.shape[2] + (img.alpha is not None)
    params: dict = {"compress_level": PNG_COMPRESS_LEVEL} if fmt == "PNG" else {}
    icc = profile_for(img.icc_profile, channels)
    if icc and fmt in ("PNG", "JPEG", "WEBP", "TIFF", "AVIF"):
        params["icc_profile"] = icc
    exif = exif_for(img)
    if exif and fmt in ("PNG", "JPEG", "WEBP", "TIFF", "AVIF"):
        params["exif"] = exif
    if img.dpi and fmt in ("PNG", "TIFF", "BMP"):
        params["dpi"] = img.dpi
    if img.dpi and fmt == "JPEG":
        params["dpi"] = tuple(max(1, round(v)) for v in img.dpi)  # JFIF stores whole numbers
    if img.text and fmt == "PNG":
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        for key, value in img.text.items():
            info.add_text(key, value)  # tEXt, or iTXt for text Latin-1 cannot hold
        params["pnginfo"] = info
    if fmt in ("JPEG", "WEBP", "AVIF"):
        params["quality"] = quality
    if fmt == "JPEG":
        params["subsampling"] = 0 if quality >= 90 else 2
    return params


def encode_image(img: ImageData, fmt: str, quality: int = 95) -> bytes:
    """Encode for `fmt` after fit_format; 16-bit colour goes through our PNG writer or OpenCV."""
    img = fit_format(img, fmt)
    if img.bit_depth == 16 and not (img.is_gray and img.alpha is None):
        return _encode_deep_color(img, fmt)
    pil = to_pil(img)
    buf = io.BytesIO()
    pil.save(buf, format=fmt, **encode_params(fmt, img, quality, len(pil.getbands())))
    return buf.getvalue()


def _samples16(img: ImageData) -> np.ndarray:
    arr = img.pixels if img.alpha is None else np.concatenate([img.pixels, img.alpha[..., None]], 2)
    return quantize(arr, 16)


def _encode_deep_color(img: ImageData, fmt: str) -> bytes:
    """16-bit RGB, RGBA or gray+alpha: PNG through PNGBandWriter (with ICC, EXIF, DPI and text),
    TIFF through OpenCV (with DPI; OpenCV writes no ICC or EXIF into TIFF)."""
    samples = _samples16(img)
    if fmt == "PNG":
        from .png_stream import PNGBandWriter

        buf = io.BytesIO()
        w, h = img.size
        writer = PNGBandWriter(
            buf,
            w,
            h,
            samples.shape[2],
            16,
            icc_profile=profile_for(img.icc_profile, samples.shape[2]),
            exif=exif_for(img),
            dpi=img.dpi,
            text=img.text,
        )
        writer.write(samples)
        writer.close()
        return buf.getvalue()
    import cv2

    if samples.shape[2] == 2:  # OpenCV's TIFF writer takes 1, 3 or 4 channels
        samples = np.concatenate([np.repeat(samples[..., :1], 3, axis=2), samples[..., 1:]], 2)
    bgr = samples[..., [2, 1, 0, 3]] if samples.shape[2] == 4 else samples[..., ::-1]
    params = []
    if img.dpi:
        params = [
            cv2.IMWRITE_TIFF_RESUNIT,
            2,
            cv2.IMWRITE_TIFF_XDPI,
            max(1, round(img.dpi[0])),
            cv2.IMWRITE_TIFF_YDPI,
            max(1, round(img.dpi[1])),
        ]
    ok, data = cv2.imencode(".tiff", np.ascontiguousarray(bgr), params)
    if not ok:
        raise ValueError("OpenCV could not encode a 16-bit TIFF")
    return data.tobytes()


def atomic_save(pil: Image.Image, path, format: str = "PNG", *, overwrite: bool = True, **params) -> None:
    buf = io.BytesIO()
    pil.save(buf, format=format, **params)
    atomic_write_bytes(buf.getvalue(), path, overwrite=overwrite)


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
