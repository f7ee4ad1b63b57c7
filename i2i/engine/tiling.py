"""Pure functions for tiled inference: tile sides and starts, blend weights, padding to a multiple."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def even_tile(length: int, tile: int, overlap: int, multiple: int = 1) -> int:
    """The tile side along one axis: as many tiles as `tile` needs to cover `length` with
    `overlap`, each shrunk so that they share the length evenly (rounded up to `multiple`).

    Tiles of the requested side would overlap by far more than asked where the length is not a
    whole number of steps: 1280 pixels in tiles of 768 overlap by 256, and the network runs over
    1.8x the image (measured with benchmarks/tiling.py). Shrunk evenly, the same two tiles are 672
    wide and overlap by 64. Never larger than `tile`; `length` itself when one tile covers it.
    """
    if length <= tile:
        return length
    count = tile_count(length, tile, overlap)
    side = math.ceil((length + (count - 1) * overlap) / count)
    return min(tile, -(-side // multiple) * multiple)


def tile_count(length: int, tile: int, overlap: int) -> int:
    """The fewest tiles of `tile` that cover `length` with neighbours overlapping by >= `overlap`."""
    if length <= tile:
        return 1
    return 1 + math.ceil((length - tile) / max(1, tile - overlap))


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets covering [0, length) with tiles of `tile` overlapping by >= `overlap`: the
    fewest tiles that do, spread evenly (neighbouring overlaps differ by at most one pixel)."""
    gaps = tile_count(length, tile, overlap) - 1
    if gaps == 0:
        return [0]
    return [round(i * (length - tile) / gaps) for i in range(gaps + 1)]


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


def blend_weights(starts: list[int], size: int, length: int, overlap: int) -> list[torch.Tensor]:
    """Each tile's 1-D ramp along one axis, divided by the sum of all tiles' ramps.

    The 2-D weight of a tile is the outer product of its two 1-D weights; since the tiles form
    a grid, these sum to exactly one at every output pixel, with no division afterwards.
    """
    ramps = [ramp(size, overlap, i > 0, i < len(starts) - 1) for i in range(len(starts))]
    total = torch.zeros(length)
    for start, r in zip(starts, ramps):
        total[start : start + size] += r
    total = total.clamp(min=1e-8)
    return [r / total[start : start + size] for start, r in zip(starts, ramps)]


def pad_to_multiple(x: torch.Tensor, multiple: int, min_size: int = 1) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad (B, C, H, W) on the bottom/right to sides that are multiples of `multiple` and at
    least `min_size` (the smallest input a network runs on: a 3x5 image into a net with 9x9
    reflection padding); returns the padding added, which the caller crops off the output.

    Reflection where it fits (padding smaller than the side), else edge replication.
    """
    h, w = x.shape[-2:]
    ph = max(min_size - h, 0) + (-max(min_size, h)) % multiple
    pw = max(min_size - w, 0) + (-max(min_size, w)) % multiple
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (ph, pw)
