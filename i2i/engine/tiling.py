"""Pure functions for tiled inference: tile starts, blend weights, padding to a multiple."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets covering [0, length) with tiles of `tile` overlapping by >= `overlap`."""
    if length <= tile:
        return [0]
    step = max(1, tile - overlap)
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return starts


def ramp(size: int, overlap: int, left: bool, right: bool) -> torch.Tensor:
    """1-D blend weights: zero for the outer quarter of the overlap, linear over its middle half.

    Two neighbours' ramps over a shared overlap sum to one, and neither uses the pixels nearest its
    own edge, where missing context makes a tile's output least accurate.
    """
    w = torch.ones(size)
    if overlap <= 0:
        return w
    d = torch.arange(size, dtype=torch.float32) + 0.5
    edge = ((d - overlap / 4) / (overlap / 2)).clamp(0, 1)
    if left:
        w = torch.minimum(w, edge)
    if right:
        w = torch.minimum(w, edge.flip(0))
    return w


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad (B, C, H, W) on the bottom/right to multiples; returns the padding added."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (ph, pw)
