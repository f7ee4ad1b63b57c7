"""What a model takes and gives: stored in every checkpoint so the engine knows how to feed it."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Kind = Literal["translate", "upscale", "stylize", "colorize", "generate", "encode"]
Space = Literal["RGB", "L", "ab"]
ValueRange = Literal["-1,1", "0,1", "0,255"]


@dataclass(frozen=True, kw_only=True)
class Task:
    kind: Kind = "translate"
    """Which command runs it by default."""
    in_space: Space = "RGB"
    """Colour space fed to the network: RGB, or L (the Lab lightness, for colorize)."""
    out_space: Space = "RGB"
    """What the network returns: RGB, or ab (Lab chroma, merged with the input's L)."""
    value_range: ValueRange = "-1,1"
    """Range of the network's inputs and outputs."""
    scale: int = 1
    """Output size / input size."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Task":
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
