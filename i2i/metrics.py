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

    def window(x):  # the 11x11 Gaussian as a row then a column pass: the same sums, 4x less time
        return F.conv2d(F.conv2d(x, g.view(1, 1, 1, 11)), g.view(1, 1, 11, 1))

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = window(a), window(b)
    saa = window(a * a) - mu_a**2
    sbb = window(b * b) - mu_b**2
    sab = window(a * b) - mu_a * mu_b
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


def _luma_power_spectrum(img: torch.Tensor):
    """(B, C, H, W) in [0, 1] -> (power (B, H, W), |fy| (H, 1), |fx| (1, W)): the luma's spectral
    power with its mean removed and a 2-D Hann window applied (so the border leaks no power),
    frequencies in cycles/pixel, 0 .. 0.5; differentiable, in img's dtype."""
    y = _y(img)[:, 0]
    h, w = y.shape[-2:]
    window = (
        torch.hann_window(h, periodic=False, dtype=y.dtype, device=y.device)[:, None]
        * torch.hann_window(w, periodic=False, dtype=y.dtype, device=y.device)[None, :]
    )
    power = torch.fft.fft2((y - y.mean((-2, -1), keepdim=True)) * window).abs() ** 2
    fy = torch.fft.fftfreq(h, dtype=y.dtype, device=y.device).abs()[:, None]
    fx = torch.fft.fftfreq(w, dtype=y.dtype, device=y.device).abs()[None, :]
    return power, fy, fx


def grid_share(img: torch.Tensor, period: int = 2, band: float = 1 / 32) -> torch.Tensor:
    """(B, C, H, W) in [0, 1] -> (B,): each image's share of non-DC luma spectral power at the
    harmonics of a `period`-pixel grid (see grid_energy); differentiable, in img's dtype, so a
    training loss can use it. Errors: ValueError for a period that is not even."""
    if period < 2 or period % 2:
        raise ValueError(f"grid period must be even and >= 2, not {period}")
    power, fy, fx = _luma_power_spectrum(img)
    h, w = power.shape[-2:]
    harmonics = [k / period for k in range(period // 2 + 1)]
    on_grid = torch.zeros(h, w, dtype=torch.bool, device=power.device)
    for i, f_y in enumerate(harmonics):
        for j, f_x in enumerate(harmonics):
            if i or j:  # (0, 0) is the image's own low frequencies
                on_grid |= ((fy - f_y).abs() <= band) & ((fx - f_x).abs() <= band)
    dc = torch.zeros(h, w, dtype=torch.bool, device=power.device)
    dc[0, 0] = True
    total = power.masked_fill(dc, 0).sum((-2, -1))
    return power.masked_fill(~on_grid, 0).sum((-2, -1)) / total.clamp(min=1e-20)


def radial_power_spectrum(img: torch.Tensor, bins: int = 32) -> torch.Tensor:
    """(B, C, H, W) in [0, 1] -> (B, bins): the luma's azimuthally averaged power spectrum, mean
    power in `bins` equal rings of radius |f| from 0 to 0.5 cycles/pixel (the corners beyond 0.5
    are left out; DC is in no ring, as the mean is removed). Differentiable. The 1-D spectrum that
    Durall et al. (CVPR 2020, "Watch your Up-Convolution") show generators fail to reproduce at
    high frequencies."""
    power, fy, fx = _luma_power_spectrum(img)
    radius = torch.sqrt(fy**2 + fx**2)
    ring = (radius / 0.5 * bins).floor().long().clamp(max=bins)  # bins: outside the 0.5 circle
    ring[0, 0] = bins  # DC
    one_hot = F.one_hot(ring.flatten(), bins + 1)[:, :bins].to(power.dtype)  # (H*W, bins)
    return power.flatten(1) @ one_hot / one_hot.sum(0).clamp(min=1)


def grid_energy(img, period: int = 2, band: float = 1 / 32) -> float:
    """Share of an image's non-DC spectral power at the harmonics of a `period`-pixel grid: the
    pattern that a generator's x2 steps leave. period=2 is the checkerboard of stride-2 transposed
    convolutions (Odena et al. 2016, "Deconvolution and Checkerboard Artifacts"); period=4 the
    grid of a net that works at 1/4 resolution (Johnson et al.'s TransformerNet).

    img: (1, C, H, W) in [0, 1] (luma is measured; H, W >= 2 * period). The luma, its mean removed
    and a 2-D Hann window applied (so the image border leaks no power into the grid's bins), is
    Fourier-transformed; the result is the power within `band` cycles/pixel of the grid's
    frequencies (every (k/period, l/period) but DC, k, l = 0 .. period/2) over the total
    non-DC power, in [0, 1]. A periodic pattern whose amplitude follows the content spreads its
    power around those points, hence a band rather than the single bins (band=0: the bins alone).
    Compare an output's value with its input's or ground truth's: natural photos hold very little
    there. Errors: ValueError for a period that is not even.
    """
    return grid_share(img.clamp(0, 1).double(), period, band)[0].item()


def checkerboard_energy(img, band: float = 1 / 32) -> float:
    """grid_energy at the 2-pixel period (the transposed-convolution checkerboard)."""
    return grid_energy(img, 2, band)


def feature_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """LPIPS's comparison of two (B, C, H, W) feature maps without its learned channel weights
    (Zhang et al., CVPR 2018): each position's feature vector unit-normalised over channels, the
    squared difference summed over channels, mean over positions and batch; differentiable.
    perceptual_distance is the same measure as a float over several layers."""

    def unit(f):
        return f / (f.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)

    return (unit(a) - unit(b)).pow(2).sum(1).mean()


def perceptual_distance(features_a: list[torch.Tensor], features_b: list[torch.Tensor]) -> float:
    """LPIPS-like distance of two images from their feature maps in a frozen network (lists of
    (1, C, H, W), one per tapped layer): feature_distance (each position's feature vector
    unit-normalised over channels, squared difference summed over channels, mean over positions)
    averaged over the layers. This is LPIPS without its learned per-channel weights (Zhang et al.,
    CVPR 2018, whose unlearned variant already tracks human judgements far better than PSNR or
    SSIM). 0 for identical images; about 0.25-0.35 for x4 SR outputs against their HR."""
    return sum(feature_distance(a, b).item() for a, b in zip(features_a, features_b)) / len(features_a)
