"""What a model takes and gives: stored in every checkpoint so the engine knows how to feed it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Literal, get_args

Kind = Literal["translate", "upscale", "stylize", "colorize", "restore", "generate", "encode"]
Space = Literal["RGB", "RGBA", "gray", "L", "ab"]
ValueRange = Literal["-1,1", "0,1", "0,255"]

CHANNELS: dict[str, int] = {"RGB": 3, "RGBA": 4, "gray": 1, "L": 1, "ab": 2}
"""Channels of each space as the network sees them."""

IMAGE_SPACES: dict[int, str] = {1: "gray", 3: "RGB", 4: "RGBA"}
"""The space an image-to-image network with this many channels takes or gives."""


@dataclass(frozen=True, kw_only=True)
class Task:
    """Raises ValueError on a value outside the declared sets (checkpoint metadata is untrusted)."""

    kind: Kind = "translate"
    """Which command runs it: upscale (scale > 1), restore (1x denoise/deJPEG/deblur, run by
    upscale and translate), stylize, colorize, translate."""
    in_space: Space = "RGB"
    """Fed to the network: RGB, RGBA (RGB + alpha), gray (BT.601 luma, as PIL's "L" and
    torchvision's Grayscale), or L (the Lab lightness, for colorize)."""
    out_space: Space = "RGB"
    """What the network returns: RGB, RGBA, gray, or ab (Lab chroma, merged with the input's L)."""
    value_range: ValueRange = "-1,1"
    """Range of the network's inputs and outputs."""
    scale: int = 1
    """Output size / input size."""

    def __post_init__(self):
        for name, allowed in (("kind", Kind), ("in_space", Space), ("out_space", Space), ("value_range", ValueRange)):
            if getattr(self, name) not in get_args(allowed):
                raise ValueError(f"task {name} {getattr(self, name)!r} is not one of {', '.join(get_args(allowed))}")
        if type(self.scale) is not int or not 1 <= self.scale <= 16:
            raise ValueError(f"task scale {self.scale!r} is not a whole number from 1 to 16")

    @property
    def in_channels(self) -> int:
        return CHANNELS[self.in_space]

    @property
    def out_channels(self) -> int:
        return CHANNELS[self.out_space]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Task:
        """ValueError for a non-dict, unknown keys or values outside the declared sets."""
        if not isinstance(d, dict):
            raise ValueError(f"task is not a JSON object: {str(d)[:60]}")
        unknown = sorted(set(d) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown task field(s): {', '.join(map(str, unknown))}")
        return cls(**d)

    def to_net(self, x):
        """[0, 1] -> the network's value range."""
        if self.value_range == "-1,1":
            return x * 2 - 1
        if self.value_range == "0,255":
            return x * 255
        return x

    def from_net(self, y):
        """The network's value range -> [0, 1] (not clamped)."""
        if self.value_range == "-1,1":
            return (y + 1) / 2
        if self.value_range == "0,255":
            return y / 255
        return y
