"""How degraded an input photo is, estimated from the file itself: what `i2i upscale --denoise
auto` chooses its model blend from.

Two estimates, both cheap next to the network:
- JPEG quality, read exactly from the file's own luminance quantisation table: the IJG quality
  (1-100) whose scaled standard table (ITU-T T.81 Annex K, scaled as libjpeg's jpeg_quality_scaling)
  fits it best. Cameras and editors with tables of their own get the nearest IJG quality.
- Noise: the standard deviation of white Gaussian noise in the luma, in 8-bit levels, from the
  finest diagonal Haar wavelet band (where Donoho and Johnstone, Biometrika 1994, measure it), taken
  in the flattest part of the picture: the band's RMS in 4x4 blocks, its 1st percentile, scaled so
  that pure Gaussian noise reads its sigma. Donoho's median over the whole band reads the texture
  of a small, detailed input (a quarter-size photo) as noise; the flattest blocks rarely hold any.
  On clean photos of the SR sets it reads 0-2 levels for most, up to 4-5 on dense texture
  (foliage, fur) and 10 on a 62x90 comic with no flat area at all; noise of sigma 5 reads 5-9.
- In a JPEG the finest band is where quantisation removes noise first, and how much it removes
  depends on the quality, which the file states exactly. So a JPEG's reading is mapped back to what
  the same photo reads uncompressed through JPEG_READINGS, measured on 288 photos (per-channel noise
  of sigma 8, luma 5.4, reads 6.1 uncompressed, 3.3 after JPEG 90 and 1.1 after JPEG 80). The
  reading stays in one unit, the uncompressed file's, for every input. (The band one level down,
  which quantisation spares, reads the texture of a small input as noise: 6-7 on clean quarter-size
  BSD200 photos against 0.8 for the finest band.) Below quality 80 the noise is mostly gone with
  the detail and the JPEG term decides; the quality-80 row is used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# ITU-T T.81 Annex K.1, the luminance table that libjpeg scales for its quality setting.
_IJG_LUMINANCE = np.array(
    [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
     14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
     18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
     49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99],
    dtype=np.float64,
)  # fmt: skip
# Noise is measured on at most this many pixels (a centre crop): the percentile settles long before.
_NOISE_PIXELS = 1024 * 1024
_NOISE_BLOCK = 4  # HH coefficients per block side (8x8 pixels)
_NOISE_PERCENTILE = 1.0
# Pure Gaussian noise: a block's mean square is sigma^2 * chi2(16) / 16, whose 1st percentile is
# 5.812 / 16 (chi-squared quantile), so the percentile of the RMS reads sigma * sqrt(5.812 / 16).
_NOISE_SCALE = (16 / 5.812) ** 0.5

# The finest band's reading (noise_sigma) after Gaussian noise of per-channel sigma 0, 2, 4, 6, 8,
# 10, 12, 16 (the columns) and JPEG at each IJG quality (the rows; None: not compressed): medians
# over 288 BSD200 photos at 1/4 and 1/2 size, from `python scripts/calibrate_denoise_auto.py
# --readings`. A JPEG's reading is placed in its quality's row and read off the None row.
UNCOMPRESSED_READINGS = (0.75, 1.90, 3.30, 4.69, 6.11, 7.48, 8.79, 11.39)
JPEG_READINGS = {
    98: (0.57, 2.00, 3.60, 4.96, 6.27, 7.60, 8.87, 11.45),
    95: (0.44, 0.67, 2.16, 4.67, 6.53, 7.93, 9.20, 11.86),
    92: (0.41, 0.55, 1.08, 2.53, 4.83, 7.17, 9.11, 12.06),
    90: (0.41, 0.51, 0.78, 1.72, 3.31, 5.44, 7.89, 11.79),
    87: (0.36, 0.46, 0.65, 1.06, 2.09, 3.66, 5.56, 10.27),
    85: (0.36, 0.41, 0.59, 0.91, 1.62, 2.77, 4.39, 8.50),
    80: (0.29, 0.39, 0.51, 0.67, 1.07, 1.58, 2.62, 5.36),
}


def ijg_table(quality: int) -> np.ndarray:
    """The IJG luminance quantisation table (64 values, 1..255) libjpeg writes at `quality` 1..100."""
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    return np.clip(np.floor((_IJG_LUMINANCE * scale + 50) / 100), 1, 255)


def jpeg_quality(image) -> float | None:
    """The IJG quality (1..100) of a Pillow JPEG image's luminance table; None when `image` is not
    a JPEG. The tables' order (zigzag or natural) does not matter: sorted values are compared."""
    tables = getattr(image, "quantization", None)
    if image.format != "JPEG" or not tables:
        return None
    luma = np.sort(np.asarray(tables[min(tables)], dtype=np.float64))
    errors = [np.abs(np.sort(ijg_table(q)) - luma).mean() for q in range(1, 101)]
    return float(np.argmin(errors) + 1)


def noise_sigma(gray: np.ndarray, level: int = 1) -> float:
    """Noise estimate of an (H, W) luma array in 0..255: the standard deviation of additive white
    Gaussian noise, in levels, read in the flattest 1 % of 8x8 blocks (0 below 8x8 pixels), in the
    diagonal Haar band of the given level (1 = finest; 2 reads the 2x2 averages, where white noise
    keeps its sigma under the orthonormal transform)."""
    side = int(_NOISE_PIXELS**0.5)
    top, left = max((gray.shape[0] - side) // 2, 0), max((gray.shape[1] - side) // 2, 0)
    g = gray[top : top + side, left : left + side].astype(np.float64)
    g = g[: g.shape[0] // 2 * 2, : g.shape[1] // 2 * 2]
    for _ in range(level - 1):
        g = (g[0::2, 0::2] + g[0::2, 1::2] + g[1::2, 0::2] + g[1::2, 1::2]) / 2
        g = g[: g.shape[0] // 2 * 2, : g.shape[1] // 2 * 2]
    # Orthonormal Haar HH band: (a - b - c + d) / 2 over each 2x2 block; noise keeps its sigma there.
    hh = (g[0::2, 0::2] - g[0::2, 1::2] - g[1::2, 0::2] + g[1::2, 1::2]) / 2
    k = _NOISE_BLOCK
    h, w = hh.shape[0] // k * k, hh.shape[1] // k * k
    if not h or not w:
        return 0.0
    rms = np.sqrt((hh[:h, :w].reshape(h // k, k, w // k, k) ** 2).mean((1, 3)))
    return float(np.percentile(rms, _NOISE_PERCENTILE) * _NOISE_SCALE)


def uncompressed_reading(reading: float, quality: float) -> float:
    """What noise_sigma would read on the photo before JPEG at IJG `quality` took noise out of the
    finest band, from its `reading` after (JPEG_READINGS, rows interpolated linearly in quality;
    quality 100 is the uncompressed row, below 80 the quality-80 row; readings past a row's ends
    give its ends)."""
    qualities = sorted(JPEG_READINGS) + [100]
    rows = [JPEG_READINGS[q] for q in qualities[:-1]] + [UNCOMPRESSED_READINGS]
    q = min(max(quality, qualities[0]), 100)
    row = np.array([np.interp(q, qualities, column) for column in zip(*rows)])
    return float(np.interp(reading, np.maximum.accumulate(row), UNCOMPRESSED_READINGS))


@dataclass(frozen=True)
class DegradationEstimate:
    jpeg_quality: float | None
    """IJG quality 1..100 of the file's JPEG compression; None for a file that is not a JPEG."""
    noise: float
    """Noise in 8-bit levels of luma: the standard deviation of white Gaussian noise that
    noise_sigma reads on the uncompressed photo (for a JPEG: mapped back, see uncompressed_reading)."""

    def to_dict(self) -> dict:
        return {"jpeg_quality": self.jpeg_quality, "noise": round(self.noise, 2)}


def estimate(image) -> DegradationEstimate:
    """Estimate a Pillow image's degradation (any mode; the luma is measured). The image is read
    in full; pass the opened file, not a converted copy, so the JPEG tables are still there."""
    quality = jpeg_quality(image)
    gray = np.asarray(image.convert("L"), dtype=np.float64)
    noise = noise_sigma(gray)
    if quality is not None:
        noise = uncompressed_reading(noise, quality)  # quantisation empties the finest band first
    return DegradationEstimate(quality, noise)
