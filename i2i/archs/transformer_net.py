"""Johnson et al. fast style transfer network, layout identical to pytorch/examples
fast_neural_style (conv1.conv2d, in1, res1.conv1, deconv1.conv2d, ...).

Its residual blocks work at 1/4 resolution and two x2 steps bring them back. pytorch/examples'
steps copy each pixel into a 2x2 block (nearest) before a 3x3 convolution; bilinear x2 has no
block edges. Either way a net trained against a Gram loss can draw a grid of period 4 and 2
pixels (the "hatching" of such styles); the style recipe's --grid-weight is what keeps it out
(weights/README.md has the measurements).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch.nn.functional as F
from torch import nn

from ..task import Task
from .common import ArchSpec, count_indices, peer_detector
from .upsampling import RESIZE_INTERPOLATION


@dataclass(frozen=True, kw_only=True)
class TransformerNetConfig:
    width: int = 32
    """Channels after the first conv; the net widens to 2x and 4x this."""
    res_blocks: int = 5
    """Residual blocks at 1/4 resolution."""
    in_channels: int = 3
    """Image channels in (1 for a grayscale-trained peer)."""
    out_channels: int = 3
    """Image channels out."""
    upsample: str = "resize"
    """The two x2 steps: resize (nearest x2 + conv, pytorch/examples') or bilinear (bilinear x2 + conv);
    same weights and keys, so a peer's file reads as resize."""

    def __post_init__(self):
        if self.upsample not in RESIZE_INTERPOLATION:
            raise ValueError(f"upsample must be one of {', '.join(RESIZE_INTERPOLATION)}, not {self.upsample!r}")


class ConvLayer(nn.Module):
    """Reflection-padded convolution, after an x2 step when `upsample` names one (resize|bilinear)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, upsample: str = ""):
        super().__init__()
        self.interpolation = RESIZE_INTERPOLATION[upsample] if upsample else ""
        self.reflection_pad = nn.ReflectionPad2d(kernel // 2)
        self.conv2d = nn.Conv2d(cin, cout, kernel, stride)

    def forward(self, x):
        if self.interpolation:
            x = F.interpolate(x, scale_factor=2, mode=self.interpolation)
        return self.conv2d(self.reflection_pad(x))


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3)
        self.in1 = nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = ConvLayer(channels, channels, 3)
        self.in2 = nn.InstanceNorm2d(channels, affine=True)
        self.relu = nn.ReLU()

    def forward(self, x):
        return x + self.in2(self.conv2(self.relu(self.in1(self.conv1(x)))))


class TransformerNet(nn.Module):
    """(B, in, H, W) in [0, 255] -> (B, out, H, W) in about [0, 255]; H, W multiples of 4."""

    def __init__(self, cfg: TransformerNetConfig):
        super().__init__()
        w = cfg.width
        self.conv1, self.in1 = ConvLayer(cfg.in_channels, w, 9), nn.InstanceNorm2d(w, affine=True)
        self.conv2, self.in2 = ConvLayer(w, 2 * w, 3, 2), nn.InstanceNorm2d(2 * w, affine=True)
        self.conv3, self.in3 = ConvLayer(2 * w, 4 * w, 3, 2), nn.InstanceNorm2d(4 * w, affine=True)
        self.res_names = [f"res{i + 1}" for i in range(cfg.res_blocks)]
        for name in self.res_names:
            setattr(self, name, ResidualBlock(4 * w))
        self.deconv1 = ConvLayer(4 * w, 2 * w, 3, upsample=cfg.upsample)
        self.in4 = nn.InstanceNorm2d(2 * w, affine=True)
        self.deconv2 = ConvLayer(2 * w, w, 3, upsample=cfg.upsample)
        self.in5 = nn.InstanceNorm2d(w, affine=True)
        self.deconv3 = ConvLayer(w, cfg.out_channels, 9)
        self.relu = nn.ReLU()

    def forward(self, x):
        y = self.relu(self.in1(self.conv1(x)))
        y = self.relu(self.in2(self.conv2(y)))
        y = self.relu(self.in3(self.conv3(y)))
        for name in self.res_names:
            y = getattr(self, name)(y)
        y = self.relu(self.in4(self.deconv1(y)))
        y = self.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)


def read_options(state):
    """pytorch/examples fast_neural_style's TransformerNet keys (conv1.conv2d ... deconv3.conv2d)."""
    if "conv1.conv2d.weight" not in state or "deconv3.conv2d.weight" not in state:
        return None
    first = state["conv1.conv2d.weight"]
    return dict(
        width=int(first.shape[0]),
        res_blocks=count_indices(state, r"res(\d+)\.conv1\.conv2d\.weight"),
        in_channels=int(first.shape[1]),
        out_channels=int(state["deconv3.conv2d.weight"].shape[0]),
        upsample="resize",  # or bilinear: the same tensors, told apart by the recorded config only
    )


def _without_running_stats(state: dict, options: dict) -> dict:
    """fast_neural_style's files carry InstanceNorm running statistics (older PyTorch): unused."""
    return {k: v for k, v in state.items() if not re.match(r".*in\d+\.running_(mean|var)$", k)}


def _stylize_task(options: dict, in_space: str, out_space: str) -> Task:
    return Task(kind="stylize", value_range="0,255", in_space=in_space, out_space=out_space)


SPEC = ArchSpec(
    id="transformer_net",
    config=TransformerNetConfig,
    build=TransformerNet,
    size_multiple=lambda cfg: 4,
    channels=lambda cfg: (cfg.in_channels, cfg.out_channels),
    # a 9x9 reflection-padded stem, then 2x2 at 1/4 for the blocks' reflection padding and instance norm
    min_size=lambda cfg: 8,
    receptive_margin=48,
    read_options=read_options,
    detect=peer_detector(read_options, "transformer_net", _stylize_task, clean=_without_running_stats),
    detect_order=20,
)
