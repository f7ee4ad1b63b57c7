"""Synthetic real-world degradations for super-resolution training (Real-ESRGAN's second order).

A clean HR patch becomes the LR input a photo from the web or a phone would give: blurred,
resized, noisy and JPEG-compressed, twice over with different ranges, then brought to the
target size with a sinc (ringing) filter and JPEG in random order. The pipeline and its default
ranges and probabilities follow Real-ESRGAN (Wang et al., "Real-ESRGAN: Training Real-World
Blind Super-Resolution with Pure Synthetic Data", ICCVW 2021; its `train_realesrnet_x4plus.yml`),
which builds on BSRGAN (Zhang et al., ICCV 2021). JPEG is Pillow's codec; filtering and resizing
are torch's. Every random draw comes from the numpy Generator passed in, so a patch is a pure
function of (image, seed): the data workers stay deterministic and resume stays exact.

Tensors are (C, H, W) float in [0, 1] on the CPU throughout.
"""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

KERNEL_TYPES = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")
RESIZE_MODES = ("area", "bilinear", "bicubic")
MAX_KERNEL = 21  # Real-ESRGAN's blur_kernel_size: kernels are 7..21 px, odd


@dataclass(frozen=True, kw_only=True)
class StageOptions:
    """One degradation stage: blur, random resize, noise, JPEG. Ranges are [low, high]."""

    blur_prob: float = 1.0
    """Chance of blurring at all (Real-ESRGAN: 1 in stage one, second_blur_prob 0.8 in two)."""
    kernel_prob: tuple[float, ...] = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
    """Chances of iso, aniso, generalized iso/aniso, plateau iso/aniso Gaussian kernels."""
    sinc_prob: float = 0.1
    """Chance of a sinc (ringing) kernel instead of the above."""
    blur_sigma: tuple[float, float] = (0.2, 3.0)
    """Gaussian sigma in HR pixels (per axis for anisotropic kernels)."""
    betag_range: tuple[float, float] = (0.5, 4.0)
    """Shape exponent of generalized Gaussian kernels."""
    betap_range: tuple[float, float] = (1.0, 2.0)
    """Shape exponent of plateau kernels."""
    resize_prob: tuple[float, float, float] = (0.2, 0.7, 0.1)
    """Chances of resizing up, down, or keeping the size."""
    resize_range: tuple[float, float] = (0.15, 1.5)
    """Resize factor range."""
    gaussian_noise_prob: float = 0.5
    """Chance of Gaussian noise; Poisson noise otherwise."""
    noise_range: tuple[float, float] = (1.0, 30.0)
    """Gaussian noise sigma, in 8-bit levels (of 255)."""
    poisson_scale_range: tuple[float, float] = (0.05, 3.0)
    """Poisson (shot) noise strength."""
    gray_noise_prob: float = 0.4
    """Chance that the noise is the same in all channels (luminance noise)."""
    jpeg_range: tuple[float, float] = (30.0, 95.0)
    """JPEG quality range."""


def _second_stage() -> StageOptions:
    return StageOptions(
        blur_prob=0.8,
        blur_sigma=(0.2, 1.5),
        resize_prob=(0.3, 0.4, 0.3),
        resize_range=(0.3, 1.2),
        noise_range=(1.0, 25.0),
        poisson_scale_range=(0.05, 2.5),
    )


@dataclass(frozen=True, kw_only=True)
class RealDegradation:
    """Real-ESRGAN's second-order degradation model; defaults are the paper's x4 settings."""

    first: StageOptions = StageOptions()
    """Stage one."""
    second: StageOptions = _second_stage()
    """Stage two, with its own (milder) ranges."""
    final_sinc_prob: float = 0.8
    """Chance of a sinc filter in the final resize (ringing and overshoot artifacts)."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RealDegradation:
        def stage(s: dict) -> StageOptions:
            return StageOptions(**{k: tuple(v) if isinstance(v, list) else v for k, v in s.items()})

        return cls(first=stage(d["first"]), second=stage(d["second"]), final_sinc_prob=d.get("final_sinc_prob", 0.8))

    def with_overrides(self, overrides: dict) -> RealDegradation:
        """A copy with some fields replaced, e.g. {"first": {"noise_range": [1, 15]}}.
        Raises ValueError naming an unknown field."""
        merged = self.to_dict()
        for key, value in overrides.items():
            if key not in merged:
                raise ValueError(f"unknown degradation option {key!r}; known: {', '.join(merged)}")
            if isinstance(merged[key], dict):
                unknown = sorted(set(value) - set(merged[key]))
                if unknown:
                    raise ValueError(f"unknown option(s) of stage {key!r}: {', '.join(unknown)}")
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
        return RealDegradation.from_dict(merged)

    def __call__(self, hr: torch.Tensor, scale: int, rng: np.random.Generator) -> torch.Tensor:
        """(C, H, W) HR in [0, 1] -> (C, H // scale, W // scale) degraded LR, 8-bit quantised."""
        h, w = hr.shape[-2:]
        x = degrade_stage(hr, self.first, rng, target=None)
        x = degrade_stage(x, self.second, rng, target=(h // scale, w // scale))
        return final_stage(x, (h // scale, w // scale), self.final_sinc_prob, rng, self.second.jpeg_range)


# ---- kernels ---------------------------------------------------------------------------------


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    r = np.arange(size, dtype=np.float64) - size // 2
    return np.meshgrid(r, r, indexing="xy")


def gaussian_kernel(
    size: int, sigma_x: float, sigma_y: float, theta: float, *, beta: float = 1.0, shape: str = "gaussian"
) -> np.ndarray:
    """A (size, size) anisotropic kernel summing to one.

    shape: gaussian exp(-q / 2), generalized exp(-q**beta / 2), plateau 1 / (1 + q**beta), where
    q = x^T Sigma^-1 x and Sigma = R(theta) diag(sx^2, sy^2) R(theta)^T (BasicSR's definitions).
    Sigmas are in pixels, theta in radians.
    """
    c, s = math.cos(theta), math.sin(theta)
    rot = np.array([[c, -s], [s, c]])
    cov = rot @ np.diag([sigma_x**2, sigma_y**2]) @ rot.T
    inv = np.linalg.inv(cov)
    xx, yy = _grid(size)
    q = inv[0, 0] * xx * xx + (inv[0, 1] + inv[1, 0]) * xx * yy + inv[1, 1] * yy * yy
    if shape == "gaussian":
        k = np.exp(-0.5 * q)
    elif shape == "generalized":
        k = np.exp(-0.5 * np.power(q, beta))
    elif shape == "plateau":
        k = 1.0 / (1.0 + np.power(q, beta))
    else:
        raise ValueError(f"unknown kernel shape {shape!r}")
    return k / k.sum()


def sinc_kernel(size: int, omega_c: float) -> np.ndarray:
    """A (size, size) circular low-pass (2-D sinc) kernel with cutoff omega_c (radians), sum one.

    k(r) = omega_c * J1(omega_c * r) / (2 pi r), with its limit omega_c**2 / (4 pi) at r = 0.
    """
    xx, yy = _grid(size)
    r = torch.from_numpy(np.sqrt(xx * xx + yy * yy))
    k = omega_c * torch.special.bessel_j1(omega_c * r) / (2 * math.pi * r.clamp_min(1e-12))
    k[size // 2, size // 2] = omega_c**2 / (4 * math.pi)
    k = k.numpy()
    return k / k.sum()


def random_kernel(o: StageOptions, rng: np.random.Generator) -> np.ndarray:
    """One random blur kernel of stage `o`, padded to MAX_KERNEL (Real-ESRGAN's sampling)."""
    size = int(rng.choice(np.arange(7, MAX_KERNEL + 1, 2)))
    if rng.random() < o.sinc_prob:
        omega_c = rng.uniform(math.pi / 3, math.pi) if size < 13 else rng.uniform(math.pi / 5, math.pi)
        k = sinc_kernel(size, omega_c)
    else:
        kind = KERNEL_TYPES[int(rng.choice(len(KERNEL_TYPES), p=np.asarray(o.kernel_prob) / sum(o.kernel_prob)))]
        sx = rng.uniform(*o.blur_sigma)
        iso = kind.endswith("iso") and not kind.endswith("aniso")
        sy = sx if iso else rng.uniform(*o.blur_sigma)
        theta = 0.0 if iso else rng.uniform(-math.pi, math.pi)
        if kind.startswith("generalized"):
            beta = rng.uniform(o.betag_range[0], 1) if rng.random() < 0.5 else rng.uniform(1, o.betag_range[1])
            k = gaussian_kernel(size, sx, sy, theta, beta=beta, shape="generalized")
        elif kind.startswith("plateau"):
            beta = rng.uniform(o.betap_range[0], 1) if rng.random() < 0.5 else rng.uniform(1, o.betap_range[1])
            k = gaussian_kernel(size, sx, sy, theta, beta=beta, shape="plateau")
        else:
            k = gaussian_kernel(size, sx, sy, theta)
    pad = (MAX_KERNEL - size) // 2
    return np.pad(k, pad)


def filter2d(x: torch.Tensor, kernel: np.ndarray) -> torch.Tensor:
    """Convolve each channel of (C, H, W) with a (k, k) kernel, reflect-padded (same size)."""
    k = torch.as_tensor(kernel, dtype=x.dtype)
    p = k.shape[-1] // 2
    c = x.shape[0]
    mode = "reflect" if min(x.shape[-2:]) > p else "replicate"
    y = F.pad(x[None], (p, p, p, p), mode=mode)
    return F.conv2d(y, k.expand(c, 1, *k.shape), groups=c)[0]


# ---- resize, noise, JPEG ---------------------------------------------------------------------


def resize(x: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """(C, H, W) -> (C, *size) with torch's area / bilinear / bicubic (no antialias, as Real-ESRGAN)."""
    size = (max(1, int(size[0])), max(1, int(size[1])))
    kwargs = {} if mode == "area" else {"align_corners": False}
    return F.interpolate(x[None], size=size, mode=mode, **kwargs)[0]


def gaussian_noise(x: torch.Tensor, sigma: float, gray: bool, rng: np.random.Generator) -> torch.Tensor:
    """x + N(0, sigma**2) noise, sigma in [0, 1] units; gray: one noise plane for every channel."""
    c, h, w = x.shape
    noise = rng.standard_normal((1 if gray else c, h, w)).astype(np.float32) * sigma
    return x + torch.from_numpy(noise)


def poisson_noise(x: torch.Tensor, scale: float, gray: bool, rng: np.random.Generator) -> torch.Tensor:
    """Shot noise as BasicSR's random_add_poisson_noise: counts at 8-bit resolution, times scale."""
    levels = 256.0  # 2**ceil(log2(distinct values)) for an 8-bit image
    base = x.clamp(0, 1)
    if gray:
        base = (0.299 * base[0] + 0.587 * base[1] + 0.114 * base[2])[None] if x.shape[0] == 3 else base[:1]
    counts = rng.poisson(base.numpy().astype(np.float64) * levels)
    noise = torch.from_numpy((counts / levels).astype(np.float32)) - base
    return x + noise * scale


def jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    """Round-trip through Pillow's JPEG encoder at `quality` (1-95), 8-bit quantised."""
    arr = (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    im = Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=int(quality))
    out = np.asarray(Image.open(buf).convert(im.mode), dtype=np.float32) / 255
    if out.ndim == 2:
        out = out[..., None]
    return torch.from_numpy(out.transpose(2, 0, 1).copy())


# ---- the stages ------------------------------------------------------------------------------


def degrade_stage(
    x: torch.Tensor, o: StageOptions, rng: np.random.Generator, target: tuple[int, int] | None
) -> torch.Tensor:
    """Blur, random resize, noise, JPEG. The resize is relative to `target` (stage two's LR size)
    or to the current size (stage one), as in Real-ESRGAN."""
    if rng.random() < o.blur_prob:
        x = filter2d(x, random_kernel(o, rng))
    updown = int(rng.choice(3, p=np.asarray(o.resize_prob) / sum(o.resize_prob)))
    factor = (rng.uniform(1, o.resize_range[1]), rng.uniform(o.resize_range[0], 1), 1.0)[updown]
    mode = RESIZE_MODES[int(rng.integers(0, 3))]
    h, w = target or x.shape[-2:]
    x = resize(x, (h * factor, w * factor), mode)
    gray = rng.random() < o.gray_noise_prob
    if rng.random() < o.gaussian_noise_prob:
        x = gaussian_noise(x, rng.uniform(*o.noise_range) / 255, gray, rng)
    else:
        x = poisson_noise(x, rng.uniform(*o.poisson_scale_range), gray, rng)
    return jpeg(x, int(rng.uniform(*o.jpeg_range)))


def final_stage(
    x: torch.Tensor,
    size: tuple[int, int],
    sinc_prob: float,
    rng: np.random.Generator,
    jpeg_range: tuple[float, float] = (30.0, 95.0),
) -> torch.Tensor:
    """Resize to the LR size with a sinc filter, and JPEG, in random order (Real-ESRGAN)."""
    if rng.random() < sinc_prob:
        size_k = int(rng.choice(np.arange(7, MAX_KERNEL + 1, 2)))
        kernel = np.pad(sinc_kernel(size_k, rng.uniform(math.pi / 3, math.pi)), (MAX_KERNEL - size_k) // 2)
    else:
        kernel = None  # Real-ESRGAN's pulse kernel: no filtering
    mode = RESIZE_MODES[int(rng.integers(0, 3))]
    quality = int(rng.uniform(*jpeg_range))
    if rng.random() < 0.5:
        x = resize(x, size, mode)
        x = filter2d(x, kernel) if kernel is not None else x
        x = jpeg(x, quality)
    else:
        x = jpeg(x, quality)
        x = resize(x, size, mode)
        x = filter2d(x, kernel) if kernel is not None else x
    return (x.clamp(0, 1) * 255).round() / 255


# ---- the fixed degradation of the benchmark and the validation -------------------------------


@dataclass(frozen=True, kw_only=True)
class FixedDegradation:
    """A deterministic 'web photo' degradation for evaluation: Gaussian blur, bicubic down,
    Gaussian noise, JPEG (the paired set of benchmarks/sr_real.py)."""

    blur_sigma: float = 1.2
    """Gaussian blur sigma, in HR pixels."""
    noise_sigma: float = 5.0
    """Gaussian noise sigma, in 8-bit levels."""
    jpeg_quality: int = 50
    """JPEG quality."""

    @staticmethod
    def seed_for(path) -> int:
        """The noise seed of one evaluation image: from its file name, whatever the order."""
        import os
        import zlib
        from pathlib import Path

        return zlib.crc32(os.fsencode(Path(path).name))  # the name's bytes: any name, even not UTF-8

    def __call__(self, hr: Image.Image, scale: int, seed: int = 0) -> Image.Image:
        """PIL RGB/L HR (size a multiple of scale) -> PIL LR of the same mode (the decoded JPEG)."""
        from PIL import ImageFilter

        w, h = hr.size
        im = hr.filter(ImageFilter.GaussianBlur(self.blur_sigma))
        im = im.resize((w // scale, h // scale), Image.BICUBIC)
        arr = np.asarray(im, dtype=np.float32)
        rng = np.random.default_rng(seed)
        arr = np.clip(np.round(arr + rng.standard_normal(arr.shape) * self.noise_sigma), 0, 255)
        buf = io.BytesIO()
        Image.fromarray(arr.astype(np.uint8), im.mode).save(buf, "JPEG", quality=self.jpeg_quality)
        lr = Image.open(buf)
        lr.load()  # kept as the JPEG it is (its quantisation tables), as a user's file would be
        return lr if lr.mode == hr.mode else lr.convert(hr.mode)


# ---- target sharpening -----------------------------------------------------------------------


def gaussian_blur_separable(x: torch.Tensor, size: int, sigma: float) -> torch.Tensor:
    """(C, H, W) blurred by a (size x size) Gaussian as two 1-D passes, reflect-padded.
    (A 2-D kernel of 101 px costs 50x more per pixel: it was most of a training step.)"""
    r = torch.arange(size, dtype=x.dtype) - size // 2
    g = torch.exp(-0.5 * (r / sigma) ** 2)
    g = g / g.sum()
    c, p = x.shape[0], size // 2
    y = F.pad(x[None], (p, p, 0, 0), mode="reflect")
    y = F.conv2d(y, g.view(1, 1, 1, size).expand(c, 1, 1, size), groups=c)
    y = F.pad(y, (0, 0, p, p), mode="reflect")
    return F.conv2d(y, g.view(1, 1, size, 1).expand(c, 1, size, 1), groups=c)[0]


def unsharp_mask(
    x: torch.Tensor, *, weight: float = 0.5, threshold: float = 10 / 255, radius: int = 50
) -> torch.Tensor:
    """Real-ESRGAN's USMSharp of the HR target: sharpen where the detail exceeds `threshold`,
    blended through a soft mask so flat areas are untouched. (C, H, W) in [0, 1] -> same."""
    size = 2 * radius + 1
    sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8  # OpenCV's sigma for ksize with sigma=0
    size = min(size, 2 * (min(x.shape[-2:]) // 2) - 1)  # reflect padding needs the kernel to fit
    blur = gaussian_blur_separable(x, size, sigma)
    residual = x - blur
    mask = (residual.abs() > threshold).to(x.dtype)
    soft = gaussian_blur_separable(mask, size, sigma)
    sharp = (x + weight * residual).clamp(0, 1)
    return soft * sharp + (1 - soft) * x
