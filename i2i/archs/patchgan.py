"""PatchGAN and pixel discriminators (pytorch-CycleGAN-and-pix2pix layout)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from torch import nn

from .common import ArchSpec
from .norms import Norm, conv_bias, norm_layer


@dataclass(frozen=True, kw_only=True)
class PatchGANConfig:
    in_channels: int = 6
    """Input channels: 6 for a conditional pix2pix D (input + output), 3 for CycleGAN."""
    ndf: int = 64
    """Filters in the first conv layer."""
    n_layers: int = 3
    """Strided layers: 3 gives the 70x70 PatchGAN; 0 gives the 1x1 pixel discriminator."""
    norm: Norm = "batch"
    """batch or instance."""


def _patch_layers(cfg: PatchGANConfig) -> list[nn.Module]:
    ndf, bias = cfg.ndf, conv_bias(cfg.norm)
    layers = [nn.Conv2d(cfg.in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
    mult = 1
    for n in range(1, cfg.n_layers + 1):
        prev, mult = mult, min(2**n, 8)
        stride = 2 if n < cfg.n_layers else 1
        layers += [
            nn.Conv2d(ndf * prev, ndf * mult, 4, stride, 1, bias=bias),
            norm_layer(cfg.norm, ndf * mult),
            nn.LeakyReLU(0.2, True),
        ]
    layers.append(nn.Conv2d(ndf * mult, 1, 4, 1, 1))
    return layers


def _pixel_layers(cfg: PatchGANConfig) -> list[nn.Module]:
    ndf, bias = cfg.ndf, conv_bias(cfg.norm)
    return [
        nn.Conv2d(cfg.in_channels, ndf, 1),
        nn.LeakyReLU(0.2, True),
        nn.Conv2d(ndf, ndf * 2, 1, bias=bias),
        norm_layer(cfg.norm, ndf * 2),
        nn.LeakyReLU(0.2, True),
        nn.Conv2d(ndf * 2, 1, 1, bias=bias),
    ]


class PatchGAN(nn.Module):
    """(B, C, H, W) -> (B, 1, h, w) real/fake logits, one per patch."""

    def __init__(self, cfg: PatchGANConfig):
        super().__init__()
        layers = _pixel_layers(cfg) if cfg.n_layers == 0 else _patch_layers(cfg)
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


def read_options(state):
    """pytorch-CycleGAN-and-pix2pix's NLayerDiscriminator / PixelDiscriminator keys (model.N)."""
    convs = sorted(
        (int(m.group(1)), v)
        for k, v in state.items()
        if (m := re.fullmatch(r"model\.(\d+)\.weight", k)) and v.ndim == 4
    )
    if not convs or convs[0][0] != 0:
        return None
    first = convs[0][1]
    norm = (
        "batch" if any(v.ndim == 1 for k, v in state.items() if re.fullmatch(r"model\.\d+\.weight", k)) else "instance"
    )
    return dict(
        in_channels=int(first.shape[1]),
        ndf=int(first.shape[0]),
        n_layers=0 if first.shape[-1] == 1 else len(convs) - 2,
        norm=norm,
    )


SPEC = ArchSpec(
    id="patchgan",
    config=PatchGANConfig,
    build=PatchGAN,
    size_multiple=lambda cfg: 1,
    generator=False,
    gives="logits",
    channels=lambda cfg: (cfg.in_channels, 1),
    read_options=read_options,
)
