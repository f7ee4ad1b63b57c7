"""pix2pix U-Net generator, module layout identical to pytorch-CycleGAN-and-pix2pix.

Keeping their nesting (model.model.1.model.3...) means their checkpoints load without renaming.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .common import ArchSpec, drop_legacy_instance_norm, peer_detector, translation_task
from .norms import Norm, conv_bias, norm_layer
from .upsampling import Upsample, read_upsampling, upsampling_layer


@dataclass(frozen=True, kw_only=True)
class UNetConfig:
    in_channels: int = 3
    """Input channels (1 for colorization's L)."""
    out_channels: int = 3
    """Output channels (2 for colorization's ab)."""
    num_downs: int = 8
    """Downsamplings: 8 for unet_256, 7 for unet_128."""
    ngf: int = 64
    """Filters in the first conv layer."""
    norm: Norm = "batch"
    """batch or instance."""
    dropout: bool = True
    """Dropout 0.5 in the inner decoder blocks (pix2pix's noise)."""
    upsample: Upsample = "transposed"
    """Decoder x2 steps: transposed (4x4 stride-2 transposed convolutions, the reference's,
    which leave a checkerboard), resize (nearest x2 then a 3x3 convolution, Odena et al. 2016) or
    bilinear (bilinear x2 then a 3x3 convolution)."""
    full_res_channels: int = 0
    """Channels of a hidden full-resolution layer in the last decoder step (x2, 3x3 conv, norm,
    ReLU, then the 3x3 output conv); 0: none, the reference's single x2 layer to the output.
    After an interpolation the reference's last layer is one linear filter of smooth features,
    which cannot draw pixel-level texture; a nonlinearity at full resolution can."""


class UNetBlock(nn.Module):
    def __init__(
        self,
        outer: int,
        inner: int,
        *,
        input_nc: int | None = None,
        submodule=None,
        outermost=False,
        innermost=False,
        norm: Norm = "batch",
        dropout=False,
        upsample: Upsample = "transposed",
        full_res_channels: int = 0,
    ):
        super().__init__()
        self.outermost = outermost
        bias = conv_bias(norm)
        input_nc = outer if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner, 4, 2, 1, bias=bias)
        downrelu, uprelu = nn.LeakyReLU(0.2, True), nn.ReLU(True)
        if outermost:
            # With a hidden full-resolution layer the x2 step feeds it (and its norm) instead of the output.
            hidden = full_res_channels
            upconv = upsampling_layer(upsample, inner * 2, hidden or outer, kernel=4, bias=bias or not hidden)
            head = [norm_layer(norm, hidden), nn.ReLU(True), nn.Conv2d(hidden, outer, 3, 1, 1)] if hidden else []
            layers = [downconv, submodule, uprelu, upconv, *head, nn.Tanh()]
        elif innermost:
            upconv = upsampling_layer(upsample, inner, outer, kernel=4, bias=bias)
            layers = [downrelu, downconv, uprelu, upconv, norm_layer(norm, outer)]
        else:
            upconv = upsampling_layer(upsample, inner * 2, outer, kernel=4, bias=bias)
            layers = [downrelu, downconv, norm_layer(norm, inner), submodule, uprelu, upconv, norm_layer(norm, outer)]
            if dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UNetGenerator(nn.Module):
    """(B, in, H, W) in [-1, 1] -> (B, out, H, W) in [-1, 1]; H, W multiples of 2**num_downs."""

    def __init__(self, cfg: UNetConfig):
        super().__init__()
        g, n, up = cfg.ngf, cfg.norm, cfg.upsample
        block = UNetBlock(g * 8, g * 8, innermost=True, norm=n, upsample=up)
        for _ in range(cfg.num_downs - 5):
            block = UNetBlock(g * 8, g * 8, submodule=block, norm=n, dropout=cfg.dropout, upsample=up)
        for mult in (4, 2, 1):
            block = UNetBlock(g * mult, g * mult * 2, submodule=block, norm=n, upsample=up)
        self.model = UNetBlock(
            cfg.out_channels,
            g,
            input_nc=cfg.in_channels,
            submodule=block,
            outermost=True,
            norm=n,
            upsample=up,
            full_res_channels=cfg.full_res_channels,
        )

    def forward(self, x):
        return self.model(x)


def read_options(state):
    """pytorch-CycleGAN-and-pix2pix's UnetGenerator keys (model.model.N, nested blocks)."""
    up = read_upsampling(state, "model.model.3")
    if "model.model.0.weight" not in state or up is None:
        return None
    depth = 1
    while f"model.model.1{'.model.3' * (depth - 1)}.model.1.weight" in state:
        depth += 1
    first = state["model.model.0.weight"]
    # A hidden full-resolution layer puts the output conv after it, at model.model.6.
    out_conv = state.get("model.model.6.weight")
    return dict(
        in_channels=int(first.shape[1]),
        out_channels=up[1] if out_conv is None else int(out_conv.shape[0]),
        num_downs=depth,  # outermost + (depth - 1) nested blocks, each one downsampling
        ngf=int(first.shape[0]),
        norm="batch" if "model.model.1.model.2.weight" in state else "instance",
        upsample=up[0],
        full_res_channels=0 if out_conv is None else up[1],
    )


SPEC = ArchSpec(
    id="unet",
    config=UNetConfig,
    build=UNetGenerator,
    size_multiple=lambda cfg: 2**cfg.num_downs,
    channels=lambda cfg: (cfg.in_channels, cfg.out_channels),
    # The bottleneck sees the whole input: tiles would change the result.
    tiles=False,
    read_options=read_options,
    detect=peer_detector(
        read_options,
        "unet",
        translation_task,
        clean=drop_legacy_instance_norm,
        assumed={"dropout": True},  # pix2pix's default; dropout has no weights to tell
    ),
    detect_order=30,
)
