"""Faster stride-1 convolutions on the CPU through NNPACK (Winograd / FFT).

PyTorch ships NNPACK but only dispatches to it for batches of 16 or more; for the batch-1,
large-image convolutions of inference, oneDNN's direct kernels were about 2x slower on a 3x3 and
5x slower on a 9x9 on our AVX2 CPU (benchmarks/sr_speed.py and style_speed.py show the effect
on whole models).
Results differ from oneDNN's by about 1e-5 (Winograd rounding), far below one 8-bit level.
"""
from __future__ import annotations

import torch
from torch import nn


def nnpack_available() -> bool:
    # _nnpack_available() also initialises the library; calls before it fail.
    return torch._nnpack_available()


class NNPACKConv2d(nn.Conv2d):
    """A Conv2d that runs through NNPACK when it can and falls back to the default otherwise."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu" or x.dtype != torch.float32 or x.dim() != 4:
            return super().forward(x)
        return torch._nnpack_spatial_convolution(x.contiguous(), self.weight, self.bias,
                                                 list(self.padding))


def _eligible(conv: nn.Module) -> bool:
    return (type(conv) is nn.Conv2d and conv.stride == (1, 1) and conv.dilation == (1, 1)
            and conv.groups == 1 and conv.padding_mode == "zeros"
            and isinstance(conv.padding, tuple))


def use_nnpack(module: nn.Module) -> int:
    """Switch the module's eligible convolutions to NNPACK in place; returns how many."""
    if not nnpack_available():
        return 0
    count = 0
    for conv in module.modules():
        if _eligible(conv):
            conv.__class__ = NNPACKConv2d  # same parameters and state-dict keys
            count += 1
    return count

