"""Instance-norm statistics taken from the whole image, so tiles do not shift colour.

A tile normalised with its own mean and variance comes out brighter or darker than its
neighbours. We run the network once on a downscaled copy of the whole image, record each
InstanceNorm layer's per-channel mean and variance, and reuse them for every tile.

The statistics are a flat list [mean_0, var_0, mean_1, var_1, ...], one (1, C, 1, 1) pair per
InstanceNorm2d layer in `module.modules()` order. The same list is what the exported runtime
graphs exchange (StatisticsRecorder's outputs, FrozenStatistics' extra inputs), so a tile runs
through ONNX Runtime or OpenVINO with the whole image's statistics too.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn


def instance_norm_layers(module: nn.Module) -> list[nn.InstanceNorm2d]:
    return [m for m in module.modules() if isinstance(m, nn.InstanceNorm2d)]


def has_instance_norm(module: nn.Module) -> bool:
    return bool(instance_norm_layers(module))


def statistics_names(module: nn.Module) -> list[str]:
    """Graph input/output names of the statistics, in list order: mean_0, var_0, mean_1, ..."""
    return [f"{kind}_{i}" for i in range(len(instance_norm_layers(module))) for kind in ("mean", "var")]


@contextmanager
def _patched(layers: list[nn.Module], make_forward):
    try:
        for i, layer in enumerate(layers):
            layer.forward = make_forward(i, layer)
        yield
    finally:
        for layer in layers:
            layer.__dict__.pop("forward", None)  # back to the class's forward


def _mean_var(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # Written out (not var_mean) so that it exports to ONNX as plain ReduceMean/Sub/Mul.
    mean = x.mean(dim=(2, 3), keepdim=True)
    var = ((x - mean) ** 2).mean(dim=(2, 3), keepdim=True)
    return mean, var


def _normalise(layer: nn.InstanceNorm2d, x, mean, var):
    y = (x - mean) * torch.rsqrt(var + layer.eps)
    if layer.affine:
        y = y * layer.weight.view(1, -1, 1, 1) + layer.bias.view(1, -1, 1, 1)
    return y


def _recording(stats: list):
    def make(i, layer):
        def forward(x):
            mean, var = _mean_var(x)
            stats[2 * i : 2 * i + 2] = [mean, var]
            return _normalise(layer, x, mean, var)

        return forward

    return make


def _frozen(stats):
    def make(i, layer):
        def forward(x):
            return _normalise(layer, x, stats[2 * i].to(x.dtype), stats[2 * i + 1].to(x.dtype))

        return forward

    return make


def record_statistics(module: nn.Module, reference: torch.Tensor) -> list[torch.Tensor]:
    """Run `reference` (1, C, H, W), in the network's value range, and return its statistics."""
    layers = instance_norm_layers(module)
    stats: list = [None] * (2 * len(layers))
    with _patched(layers, _recording(stats)), torch.inference_mode():
        module(reference)
    if any(s is None for s in stats):
        raise RuntimeError("an InstanceNorm2d layer was not reached by the forward pass")
    return stats


@contextmanager
def frozen_statistics(module: nn.Module, stats: list[torch.Tensor]):
    """Inside the block, every InstanceNorm2d normalises with `stats` instead of its input's."""
    with _patched(instance_norm_layers(module), _frozen(stats)):
        yield


class StatisticsRecorder(nn.Module):
    """For export: (1, C, H, W) -> the statistics list, as a tuple of (1, C_i, 1, 1) tensors."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.net = module

    def forward(self, x):
        layers = instance_norm_layers(self.net)
        stats: list = [None] * (2 * len(layers))
        with _patched(layers, _recording(stats)):
            self.net(x)
        return tuple(stats)


class FrozenStatistics(nn.Module):
    """For export: (x, *statistics) -> the network's output with those statistics in every layer."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.net = module

    def forward(self, x, *stats):
        with _patched(instance_norm_layers(self.net), _frozen(list(stats))):
            return self.net(x)


def downscale_for_statistics(x: torch.Tensor, max_side: int, multiple: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    s = min(1.0, max_side / max(h, w))
    nh = max(multiple, int(h * s) // multiple * multiple)
    nw = max(multiple, int(w * s) // multiple * multiple)
    return F.interpolate(x, size=(nh, nw), mode="area")


class FrameStatistics:
    """Instance-norm statistics pooled over the consecutive frames of a shot (video).

    Normalised frame by frame, a clip flickers: each frame's mean and variance move with its
    content and noise, and the whole picture shifts in tone with them. As tiles share the whole
    image's statistics, frames here share their shot's: each layer keeps an exponential moving
    average of its per-channel mean and mean square (so the pooled variance includes the spread
    of the frames' means), reset where a shot starts. The weight 2 / (window + 1) gives the
    average the centre of mass of a `window`-frame box (the usual EMA 'span' convention).
    Causal, so frames stream; one pass, so it costs nothing beyond the per-frame statistics.
    """

    def __init__(self, module: nn.Module, window: int):
        self.layers = [m for m in module.modules() if isinstance(m, nn.InstanceNorm2d)]
        self.weight = 2.0 / (max(1, window) + 1)
        self.state: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # layer -> (mean, mean square)

    @contextmanager
    def over(self, shot_starts: list[bool]):
        """Inside the block the network's batch is consecutive frames; shot_starts[i] says that
        frame i begins a new shot (its statistics are its own)."""

        def pooled(layer):
            def forward(x):
                xf = x.float()
                # mean and mean square: several times faster than var_mean on these layouts
                mean, square = xf.mean((2, 3), keepdim=True), xf.square().mean((2, 3), keepdim=True)
                means, variances = [], []
                m, s = self.state.get(id(layer), (None, None))
                for i in range(x.shape[0]):
                    if m is None or shot_starts[i] or m.shape != mean[i].shape:
                        m, s = mean[i], square[i]
                    else:
                        m = m + self.weight * (mean[i] - m)
                        s = s + self.weight * (square[i] - s)
                    means.append(m)
                    variances.append((s - m * m).clamp_min(0))
                self.state[id(layer)] = (m, s)
                return _normalise_folded(layer, x, torch.stack(means), torch.stack(variances))

            return forward

        try:
            for layer in self.layers:
                layer.forward = pooled(layer)
            yield
        finally:
            for layer in self.layers:
                del layer.forward


def _normalise_folded(layer: nn.InstanceNorm2d, x, mean, var):
    """As _normalise, with mean, variance and affine folded into one scale and shift per channel:
    one pass over x instead of four."""
    scale = torch.rsqrt(var + layer.eps)
    shift = -mean * scale
    if layer.affine:
        scale = scale * layer.weight.view(1, -1, 1, 1)
        shift = shift * layer.weight.view(1, -1, 1, 1) + layer.bias.view(1, -1, 1, 1)
    return torch.addcmul(shift.to(x.dtype), x, scale.to(x.dtype))
