"""Instance-norm statistics taken from the whole image, so tiles do not shift colour.

A tile normalised with its own mean and variance comes out brighter or darker than its
neighbours. We run the network once on a downscaled copy of the whole image, record each
InstanceNorm layer's per-channel mean and variance, and reuse them for every tile.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn


def has_instance_norm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.InstanceNorm2d) for m in module.modules())


@contextmanager
def whole_image_statistics(module: nn.Module, reference: torch.Tensor):
    """Inside the block, every InstanceNorm2d uses the statistics `reference` produced."""
    layers = [m for m in module.modules() if isinstance(m, nn.InstanceNorm2d)]
    stats: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def recording(layer):
        def forward(x):
            var, mean = torch.var_mean(x, dim=(2, 3), keepdim=True, unbiased=False)
            stats[id(layer)] = (mean, var)
            return _normalise(layer, x, mean, var)
        return forward

    def frozen(layer):
        def forward(x):
            mean, var = stats[id(layer)]
            return _normalise(layer, x, mean.to(x.dtype), var.to(x.dtype))
        return forward

    try:
        for layer in layers:
            layer.forward = recording(layer)
        with torch.inference_mode():
            module(reference)
        for layer in layers:
            layer.forward = frozen(layer)
        yield
    finally:
        for layer in layers:
            del layer.forward  # back to the class's forward


def _normalise(layer: nn.InstanceNorm2d, x, mean, var):
    y = (x - mean) * torch.rsqrt(var + layer.eps)
    if layer.affine:
        y = y * layer.weight.view(1, -1, 1, 1) + layer.bias.view(1, -1, 1, 1)
    return y


def downscale_for_statistics(x: torch.Tensor, max_side: int, multiple: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    s = min(1.0, max_side / max(h, w))
    nh = max(multiple, int(h * s) // multiple * multiple)
    nw = max(multiple, int(w * s) // multiple * multiple)
    return F.interpolate(x, size=(nh, nw), mode="area")
