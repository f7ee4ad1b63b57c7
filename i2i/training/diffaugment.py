"""Differentiable augmentation for GAN discriminators (Zhao, Liu, Lin, Zhu & Han, "Differentiable
Augmentation for Data-Efficient GAN Training", NeurIPS 2020; peer code mit-han-lab/data-efficient-gans,
DiffAugment_pytorch.py, whose ranges these are).

The same random kinds of change are applied to real and generated images before the discriminator
sees them, and gradients flow through them to the generator, so a discriminator trained on a few
hundred images cannot memorise them, while the generator is still asked for the unaugmented
distribution. Projected GANs train with it (Sauer et al. 2021). Images are (B, C, H, W) in [-1, 1];
every sample draws its own parameters from torch's global generator (saved with checkpoints).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

POLICIES = ("color", "translation", "cutout")


def _color(x: torch.Tensor) -> torch.Tensor:
    b = x.shape[0]
    x = x + (torch.rand(b, 1, 1, 1, device=x.device) - 0.5)  # brightness
    mean = x.mean(1, keepdim=True)
    x = (x - mean) * (torch.rand(b, 1, 1, 1, device=x.device) * 2) + mean  # saturation
    mean = x.mean((1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(b, 1, 1, 1, device=x.device) + 0.5) + mean  # contrast


def _translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to `ratio` of its size, filling with zeros (mid-gray)."""
    h, w = x.shape[-2:]
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    padded = F.pad(x, [sw, sw, sh, sh])
    dy = torch.randint(0, 2 * sh + 1, (x.shape[0],)).tolist()
    dx = torch.randint(0, 2 * sw + 1, (x.shape[0],)).tolist()
    return torch.stack([p[:, i : i + h, j : j + w] for p, i, j in zip(padded, dy, dx)])


def _cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero a square of `ratio` of the image's size at a random place (it may overhang the border)."""
    h, w = x.shape[-2:]
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    mask = torch.ones_like(x[:, :1])
    ys = torch.randint(0, h + (1 - ch % 2), (x.shape[0],)).tolist()
    xs = torch.randint(0, w + (1 - cw % 2), (x.shape[0],)).tolist()
    for m, y, x0 in zip(mask, ys, xs):
        m[:, max(y - ch // 2, 0) : y + ch - ch // 2, max(x0 - cw // 2, 0) : x0 + cw - cw // 2] = 0
    return x * mask


_OPS = {"color": _color, "translation": _translation, "cutout": _cutout}


def diff_augment(x: torch.Tensor, policy: tuple[str, ...]) -> torch.Tensor:
    """(B, C, H, W) in [-1, 1] -> the same shape, each of `policy`'s changes applied in turn
    (names from POLICIES; ValueError for others); differentiable in x."""
    for name in policy:
        if name not in _OPS:
            raise ValueError(f"unknown augmentation {name!r}; known: {', '.join(POLICIES)}")
        x = _OPS[name](x)
    return x
