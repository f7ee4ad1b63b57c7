"""What every architecture declares once: its config dataclass, module builder and spec."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable


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
    tiles: bool = True
    """Whether tiled inference is valid (fully convolutional, bounded receptive field)."""
    generator: bool = True
    """False for discriminators: they are never run by the engine."""
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
