"""What every architecture declares once: its config dataclass, module builder and spec."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True, kw_only=True)
class ArchSpec:
    """How the engine and checkpoints treat one architecture."""

    id: str
    """Registry id, stored in checkpoint metadata."""
    config: type
    """Frozen config dataclass; its fields are the architecture's options."""
    build: Callable[[Any], Any]
    """config -> torch.nn.Module."""
    size_multiple: Callable[[Any], int]
    """Input height and width must be a multiple of this (the engine pads)."""
    min_size: Callable[[Any], int] = lambda cfg: 1
    """Smallest input side the network runs on (reflection padding needs more pixels than it
    pads; instance norm needs more than one pixel in its smallest feature map); the engine pads
    smaller inputs up to it and crops the output."""
    scale: Callable[[Any], int] = lambda cfg: 1
    """Output size / input size."""
    channels: Callable[[Any], tuple[int, int]] = lambda cfg: (3, 3)
    """(input, output) image channels of the network."""
    tiles: bool = True
    """Whether tiled inference is valid (fully convolutional, bounded receptive field)."""
    generator: bool = True
    """True for image-to-image networks, which the engine runs; False for discriminators,
    encoders and latent-input generators."""
    takes: Literal["image", "latent"] = "image"
    """What forward() takes: (B, C, H, W) images, or (B, latent_dim) latent vectors."""
    gives: Literal["image", "logits", "latent"] = "image"
    """What forward() returns: images, real/fake logits (B, 1, ...), or (B, latent_dim) latents."""
    latent_dim: Callable[[Any], int] = lambda cfg: 0
    """Length of the latent vectors taken or given (0 for image-to-image networks)."""
    image_size: Callable[[Any], int | None] = lambda cfg: None
    """Side of the square images a fixed-size network makes or takes; None: any size."""
    receptive_margin: int = 16
    """Input pixels of context a tile needs on each side to match whole-image output."""
    half_precision: bool = True
    """Whether fp16 inference is allowed on CUDA."""
    bfloat16: bool = True
    """Whether bf16 inference is allowed on CUDA."""
    grow: Callable[[Any, Any, dict, Any], None] | None = None
    """(module, its config, state dict, that state's config) -> None: load a trained network of
    this architecture with a smaller config into `module` so that it computes the same function
    (--init of a larger network); None: only an equal config loads. Raises ValueError."""
    from_weights: Callable[[Any, dict], Any] | None = None
    """(config, state dict) -> module with those weights loaded, for architectures whose
    hyperparameters only the weights hold (spandrel's); None: build(config) + load_state_dict."""
    per_model: Callable[[Any], dict] | None = None
    """config -> overrides of the fields above that differ per model (spandrel: the descriptor's
    tiling and precision flags); see for_config()."""

    def for_config(self, cfg) -> ArchSpec:
        """This spec with the per-model fields of one model's config filled in."""
        return dataclasses.replace(self, **self.per_model(cfg)) if self.per_model else self


def config_from_dict(cls, values: dict):
    """Build a config from untrusted values (checkpoint metadata, command options).

    Raises ValueError for unknown keys (a typo never goes silently unused) and for values whose
    type does not match the field's annotation (bool, int, float, str or a Literal set).
    """
    if not isinstance(values, dict):
        raise ValueError(f"options are not a JSON object: {str(values)[:60]}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"unknown option(s) for {cls.__name__}: {', '.join(map(str, unknown))}")
    hints = typing.get_type_hints(cls)
    for name, value in values.items():
        problem = _type_problem(value, hints[name])
        if problem:
            raise ValueError(f"option {name} = {_short(value)}: {problem}")
    return cls(**values)


def _type_problem(value, hint) -> str | None:
    """Why `value` does not fit the annotation `hint`, or None when it does."""
    origin = typing.get_origin(hint)
    if origin is Literal:
        allowed = typing.get_args(hint)
        return (
            None
            if value in allowed and type(value) in {type(a) for a in allowed}
            else f"must be one of {', '.join(map(repr, allowed))}"
        )
    if origin in (typing.Union, types.UnionType):
        problems = [_type_problem(value, h) for h in typing.get_args(hint)]
        return None if any(p is None for p in problems) else "; ".join(p for p in problems if p)
    if hint is type(None):
        return None if value is None else "must be null"
    if hint is bool:
        return None if type(value) is bool else "must be true or false"
    if hint is int:
        return None if type(value) is int else "must be a whole number"
    if hint is float:
        return None if type(value) in (int, float) else "must be a number"
    if hint is str:
        return None if type(value) is str else "must be a string"
    return None


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
