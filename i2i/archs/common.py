"""What every architecture declares once: its config dataclass, module builder and spec."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Literal


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
    scale: Callable[[Any], int] = lambda cfg: 1
    """Output size / input size."""
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
    """Whether fp16/bf16 inference is allowed on CUDA."""


def config_from_dict(cls, values: dict):
    """Build a config, refusing unknown keys so a typo never goes silently unused."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"unknown option(s) for {cls.__name__}: {', '.join(unknown)}")
    return cls(**values)
