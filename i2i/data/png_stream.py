"""A PNG encoder that takes the image a band of rows at a time.

Pillow encodes only whole images; a 6000x4000 photo upscaled x4 is 1.15 GB as 8-bit RGB before
Pillow makes its own copy. Tiled inference finishes its output in row bands, so it writes them
here as they come: memory stays at one band however large the result.
"""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

import numpy as np

from ..files import PNG_COMPRESS_LEVEL, write_all

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> gray, gray+alpha, RGB, RGBA
_PAETH = 4
_ROWS_PER_CHUNK = 64  # rows filtered at once: bounds the filter's temporary arrays


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


class PNGBandWriter:
    """Write a PNG to `stream`: header now, rows as write() is given them, the end at close()."""

    def __init__(
        self,
        stream: BinaryIO,
        width: int,
        height: int,
        channels: int,
        bit_depth: int = 8,
        *,
        icc_profile: bytes | None = None,
        exif: bytes | None = None,
        dpi: tuple[float, float] | None = None,
        text: dict[str, str] | None = None,
        level: int = PNG_COMPRESS_LEVEL,
    ):
        if channels not in _COLOR_TYPE or bit_depth not in (8, 16):
            raise ValueError(f"unsupported PNG layout: {channels} channels, {bit_depth} bits")
        self.stream, self.width, self.height = stream, width, height
        self.channels, self.bit_depth = channels, bit_depth
        self.bpp = channels * bit_depth // 8  # bytes per pixel: the Paeth "left" distance
        self.rows_written = 0
        self._compressor = zlib.compressobj(level)
        self._previous = np.zeros(width * self.bpp, np.uint8)
        header = struct.pack(">IIBBBBB", width, height, bit_depth, _COLOR_TYPE[channels], 0, 0, 0)
        self._write(_SIGNATURE + _chunk(b"IHDR", header))
        if icc_profile:
            self._write(_chunk(b"iCCP", b"icc\0\0" + zlib.compress(icc_profile)))
        if exif:
            self._write(_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\0\0") else exif))
        if dpi:  # pHYs: pixels per metre
            self._write(_chunk(b"pHYs", struct.pack(">IIB", *(round(v / 0.0254) for v in dpi), 1)))
        for key, value in (text or {}).items():
            self._write(_text_chunk(key, value))

    def write(self, rows: np.ndarray) -> None:
        """rows: (n, width, channels) uint8 (8-bit) or uint16 (16-bit)."""
        expected = np.uint8 if self.bit_depth == 8 else np.uint16
        if rows.dtype != expected or rows.shape[1:] != (self.width, self.channels):
            raise ValueError(
                f"rows must be (n, {self.width}, {self.channels}) {np.dtype(expected)}, not {rows.shape} {rows.dtype}"
            )
        if self.rows_written + len(rows) > self.height:
            raise ValueError("more rows than the image height")
        raw = rows.astype(">u2") if self.bit_depth == 16 else rows
        raw = np.ascontiguousarray(raw).view(np.uint8).reshape(len(rows), -1)
        for start in range(0, len(raw), _ROWS_PER_CHUNK):
            block = raw[start : start + _ROWS_PER_CHUNK]
            filtered = _paeth(block, self._previous, self.bpp)
            self._previous = block[-1].copy()
            out = self._compressor.compress(filtered.tobytes())
            if out:
                self._write(_chunk(b"IDAT", out))
        self.rows_written += len(rows)

    def close(self) -> None:
        if self.rows_written != self.height:
            raise ValueError(f"PNG has {self.rows_written} of its {self.height} rows")
        tail = self._compressor.flush()
        if tail:
            self._write(_chunk(b"IDAT", tail))
        self._write(_chunk(b"IEND", b""))

    def _write(self, data: bytes) -> None:
        write_all(self.stream, data, flush=False)  # a raw stream may take part of it: every count is checked


def _text_chunk(key: str, value: str) -> bytes:
    """tEXt when Latin-1 holds the text, else iTXt (UTF-8), as Pillow writes them."""
    keyword = key.encode("latin-1", "replace")[:79]
    try:
        return _chunk(b"tEXt", keyword + b"\0" + value.encode("latin-1"))
    except UnicodeEncodeError:
        return _chunk(b"iTXt", keyword + b"\0\0\0\0\0" + value.encode("utf-8"))


def _paeth(block: np.ndarray, previous: np.ndarray, bpp: int) -> np.ndarray:
    """(n, row_bytes) uint8 -> (n, 1 + row_bytes) uint8 with a Paeth filter-type byte per row."""
    x = block.astype(np.int16)
    b = np.concatenate([previous[None].astype(np.int16), x[:-1]])  # above
    a = np.zeros_like(x)
    a[:, bpp:] = x[:, :-bpp]  # left
    c = np.zeros_like(x)
    c[:, bpp:] = b[:, :-bpp]  # above-left
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    predictor = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
    filtered = ((x - predictor) & 0xFF).astype(np.uint8)
    kind = np.full((len(block), 1), _PAETH, np.uint8)
    return np.concatenate([kind, filtered], axis=1)
