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
