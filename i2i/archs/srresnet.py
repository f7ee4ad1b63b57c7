"""SRResNet-style super-resolution generator: residual blocks without batch norm, pixel shuffle.

With upsampler="progressive" the layout is BasicSR's MSRResNet (conv_first, body.N.conv1,
upconv1/2, conv_hr, conv_last), so its checkpoints load unchanged. upsampler="direct" ends in a
single conv to 3*scale**2 channels and one pixel shuffle (as ESPCN/IMDN): almost all compute
stays at low resolution, which buys more blocks per CPU-second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch.nn.functional as F
from torch import nn

from ..task import Task
from .common import ArchSpec, count_indices, peer_detector


@dataclass(frozen=True, kw_only=True)
class SRResNetConfig:
    scale: int = 4
    """Upscaling factor: 2, 3 or 4."""
    channels: int = 64
    """Feature channels."""
    blocks: int = 16
    """Residual blocks."""
    upsampler: Literal["progressive", "direct"] = "progressive"
    """progressive: MSRResNet tail; direct: one conv + one pixel shuffle."""
    in_channels: int = 3
    """Image channels in and out."""


class ResidualBlockNoBN(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return x + self.conv2(self.relu(self.conv1(x)))


class SRResNet(nn.Module):
    """(B, C, h, w) in [0, 1] -> (B, C, h*scale, w*scale) in [0, 1] (unclamped)."""

    def __init__(self, cfg: SRResNetConfig):
        super().__init__()
        if cfg.scale not in (2, 3, 4):
            raise ValueError(f"scale must be 2, 3 or 4, not {cfg.scale}")
        c, s = cfg.channels, cfg.scale
        self.scale, self.upsampler = s, cfg.upsampler
        self.conv_first = nn.Conv2d(cfg.in_channels, c, 3, 1, 1)
        self.body = nn.Sequential(*[ResidualBlockNoBN(c) for _ in range(cfg.blocks)])
        self.lrelu = nn.LeakyReLU(0.1, inplace=True)
        if cfg.upsampler == "direct":
            self.conv_up = nn.Conv2d(c, cfg.in_channels * s * s, 3, 1, 1)
            self.pixel_shuffle = nn.PixelShuffle(s)
            return
        if s == 4:
            self.upconv1 = nn.Conv2d(c, c * 4, 3, 1, 1)
            self.upconv2 = nn.Conv2d(c, c * 4, 3, 1, 1)
            self.pixel_shuffle = nn.PixelShuffle(2)
        else:
            self.upconv1 = nn.Conv2d(c, c * s * s, 3, 1, 1)
            self.pixel_shuffle = nn.PixelShuffle(s)
        self.conv_hr = nn.Conv2d(c, c, 3, 1, 1)
        self.conv_last = nn.Conv2d(c, cfg.in_channels, 3, 1, 1)

    def forward(self, x):
        feat = self.lrelu(self.conv_first(x))
        out = self.body(feat)
        if self.upsampler == "direct":
            # The long skip over the trunk keeps early features reachable by the tail.
            out = self.pixel_shuffle(self.conv_up(out + feat))
        else:
            out = self.lrelu(self.pixel_shuffle(self.upconv1(out)))
            if self.scale == 4:
                out = self.lrelu(self.pixel_shuffle(self.upconv2(out)))
            out = self.conv_last(self.lrelu(self.conv_hr(out)))
        # Global skip: the network learns only the residual over a bilinear upscale.
        return out + F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)


def grow(net: SRResNet, net_cfg: SRResNetConfig, state: dict, cfg: SRResNetConfig) -> None:
    """Load the weights `state` of a trained SRResNet (`cfg`) with fewer residual blocks, and the
    same other options, into `net` (`net_cfg`) so that it computes the same function: the extra
    blocks come last, their second convolution zero (so each adds nothing) and their first seeded
    alike in every grown model, so that the grown stages of one family (clean, real-world PSNR,
    GAN) stay interpolable. Training then uses the depth (as Net2DeeperNet, Chen et al., ICLR
    2016). Raises ValueError when more than `blocks` differs, or the trained network is deeper."""
    import dataclasses

    import torch

    if dataclasses.replace(cfg, blocks=net_cfg.blocks) != net_cfg or cfg.blocks > net_cfg.blocks:
        raise ValueError(f"a {cfg} cannot grow into a {net_cfg}: only more blocks can be added")
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for block in list(net.body)[cfg.blocks :]:
            bound = 1 / (block.conv1.in_channels * 9) ** 0.5  # nn.Conv2d's default init range
            for p in (block.conv1.weight, block.conv1.bias):
                p.copy_(torch.rand(p.shape, generator=generator) * 2 * bound - bound)
            block.conv2.weight.zero_()
            block.conv2.bias.zero_()
    missing, unexpected = net.load_state_dict(state, strict=False)
    new = tuple(f"body.{i}." for i in range(cfg.blocks, net_cfg.blocks))
    if unexpected or any(not key.startswith(new) for key in missing):
        raise ValueError(f"the weights do not fit a {cfg}: missing {missing}, unexpected {unexpected}")


def read_options(state):
    """BasicSR MSRResNet (upconv1/upconv2, conv_hr, conv_last) or our direct tail (conv_up)."""
    if "conv_first.weight" not in state or "body.0.conv1.weight" not in state:
        return None
    feat, in_ch = (int(n) for n in state["conv_first.weight"].shape[:2])
    if "conv_up.weight" in state:
        upsampler, out_ch, scale = "direct", in_ch, _root(state["conv_up.weight"].shape[0], in_ch)
    elif "upconv2.weight" in state:
        upsampler, scale = "progressive", 4
        out_ch = int(state["conv_last.weight"].shape[0]) if "conv_last.weight" in state else None
    elif "upconv1.weight" in state:
        upsampler, scale = "progressive", _root(state["upconv1.weight"].shape[0], feat)
        out_ch = int(state["conv_last.weight"].shape[0]) if "conv_last.weight" in state else None
    else:
        return None
    if scale is None or out_ch is None:
        return None
    if out_ch != in_ch:
        raise ValueError(
            f"an MSRResNet with {in_ch} channels in and {out_ch} out: i2i's srresnet gives as many channels as it takes"
        )
    return dict(
        scale=scale,
        channels=feat,
        blocks=count_indices(state, r"body\.(\d+)\.conv1\.weight"),
        upsampler=upsampler,
        in_channels=in_ch,
    )


def _root(channels: int, per: int) -> int | None:
    """s such that channels == per * s * s, if whole."""
    s = round(math.sqrt(int(channels) / int(per))) if per else 0
    return s if s >= 1 and per * s * s == channels else None


def _upscale_task(options: dict, in_space: str, out_space: str) -> Task:
    return Task(kind="upscale", value_range="0,1", scale=options["scale"], in_space=in_space, out_space=out_space)


SPEC = ArchSpec(
    id="srresnet",
    config=SRResNetConfig,
    build=SRResNet,
    size_multiple=lambda cfg: 1,
    scale=lambda cfg: cfg.scale,
    channels=lambda cfg: (cfg.in_channels, cfg.in_channels),
    receptive_margin=24,
    grow=grow,
    read_options=read_options,
    detect=peer_detector(read_options, "srresnet", _upscale_task),
    detect_order=10,  # the peers in the order i2i always tried them: srresnet, transformer_net, unet, resnet
)
