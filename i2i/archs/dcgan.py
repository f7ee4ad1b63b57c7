"""DCGAN generator, discriminator and latent encoder (Radford, Metz, Chintala, ICLR 2016).

All-convolutional: fractional-strided (transposed) convolutions in the generator, strided ones in
the discriminator, batch norm everywhere except the generator's output and the discriminator's
input, ReLU and a Tanh output in the generator, LeakyReLU 0.2 in the discriminator, no fully
connected hidden layers. The module layout (`main.N`) is pytorch/examples' dcgan/main.py, so
its 64x64 checkpoints (netG/netD) have the same key names and shapes.

The encoder (image -> latent) is the discriminator's body ending in `z_dim` outputs instead of
one logit: the learned initialiser of GAN inversion (Zhu et al., "Generative Visual
Manipulation on the Natural Image Manifold", ECCV 2016).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch
from torch import nn

from .common import ArchSpec


@dataclass(frozen=True, kw_only=True)
class DCGANGeneratorConfig:
    z_dim: int = 100
    """Latent vector length (the paper's 100)."""
    size: int = 64
    """Output side in pixels: a power of two, 32 to 256 (64 in the paper)."""
    ngf: int = 64
    """Filters of the last hidden layer; each earlier layer doubles them (ngf * 8 at 4x4)."""
    channels: int = 3
    """Output image channels."""


@dataclass(frozen=True, kw_only=True)
class DCGANDiscriminatorConfig:
    size: int = 64
    """Input side in pixels (a power of two, 32 to 256)."""
    ndf: int = 64
    """Filters of the first layer; each later layer doubles them."""
    channels: int = 3
    """Input image channels."""
    z_dim: int = 0
    """0: one real/fake logit per image (the discriminator); N: an N-vector (the encoder)."""


@dataclass(frozen=True, kw_only=True)
class DCGANEncoderConfig(DCGANDiscriminatorConfig):
    z_dim: int = 100
    """Latent vector length: the generator's z_dim."""


def _steps(size: int) -> int:
    """Stride-2 layers between 4x4 and `size` (size = 4 * 2**steps)."""
    steps = round(math.log2(size)) - 2
    if size < 32 or size > 256 or 4 * 2**steps != size:
        raise ValueError(f"size must be a power of two from 32 to 256, not {size}")
    return steps


class DCGANGenerator(nn.Module):
    """(B, z_dim) or (B, z_dim, 1, 1) latents ~ N(0, I) -> (B, channels, size, size) in [-1, 1]."""

    def __init__(self, cfg: DCGANGeneratorConfig):
        super().__init__()
        steps = _steps(cfg.size)
        width = cfg.ngf * 2 ** (steps - 1)
        layers = [nn.ConvTranspose2d(cfg.z_dim, width, 4, 1, 0, bias=False), nn.BatchNorm2d(width), nn.ReLU(True)]
        for _ in range(steps - 1):
            layers += [
                nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width // 2),
                nn.ReLU(True),
            ]
            width //= 2
        layers += [nn.ConvTranspose2d(width, cfg.channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z.reshape(z.shape[0], -1, 1, 1))

    def layers(self) -> dict[str, nn.Module]:
        """Dissectable layers by name: layer1 (4x4) .. layerN (size/2), each block's ReLU output."""
        relus = [m for m in self.main if isinstance(m, nn.ReLU)]
        return {f"layer{i + 1}": m for i, m in enumerate(relus)}


class DCGANDiscriminator(nn.Module):
    """(B, channels, size, size) in [-1, 1] -> (B, 1) logits, or (B, z_dim) latents (encoder)."""

    def __init__(self, cfg: DCGANDiscriminatorConfig):
        super().__init__()
        steps = _steps(cfg.size)
        width = cfg.ndf
        layers = [nn.Conv2d(cfg.channels, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for _ in range(steps - 1):
            layers += [
                nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width * 2),
                nn.LeakyReLU(0.2, True),
            ]
            width *= 2
        layers.append(nn.Conv2d(width, cfg.z_dim or 1, 4, 1, 0, bias=False))
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).flatten(1)


def init_weights(net: nn.Module) -> None:
    """The paper's initialisation: conv weights ~ N(0, 0.02), batch-norm scales ~ N(1, 0.02)."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def _convs(state) -> list:
    """The convolution weights of main.N, in layer order."""
    found = []
    for k, v in state.items():
        m = re.fullmatch(r"main\.(\d+)\.weight", k)
        if m and v.ndim == 4:
            found.append((int(m.group(1)), v))
    return [v for _, v in sorted(found, key=lambda t: t[0])]


def read_generator_options(state):
    """pytorch/examples dcgan's Generator keys (main.N)."""
    convs = _convs(state)
    if len(convs) < 2:
        return None
    # ConvTranspose2d weights are (in, out, k, k): z in first, image channels out last.
    return dict(
        z_dim=int(convs[0].shape[0]),
        size=4 * 2 ** (len(convs) - 1),
        ngf=int(convs[-1].shape[0]),
        channels=int(convs[-1].shape[1]),
    )


def read_discriminator_options(state, encoder: bool = False):
    """pytorch/examples dcgan's Discriminator keys (main.N); an encoder ends in z_dim outputs."""
    convs = _convs(state)
    if len(convs) < 2:
        return None
    out = int(convs[-1].shape[0])
    return dict(
        size=4 * 2 ** (len(convs) - 1),
        ndf=int(convs[0].shape[0]),
        channels=int(convs[0].shape[1]),
        z_dim=out if encoder or out != 1 else 0,
    )


GENERATOR = ArchSpec(
    id="dcgan_generator",
    config=DCGANGeneratorConfig,
    build=DCGANGenerator,
    size_multiple=lambda cfg: 1,
    tiles=False,
    generator=False,
    takes="latent",
    latent_dim=lambda cfg: cfg.z_dim,
    image_size=lambda cfg: cfg.size,
    read_options=read_generator_options,
)
DISCRIMINATOR = ArchSpec(
    id="dcgan_discriminator",
    config=DCGANDiscriminatorConfig,
    build=DCGANDiscriminator,
    size_multiple=lambda cfg: cfg.size,
    tiles=False,
    generator=False,
    gives="logits",
    image_size=lambda cfg: cfg.size,
    read_options=read_discriminator_options,
)
ENCODER = ArchSpec(
    id="dcgan_encoder",
    config=DCGANEncoderConfig,
    build=DCGANDiscriminator,
    size_multiple=lambda cfg: cfg.size,
    tiles=False,
    generator=False,
    gives="latent",
    latent_dim=lambda cfg: cfg.z_dim,
    image_size=lambda cfg: cfg.size,
    read_options=lambda state: read_discriminator_options(state, encoder=True),
)
