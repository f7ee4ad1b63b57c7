"""CycleGAN ResNet generator, module layout identical to pytorch-CycleGAN-and-pix2pix."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .common import ArchSpec, count_indices, drop_legacy_instance_norm, peer_detector, translation_task
from .norms import Norm, conv_bias, norm_layer
from .upsampling import Upsample, read_upsampling, upsampling_layer


@dataclass(frozen=True, kw_only=True)
class ResnetConfig:
    in_channels: int = 3
    """Input channels."""
    out_channels: int = 3
    """Output channels."""
    ngf: int = 64
    """Filters in the first conv layer."""
    blocks: int = 9
    """Residual blocks: 9 for resnet_9blocks, 6 for resnet_6blocks."""
    norm: Norm = "instance"
    """instance or batch."""
    dropout: bool = False
    """Dropout inside residual blocks (shifts the reference's key indices)."""
    upsample: Upsample = "transposed"
    """Decoder x2 steps: transposed (3x3 stride-2 transposed convolutions, the reference's) or
    resize (nearest x2 then a 3x3 convolution, Odena et al. 2016: no checkerboard) or bilinear
    (bilinear x2 then a 3x3 convolution)."""
    input_skip: bool = False
    """The output convolution also sees the input image (its channels concatenated to the last
    features). Instance norm takes each image's per-channel mean and contrast away at every layer,
    so the reference generator relearns an image's own colours slowly (cycle and identity losses
    alone, monet2photo, ngf 16: mean L1 of a reconstruction still 0.33 in [-1, 1] after 200 steps,
    0.15 with this); with the input beside the features they are one convolution away. Not in the reference, whose key layout is kept
    (only the last convolution has more input channels)."""


class ResnetBlock(nn.Module):
    def __init__(self, dim: int, norm: Norm, dropout: bool):
        super().__init__()
        bias = conv_bias(norm)
        layers = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), norm_layer(norm, dim), nn.ReLU(True)]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), norm_layer(norm, dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """(B, in, H, W) in [-1, 1] -> (B, out, H, W) in [-1, 1]; H, W multiples of 4."""

    def __init__(self, cfg: ResnetConfig):
        super().__init__()
        g, n, bias = cfg.ngf, cfg.norm, conv_bias(cfg.norm)
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(cfg.in_channels, g, 7, bias=bias), norm_layer(n, g), nn.ReLU(True)]
        for mult in (1, 2):
            layers += [
                nn.Conv2d(g * mult, g * mult * 2, 3, 2, 1, bias=bias),
                norm_layer(n, g * mult * 2),
                nn.ReLU(True),
            ]
        layers += [ResnetBlock(g * 4, n, cfg.dropout) for _ in range(cfg.blocks)]
        for mult in (4, 2):
            layers += [
                upsampling_layer(cfg.upsample, g * mult, g * mult // 2, kernel=3, output_padding=1, bias=bias),
                norm_layer(n, g * mult // 2),
                nn.ReLU(True),
            ]
        head_in = g + (cfg.in_channels if cfg.input_skip else 0)
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(head_in, cfg.out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        self.input_skip = cfg.input_skip

    def forward(self, x):
        if not self.input_skip:
            return self.model(x)
        return self.model[-3:](torch.cat([self.model[:-3](x), x], 1))


def read_options(state):
    """pytorch-CycleGAN-and-pix2pix's ResnetGenerator keys (model.N, model.N.conv_block.M)."""
    if "model.1.weight" not in state or "model.10.conv_block.1.weight" not in state:
        return None
    blocks = count_indices(state, r"model\.(\d+)\.conv_block\.1\.weight")
    last = state.get(f"model.{17 + blocks}.weight")
    if last is None:
        return None
    up = read_upsampling(state, f"model.{10 + blocks}")
    if up is None:
        return None
    first = state["model.1.weight"]
    # With dropout the second conv moves from conv_block.5 to .6 (where batch norm would sit).
    return dict(
        in_channels=int(first.shape[1]),
        out_channels=int(last.shape[0]),
        ngf=int(first.shape[0]),
        blocks=blocks,
        norm="batch" if "model.2.weight" in state else "instance",
        dropout=getattr(state.get("model.10.conv_block.6.weight"), "ndim", 0) == 4,
        upsample=up[0],
        input_skip=int(last.shape[1]) != int(first.shape[0]),
    )


SPEC = ArchSpec(
    id="resnet",
    config=ResnetConfig,
    build=ResnetGenerator,
    size_multiple=lambda cfg: 4,
    channels=lambda cfg: (cfg.in_channels, cfg.out_channels),
    # a 7x7 reflection-padded stem, then 2x2 at 1/4 for the blocks' reflection padding and instance norm
    min_size=lambda cfg: 8,
    receptive_margin=64,
    read_options=read_options,
    detect=peer_detector(read_options, "resnet", translation_task, clean=drop_legacy_instance_norm),
    detect_order=40,  # the peers in the order i2i always tried them: srresnet, transformer_net, unet, resnet
)
