"""Image quality metrics used by training validation and the benchmarks."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .data.color import rgb_to_y


def _y(img):
    """(B, C, H, W) in [0, 1] -> (B, 1, H, W) luma (grayscale passes through)."""
    return rgb_to_y(img) if img.shape[1] == 3 else img


def psnr(a, b) -> float:
    """PSNR in dB of (1, C, H, W) images in [0, 1], on all channels as they are (RGB for colorize)."""
    mse = torch.mean((a.clamp(0, 1) - b) ** 2).item()
    return 10 * math.log10(1 / max(mse, 1e-12))


def psnr_y(sr, hr, shave: int = 0) -> float:
    """PSNR on BT.601 Y, `shave` border pixels dropped, both (1, C, H, W) in [0, 1]."""
    a, b = _y(sr.clamp(0, 1)), _y(hr)
    if shave:
        a, b = a[..., shave:-shave, shave:-shave], b[..., shave:-shave, shave:-shave]
    a, b = (a * 255).round(), b * 255
    mse = torch.mean((a - b) ** 2).item()
    return 10 * math.log10(255**2 / max(mse, 1e-10))


def ssim_y(sr, hr, shave: int = 0) -> float:
    """SSIM on Y with an 11x11 Gaussian window (sigma 1.5), as in the SR literature."""
    a, b = _y(sr.clamp(0, 1)) * 255, _y(hr) * 255
    if shave:
        a, b = a[..., shave:-shave, shave:-shave], b[..., shave:-shave, shave:-shave]
    a = a.round().double()
    b = b.double()
    g = torch.exp(-((torch.arange(11, dtype=torch.float64) - 5) ** 2) / (2 * 1.5**2))
    g = g / g.sum()
    w = (g[:, None] * g[None, :]).view(1, 1, 11, 11)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = F.conv2d(a, w), F.conv2d(b, w)
    saa = F.conv2d(a * a, w) - mu_a**2
    sbb = F.conv2d(b * b, w) - mu_b**2
    sab = F.conv2d(a * b, w) - mu_a * mu_b
    ssim = ((2 * mu_a * mu_b + c1) * (2 * sab + c2)) / ((mu_a**2 + mu_b**2 + c1) * (saa + sbb + c2))
    return ssim.mean().item()


def high_frequency_energy(img) -> float:
    """Mean squared Laplacian response on luma: how much fine detail an image carries."""
    y = _y(img.clamp(0, 1))
    k = torch.tensor([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=y.dtype).view(1, 1, 3, 3)
    return F.conv2d(y, k).pow(2).mean().item()


def colourfulness(rgb) -> float:
    """Hasler & Suesstrunk (2003) colourfulness of (1, 3, H, W) in [0, 1], on a 0-255 scale."""
    r, g, b = (rgb[0] * 255).unbind(0)
    rg, yb = r - g, 0.5 * (r + g) - b
    return (torch.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * torch.sqrt(rg.mean() ** 2 + yb.mean() ** 2)).item()


def checkerboard_energy(img, band: float = 1 / 32) -> float:
    """Share of an image's non-DC spectral power at the 2-pixel period: the checkerboard that
    stride-2 transposed convolutions leave (Odena et al. 2016, "Deconvolution and Checkerboard
    Artifacts").

    img: (1, C, H, W) in [0, 1] (luma is measured; H, W >= 8). The luma, its mean removed and a 2-D
    Hann window applied (so the image border leaks no power into the Nyquist bins), is
    Fourier-transformed; the result is the power within `band` cycles/pixel of the three
    Nyquist points (0, 1/2), (1/2, 0), (1/2, 1/2) over the total non-DC power, in [0, 1].
    A 2x2-periodic pattern whose amplitude follows the content spreads its power around those
    points, hence a band rather than the single bins (band=0 measures the bins alone).
    Compare an output's value with its ground truth's: natural photos hold very little there.
    """
    y = _y(img.clamp(0, 1))[0, 0].double()
    h, w = y.shape
    window = (
        torch.hann_window(h, periodic=False, dtype=y.dtype)[:, None]
        * torch.hann_window(w, periodic=False, dtype=y.dtype)[None, :]
    )
    power = torch.fft.fft2((y - y.mean()) * window).abs() ** 2
    power[0, 0] = 0
    fy = torch.fft.fftfreq(h, dtype=y.dtype).abs()[:, None]  # cycles/pixel, 0 .. 0.5
    fx = torch.fft.fftfreq(w, dtype=y.dtype).abs()[None, :]
    near_y, near_x = (0.5 - fy) <= band, (0.5 - fx) <= band
    low_y, low_x = fy <= band, fx <= band
    at_nyquist = (near_y & low_x) | (low_y & near_x) | (near_y & near_x)
    total = power.sum().item()
    return power[at_nyquist].sum().item() / total if total > 0 else 0.0
