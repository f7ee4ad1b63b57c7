"""sRGB <-> CIE Lab (D65) on tensors, differentiable, (B, 3, H, W).

Lab here: L in [0, 100], a/b roughly in [-110, 110]. Networks see L/50 - 1 and ab/110.
"""

from __future__ import annotations

import torch

_RGB2XYZ = torch.tensor(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
_WHITE = torch.tensor([0.950456, 1.0, 1.088754])
AB_SCALE = 110.0


def _srgb_to_linear(x):
    return torch.where(x > 0.04045, ((x.clamp(min=0.04045) + 0.055) / 1.055) ** 2.4, x / 12.92)


def _linear_to_srgb(x):
    return torch.where(x > 0.0031308, 1.055 * x.clamp(min=0.0031308) ** (1 / 2.4) - 0.055, 12.92 * x)


def _mix(m, x):
    return torch.einsum("ij,bjhw->bihw", m.to(x), x)


def rgb_to_lab(rgb):
    """(B, 3, H, W) sRGB in [0, 1] -> (B, 3, H, W) Lab."""
    xyz = _mix(_RGB2XYZ, _srgb_to_linear(rgb.clamp(0, 1))) / _WHITE.to(rgb).view(1, 3, 1, 1)
    eps = 216 / 24389
    f = torch.where(xyz > eps, xyz.clamp(min=eps) ** (1 / 3), (24389 / 27 * xyz + 16) / 116)
    L = 116 * f[:, 1:2] - 16
    a = 500 * (f[:, 0:1] - f[:, 1:2])
    b = 200 * (f[:, 1:2] - f[:, 2:3])
    return torch.cat([L, a, b], 1)


def lab_to_rgb(lab):
    """(B, 3, H, W) Lab -> (B, 3, H, W) sRGB in [0, 1] (clamped)."""
    L, a, b = lab[:, 0:1], lab[:, 1:2], lab[:, 2:3]
    fy = (L + 16) / 116
    f = torch.cat([fy + a / 500, fy, fy - b / 200], 1)
    eps = 6 / 29
    xyz = torch.where(f > eps, f**3, 3 * eps**2 * (f - 4 / 29))
    xyz = xyz * _WHITE.to(lab).view(1, 3, 1, 1)
    rgb = _mix(torch.linalg.inv(_RGB2XYZ).to(lab), xyz)
    return _linear_to_srgb(rgb.clamp(min=0)).clamp(0, 1)


def rgb_to_y(rgb):
    """ITU-R BT.601 luma, (B, 3, H, W) in [0, 1] -> (B, 1, H, W) in [16/255, 235/255]."""
    w = torch.tensor([65.481, 128.553, 24.966], device=rgb.device, dtype=rgb.dtype).view(1, 3, 1, 1)
    return (rgb * w).sum(1, keepdim=True) / 255 + 16 / 255


def l_to_net(L):
    return L / 50 - 1


def l_from_net(x):
    return (x + 1) * 50


# Class rebalancing (Zhang, Isola & Efros, "Colorful Image Colorization", ECCV 2016): ab space cut
# into a grid of 10x10 cells; a photo collection's colour distribution over the cells, smoothed
# with a Gaussian of sigma 5 (ab units), weights each pixel by the inverse rarity of its colour.
AB_BIN = 10.0
AB_BINS = round(2 * AB_SCALE / AB_BIN)  # cells per axis over [-110, 110]


def ab_bin(ab):
    """(B, 2, H, W) ab in Lab units -> (B, H, W) int64 index of its cell in the AB_BINS**2 grid."""
    cell = ((ab + AB_SCALE) / AB_BIN).long().clamp(0, AB_BINS - 1)
    return cell[:, 0] * AB_BINS + cell[:, 1]


def ab_counts(images):
    """(1, 3, H, W) sRGB images in [0, 1] -> (AB_BINS**2,) float64 count of their pixels in each ab cell."""
    counts = torch.zeros(AB_BINS * AB_BINS, dtype=torch.float64)
    for rgb in images:
        counts += torch.bincount(ab_bin(rgb_to_lab(rgb)[:, 1:]).flatten(), minlength=AB_BINS * AB_BINS).double()
    return counts


def ab_prior(images, sigma: float = 5.0):
    """Empirical ab distribution of (1, 3, H, W) sRGB images in [0, 1] -> (AB_BINS**2,) summing to 1,
    smoothed with a Gaussian of `sigma` ab units (Zhang et al. 2016)."""
    return smooth_ab_counts(ab_counts(images), sigma)


def smooth_ab_counts(counts, sigma: float = 5.0):
    """(AB_BINS**2,) cell counts -> the same grid convolved with a Gaussian of `sigma` ab units,
    normalised to sum to 1 (float64)."""
    r = max(1, round(3 * sigma / AB_BIN))
    x = torch.arange(-r, r + 1, dtype=torch.float64) * AB_BIN
    g = torch.exp(-(x**2) / (2 * sigma**2))
    kernel = (g[:, None] * g[None, :]) / g.sum() ** 2
    grid = torch.nn.functional.conv2d(counts.view(1, 1, AB_BINS, AB_BINS), kernel[None, None], padding=r)
    return (grid / grid.sum()).flatten()


def rebalancing_weights(prior, mix: float = 0.5):
    """Per-cell weights 1 / ((1 - mix) p + mix / Q), Q the cells in use, scaled so that their mean
    under p is 1 (Zhang et al. 2016, eq. 4, mix = their lambda = 0.5). prior: (AB_BINS**2,) -> float32."""
    q = int((prior > 0).sum())
    w = 1 / ((1 - mix) * prior + mix / q)
    return (w / (prior * w).sum()).float()


# Classification over the in-gamut cells (Zhang et al. 2016, section 2.1): the network predicts a
# distribution over Q cells (313 for ImageNet; the cells a training set fills here), is trained on
# soft-encoded targets and answers the annealed mean of its distribution.


def ab_cell_centres():
    """(AB_BINS**2, 2) the a, b centre of each ab_bin() cell, in Lab units."""
    c = (torch.arange(AB_BINS, dtype=torch.float32) + 0.5) * AB_BIN - AB_SCALE
    return torch.stack(torch.meshgrid(c, c, indexing="ij"), -1).reshape(-1, 2)


def ab_gamut(counts, min_count: float = 1.0):
    """(AB_BINS**2,) cell counts (ab_counts) -> (Q,) int64 indices of the cells holding at least
    `min_count` pixels: the classes a colorizer predicts."""
    return torch.nonzero(counts >= min_count).flatten()


def gamut_class_weights(counts, gamut, rebalance: float = 0.5, sigma: float = 5.0):
    """Class rebalancing weights of Zhang et al. 2016, eq. 4, over the gamut's Q cells:
    ((1 - lambda) p + lambda / Q)^-1 with p = gamut_prior(counts, gamut, sigma), lambda = 1 -
    `rebalance` (so rebalance 0.5 is the paper's lambda 0.5, 0 gives weights of 1), normalised so
    that their mean under p is 1. -> (Q,) float32, finite > 0."""
    return rebalancing_weights(gamut_prior(counts, gamut, sigma).clamp(min=PRIOR_FLOOR), mix=1 - rebalance)


# A class's smallest prior probability: a gamut cell holds a pixel, but smoothing and float64 could
# still leave one at 0, whose weight or log would not be finite.
PRIOR_FLOOR = 1e-12


def gamut_prior(counts, gamut, sigma: float = 5.0):
    """(AB_BINS**2,) cell counts, (Q,) gamut cells -> (Q,) float64 p(class): the counts smoothed by a
    Gaussian of `sigma` ab units (Zhang et al. 2016), restricted to the gamut, summing to 1."""
    prior = smooth_ab_counts(counts, sigma)[gamut]
    return prior / prior.sum()


def prior_correction(prior, strength: float):
    """(Q,) p(class) -> (Q,) float32 offsets -strength * log p to add to a classifier's logits:
    post-hoc logit adjustment (Menon et al., ICLR 2021, "Long-tail learning via logit
    adjustment"), the decode-time counterpart of class rebalancing (Zhang et al. 2016). Rare,
    saturated colours gain against common dull ones, without the retraining that rebalancing
    needs; 0 changes nothing."""
    return (-strength * prior.clamp(min=PRIOR_FLOOR).log()).float()


def soft_encode(ab, centres, neighbours: int = 5, sigma: float = 5.0):
    """(B, 2, H, W) ab in Lab units, (Q, 2) class centres -> (B, Q, H, W) soft targets: each pixel's
    `neighbours` nearest centres weighted by a Gaussian of `sigma` ab units of their distance,
    summing to 1 (Zhang et al. 2016: 5 neighbours, sigma 5); and (B, H, W) the nearest class."""
    d2 = ((ab[:, None] - centres.to(ab)[None, :, :, None, None]) ** 2).sum(2)  # (B, Q, H, W)
    near_d2, near = d2.topk(min(neighbours, centres.shape[0]), dim=1, largest=False)
    w = torch.softmax(-near_d2 / (2 * sigma**2), 1)  # Gaussian weights, normalised
    return torch.zeros_like(d2).scatter_(1, near, w), near[:, 0]


def annealed_mean(logits, centres, temperature: float = 0.38):
    """(B, Q, H, W) class logits, (Q, 2) centres -> (B, 2, H, W) ab in Lab units: the mean of the
    distribution softmax(logits / T) (Zhang et al. 2016, eq. 5: T = 1 the mean, T -> 0 the mode;
    the paper's 0.38 keeps the mean's smoothness with more of the mode's colour). A 1x1
    convolution rather than an einsum, for ONNX."""
    p = torch.softmax(logits / temperature, 1)
    return torch.nn.functional.conv2d(p, centres.to(p).t()[:, :, None, None])
