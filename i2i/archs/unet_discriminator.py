"""U-Net discriminator with spectral normalisation (Real-ESRGAN's UNetDiscriminatorSN).

Real-ESRGAN (Wang et al., ICCVW 2021, section 3.3) replaces the VGG-style discriminator of
ESRGAN with a U-Net: it returns a realness value per pixel rather than per patch, which gives
the generator detailed feedback on local texture, and spectral normalisation keeps its training
stable on the strongly degraded inputs of the real-world pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from .common import ArchSpec


@dataclass(frozen=True, kw_only=True)
class UNetDiscriminatorConfig:
    in_channels: int = 3
    """Image channels."""
    ndf: int = 64
    """Filters of the first layer (Real-ESRGAN: 64)."""
    skip: bool = True
    """U-Net skip connections between the down and up paths."""


class UNetDiscriminatorSN(nn.Module):
    """(B, C, H, W), H and W multiples of 8 -> (B, 1, H, W) real/fake logits, one per pixel."""

    def __init__(self, cfg: UNetDiscriminatorConfig):
        super().__init__()
        nf, self.skip = cfg.ndf, cfg.skip
        self.conv0 = nn.Conv2d(cfg.in_channels, nf, 3, 1, 1)
        self.conv1 = spectral_norm(nn.Conv2d(nf, nf * 2, 4, 2, 1, bias=False))
        self.conv2 = spectral_norm(nn.Conv2d(nf * 2, nf * 4, 4, 2, 1, bias=False))
        self.conv3 = spectral_norm(nn.Conv2d(nf * 4, nf * 8, 4, 2, 1, bias=False))
        self.conv4 = spectral_norm(nn.Conv2d(nf * 8, nf * 4, 3, 1, 1, bias=False))
        self.conv5 = spectral_norm(nn.Conv2d(nf * 4, nf * 2, 3, 1, 1, bias=False))
        self.conv6 = spectral_norm(nn.Conv2d(nf * 2, nf, 3, 1, 1, bias=False))
        self.conv7 = spectral_norm(nn.Conv2d(nf, nf, 3, 1, 1, bias=False))
        self.conv8 = spectral_norm(nn.Conv2d(nf, nf, 3, 1, 1, bias=False))
        self.conv9 = nn.Conv2d(nf, 1, 3, 1, 1)

    def forward(self, x):
        act = lambda t: F.leaky_relu(t, 0.2)  # noqa: E731
        up = lambda t: F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False)  # noqa: E731
        x0 = act(self.conv0(x))
        x1 = act(self.conv1(x0))
        x2 = act(self.conv2(x1))
        x3 = act(self.conv3(x2))
        x4 = act(self.conv4(up(x3)))
        x4 = x4 + x2 if self.skip else x4
        x5 = act(self.conv5(up(x4)))
        x5 = x5 + x1 if self.skip else x5
        x6 = act(self.conv6(up(x5)))
        x6 = x6 + x0 if self.skip else x6
        return self.conv9(act(self.conv8(act(self.conv7(x6)))))


def read_options(state):
    """Real-ESRGAN's UNetDiscriminatorSN keys (conv0 ... conv9)."""
    if "conv0.weight" not in state or "conv9.weight" not in state:
        return None
    first = state["conv0.weight"]
    return dict(in_channels=int(first.shape[1]), ndf=int(first.shape[0]))


SPEC = ArchSpec(
    id="unet_discriminator",
    config=UNetDiscriminatorConfig,
    build=UNetDiscriminatorSN,
    size_multiple=lambda cfg: 8,
    generator=False,
    gives="logits",
    channels=lambda cfg: (cfg.in_channels, 1),
    read_options=read_options,
)
