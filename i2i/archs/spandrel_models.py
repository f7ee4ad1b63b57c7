"""Community architectures (ESRGAN/Real-ESRGAN, SRVGGNetCompact, SwinIR, HAT, DAT, SPAN,
Real-CUGAN, restoration models, ...) through spandrel (chaiNNer-org/spandrel, MIT).

spandrel detects an architecture from key names and tensor shapes and builds the matching module
with its hyperparameters read from the weights. i2i registers all of them as one architecture,
"spandrel", whose options name spandrel's architecture id and record what spandrel's descriptor
says (scale, channels, size requirements, tiling, precision): a converted checkpoint rebuilds
its module from its weights through that named architecture, without detection, and the engine
reads the rest from the options without importing spandrel first.

Only spandrel's main registry (permissively licensed architectures) is used, unless the user
has installed spandrel_extra_arches, whose architectures carry non-commercial licences: they
are then recognised too, and `licence()` says so.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..task import Task
from .common import ArchSpec, Detected, image_spaces

Tiling = Literal["supported", "discouraged", "internal"]


@dataclass(frozen=True, kw_only=True)
class SpandrelConfig:
    """What spandrel's ImageModelDescriptor says about one model (all read from its weights)."""

    arch: str
    """spandrel's architecture id: ESRGAN, Compact, SwinIR, HAT, DAT, SPAN, RealCUGAN, ..."""
    scale: int = 1
    """Output size / input size."""
    in_channels: int = 3
    """Image channels in (1 gray, 3 RGB, 4 RGBA)."""
    out_channels: int = 3
    """Image channels out."""
    purpose: Literal["SR", "FaceSR", "Restoration"] = "SR"
    """spandrel's purpose: super-resolution, face restoration/SR, or 1x restoration."""
    size_minimum: int = 0
    """Smallest input side in pixels (smaller inputs are padded, the output cropped)."""
    size_multiple: int = 1
    """Input sides must be multiples of this (the engine pads)."""
    size_square: bool = False
    """Input must be square (padded to square, the output cropped)."""
    tiling: Tiling = "supported"
    """spandrel's tiling advice: only "supported" models are tiled by the engine."""
    fp16: bool = False
    """Whether spandrel allows fp16 inference."""
    bf16: bool = False
    """Whether spandrel allows bf16 inference."""
    tags: str = ""
    """spandrel's tags, comma-separated (for example "64nf,23nb" or "unshuffle")."""


def registry():
    """spandrel's main registry, plus spandrel_extra_arches' architectures when installed."""
    from spandrel import MAIN_REGISTRY

    extra = _extra_registry()
    if extra is None:
        return MAIN_REGISTRY
    combined = MAIN_REGISTRY.copy()
    combined.add(*extra, ignore_duplicates=True)
    return combined


def _extra_registry():
    try:
        from spandrel_extra_arches import EXTRA_REGISTRY
    except ImportError:
        return None
    return EXTRA_REGISTRY


def licence(arch_id: str) -> str:
    """One line on the licence of an architecture's code (the weights keep their authors')."""
    from spandrel import MAIN_REGISTRY

    if arch_id in MAIN_REGISTRY:
        return "architecture code from spandrel's main registry (MIT); the weights keep their authors' licence"
    return (
        f"{arch_id} comes from spandrel_extra_arches: a NON-COMMERCIAL licence applies to this "
        "architecture; check it before any commercial use"
    )


def config_of(descriptor) -> SpandrelConfig:
    """The config that describes a loaded spandrel ImageModelDescriptor."""
    req = descriptor.size_requirements
    return SpandrelConfig(
        arch=str(descriptor.architecture.id),
        scale=int(descriptor.scale),
        in_channels=int(descriptor.input_channels),
        out_channels=int(descriptor.output_channels),
        purpose=descriptor.purpose,
        size_minimum=int(req.minimum),
        size_multiple=int(req.multiple_of),
        size_square=bool(req.square),
        tiling=descriptor.tiling.name.lower(),
        fp16=bool(descriptor.supports_half),
        bf16=bool(descriptor.supports_bfloat16),
        tags=",".join(descriptor.tags),
    )


class SpandrelModule(nn.Module):
    """(B, C, H, W) in [0, 1] -> (B, C', H*scale, W*scale), through spandrel's own call function.

    Each image runs alone, as spandrel's API defines its call functions for (1, C, H, W)
    (DRUNet's noise map, for one, is built for a single image). Inputs smaller than the
    minimum, or not square where the model needs square, are padded as spandrel pads them
    (reflect, then replicate) and the output cropped.
    """

    def __init__(self, descriptor):
        super().__init__()
        self.net = descriptor.model
        self.call = descriptor._call_fn  # spandrel keeps no public handle on it
        self.requirements = descriptor.size_requirements
        self.scale = int(descriptor.scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] == 1:  # no slicing: an exported graph keeps a free batch axis where the net has one
            return self._one(x)
        return torch.cat([self._one(x[i : i + 1]) for i in range(x.shape[0])])

    def _one(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        pad_w, pad_h = self.requirements.get_padding(w, h)
        if pad_w or pad_h:
            x = _pad(x, pad_w, pad_h)
        y = self.call(self.net, x)
        return y[..., : h * self.scale, : w * self.scale]

    def checkpoint_state_dict(self) -> dict:
        """The weights under spandrel's own key names (what a converted checkpoint stores)."""
        return self.net.state_dict()


def _pad(x: torch.Tensor, pad_w: int, pad_h: int) -> torch.Tensor:
    """spandrel's pad_tensor: reflect as far as the image allows, replicate the rest."""
    h, w = x.shape[-2:]
    rw, rh = min(pad_w, w - 1), min(pad_h, h - 1)
    x = F.pad(x, (0, rw, 0, rh), "reflect") if rw or rh else x
    if pad_w - rw or pad_h - rh:
        x = F.pad(x, (0, pad_w - rw, 0, pad_h - rh), "replicate")
    return x


def detect(state: dict):
    """spandrel's detection over a canonical state dict -> ImageModelDescriptor.

    Raises LookupError when no architecture matches, TypeError for a model that is not
    image-to-image (inpainting), and whatever spandrel raises for inconsistent weights.
    """
    from spandrel import UnsupportedModelError

    try:
        descriptor = registry().load(state)
    except UnsupportedModelError:
        raise LookupError("spandrel does not recognise it either") from None
    return _image_model(descriptor)


def detected(state: dict) -> Detected:
    """A checkpoint no other architecture claims, as spandrel detects and builds it: the
    catch-all detector. LookupError when spandrel does not recognise it either; ValueError (one
    line) for a model i2i cannot run or weights spandrel cannot build."""
    try:
        descriptor = detect(state)
    except LookupError:
        raise
    except TypeError as e:
        raise ValueError(str(e)) from None
    except Exception as e:
        raise ValueError(f"spandrel cannot build it: {type(e).__name__}: {' '.join(str(e).split())}") from None
    cfg = config_of(descriptor)
    in_space, out_space = image_spaces(cfg.in_channels, cfg.out_channels, f"spandrel {cfg.arch} model")
    task = Task(
        kind="upscale" if cfg.scale > 1 else "restore",
        value_range="0,1",
        scale=cfg.scale,
        in_space=in_space,
        out_space=out_space,
    )
    return Detected(
        options=asdict(cfg),
        task=task,
        description=f"{cfg.arch} ({cfg.purpose}) detected by spandrel",
        config=cfg,
        module=SpandrelModule(descriptor),
    )


def recognises(arch_id: str, state: dict) -> bool:
    """Whether spandrel's named architecture accepts these keys and shapes (meta tensors do)."""
    support = registry().get(arch_id)
    try:
        return support is not None and bool(support.detect(state))
    except Exception:  # a detector that trips over these shapes does not recognise them
        return False


CHECKED = ("scale", "in_channels", "out_channels", "purpose", "size_minimum", "size_multiple", "size_square")
"""Options that must equal what spandrel reads from the weights. The advisory ones (tiling,
fp16, bf16, tags) are taken as recorded: spandrel releases revise them."""


def build_from_weights(cfg: SpandrelConfig, state: dict) -> nn.Module:
    """Rebuild a converted model through its named architecture (no detection), and check that
    spandrel's descriptor agrees with every recorded option (ValueError naming the first that
    does not)."""
    support = registry().get(cfg.arch)
    if support is None:
        raise ValueError(
            f"spandrel has no architecture {cfg.arch!r} (is spandrel_extra_arches "
            "needed and not installed, or is spandrel too old?)"
        )
    descriptor = _image_model(support.architecture.load(dict(state)))
    found = config_of(descriptor)
    for name in CHECKED:
        if getattr(found, name) != getattr(cfg, name):
            raise ValueError(
                f"metadata says {name} = {getattr(cfg, name)!r}, but spandrel reads "
                f"{getattr(found, name)!r} from the weights"
            )
    return SpandrelModule(descriptor)


def _image_model(descriptor):
    from spandrel import ImageModelDescriptor

    if not isinstance(descriptor, ImageModelDescriptor):
        raise TypeError(
            f"{descriptor.architecture.id} is a {descriptor.purpose} model (it needs a "
            "mask); i2i runs image-to-image models only"
        )
    return descriptor


def _shapes_problem(cfg: SpandrelConfig, shapes: dict) -> str | None:
    if not recognises(cfg.arch, shapes):
        return f"its tensors are not a spandrel {cfg.arch} layout"
    return None


def _needs_weights(cfg):
    raise ValueError(f"a spandrel {cfg.arch} model is built from its weights, not from options")


SPEC = ArchSpec(
    id="spandrel",
    config=SpandrelConfig,
    build=_needs_weights,
    from_weights=build_from_weights,
    size_multiple=lambda cfg: cfg.size_multiple,
    scale=lambda cfg: cfg.scale,
    channels=lambda cfg: (cfg.in_channels, cfg.out_channels),
    per_model=lambda cfg: dict(tiles=cfg.tiling == "supported", half_precision=cfg.fp16, bfloat16=cfg.bf16),
    shapes_problem=_shapes_problem,
    detect=detected,
    detect_order=1000,  # the catch-all: after every layout i2i reads itself
)
