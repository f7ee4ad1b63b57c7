"""Faster convolutions on the CPU through NNPACK (Winograd / FFT).

PyTorch ships NNPACK but only dispatches to it for batches of 16 or more; for the batch-1,
large-image convolutions of inference, oneDNN's direct kernels were about 2x slower on a 3x3 and
5x slower on a 9x9 on our AVX2 CPU (benchmarks/sr_speed.py and style_speed.py show the effect
on whole models).
Results differ from oneDNN's by about 1e-5 (Winograd rounding), far below one 8-bit level.
Batches go through one image at a time: NNPACK's batched mode (nnp_convolution_output) is much
slower per image than its inference mode; with this, resnet_9blocks in the engine went from
1.16x to 2.00x a plain loop (benchmarks/engine.py).
1x1 convolutions are plain matrix products and stay with oneDNN.
"""
from __future__ import annotations

import torch
from torch import nn


def nnpack_available() -> bool:
    # _nnpack_available() also initialises the library; calls before it fail.
    return torch._nnpack_available()


class NNPACKConv2d(nn.Conv2d):
    """A Conv2d that runs through NNPACK when it can and falls back to the default otherwise.

    In training, where it pays (see _pays_in_training), the forward pass and the input gradient
    (a convolution of the output gradient with the flipped kernel) go through NNPACK; the
    weight gradient stays with oneDNN. For a 256-channel 3x3 at 64x64 that was 146 instead of
    221 ms per image (benchmarks/conv_kernels.py, 2 threads).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not _nnpack_input(x):
            return super().forward(x)
        padding = list(self.padding)
        if torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad):
            if not self._pays_in_training(x):
                return super().forward(x)
            return _NNPACKConvolution.apply(x, self.weight, self.bias, padding)
        return _per_image(x, self.weight, self.bias, padding)

    def _pays_in_training(self, x: torch.Tensor) -> bool:
        """Where a training step gains (benchmarks/conv_kernels.py and train_speed.py, 2 threads).

        Wide 3x3s on big planes gain (256 channels at 64x64: 1.51x per forward + backward), and
        so do large kernels (FFT; the TransformerNet's 9x9s); thin layers and small crops lose
        (48 channels at 32x32: 0.77x, 16 channels at 160x160: 0.78x): the transforms cost more
        than the products they save.
        """
        wide = min(self.in_channels, self.out_channels) >= 128 or self.kernel_size[0] >= 5
        return wide and x.shape[-2] * x.shape[-1] >= BIG_PLANE


# Planes from which NNPACK's transforms pay for themselves (both classes below measure it).
BIG_PLANE = 64 * 64


def _nnpack_input(x: torch.Tensor) -> bool:
    return x.device.type == "cpu" and x.dtype == torch.float32 and x.dim() == 4


def _per_image(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, padding: list[int]):
    x = x.contiguous()
    if x.shape[0] == 1:
        return torch._nnpack_spatial_convolution(x, weight, bias, padding)
    return torch.cat([torch._nnpack_spatial_convolution(x[i:i + 1], weight, bias, padding)
                      for i in range(x.shape[0])])


class _NNPACKConvolution(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, padding):
        ctx.save_for_backward(x, weight)
        ctx.padding, ctx.has_bias = padding, bias is not None
        with torch.no_grad():
            return _per_image(x, weight, bias, padding)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        grad = grad.contiguous()
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            # A stride-1 convolution's input gradient is the full correlation of the output
            # gradient with the kernel flipped and its in/out channels swapped.
            kh, kw = weight.shape[-2:]
            flipped = weight.flip(2, 3).transpose(0, 1).contiguous()
            grad_x = _per_image(grad, flipped, None, [kh - 1 - ctx.padding[0], kw - 1 - ctx.padding[1]])
        want_w, want_b = ctx.needs_input_grad[1], ctx.needs_input_grad[2] and ctx.has_bias
        if want_w or want_b:
            _, grad_w, grad_b = torch.ops.aten.convolution_backward(
                grad, x, weight, [weight.shape[0]] if ctx.has_bias else None, [1, 1], ctx.padding,
                [1, 1], False, [0, 0], 1, [False, want_w, want_b])
        return grad_x, grad_w, grad_b, None


class PolyphaseConvTranspose2d(nn.ConvTranspose2d):
    """The U-Net's 4x4 stride-2 transposed convolution as one 3x3 NNPACK convolution + pixel shuffle.

    Each of the four output phases (row and column parity) is a 2x2 correlation of the input
    with a quarter of the 4x4 kernel; stacked as 4*C_out channels of a 3x3 kernel (zeros where a
    phase has no tap) they become one stride-1 convolution that NNPACK runs with Winograd, and
    pixel_shuffle interleaves the phases. That does 2.25x the multiply-adds but took 25 instead
    of 36 ms per image (256->64 channels at 64x64; benchmarks/conv_kernels.py). On small planes
    NNPACK's per-call kernel transform dominates (116 vs 6 ms at 2x2), so those keep the
    default kernel.
    """

    def forward(self, x: torch.Tensor, output_size=None) -> torch.Tensor:
        if (output_size is not None or not _nnpack_input(x) or torch.is_grad_enabled()
                or x.shape[-2] * x.shape[-1] < BIG_PLANE):
            return super().forward(x, output_size)
        weight, bias = self._polyphase()
        return nn.functional.pixel_shuffle(_per_image(x, weight, bias, [1, 1]), 2)

    def _polyphase(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(4*C_out, C_in, 3, 3) weight and bias, cached until the parameters change.

        Parameters made inside inference_mode have no version counter, so nothing tells
        when they change: for them the weight is rebuilt on every call.
        """
        params = [p for p in (self.weight, self.bias) if p is not None]
        version = None if any(p.is_inference() for p in params) else [(p.data_ptr(), p._version) for p in params]
        cached = getattr(self, "_cache", None)
        if version is None or cached is None or cached[0] != version:
            with torch.no_grad():
                cached = (version, polyphase_weight(self.weight), _phase_bias(self.bias))
            self._cache = cached
        return cached[1], cached[2]


# Output parity -> kernel index used for input offsets -1, 0, +1 (None: no tap), for a 4x4
# kernel with stride 2 and padding 1: even outputs take x[m-1]*w[3] + x[m]*w[1], odd ones
# x[m]*w[2] + x[m+1]*w[0].
_TAPS = {0: (3, 1, None), 1: (None, 2, 0)}


def polyphase_weight(weight: torch.Tensor) -> torch.Tensor:
    """ConvTranspose2d(k=4, stride=2, padding=1) weight (C_in, C_out, 4, 4) -> (4*C_out, C_in, 3, 3)."""
    c_in, c_out = weight.shape[:2]
    out = weight.new_zeros(c_out, 2, 2, c_in, 3, 3)
    for py in (0, 1):
        for px in (0, 1):
            for a, ky in enumerate(_TAPS[py]):
                for b, kx in enumerate(_TAPS[px]):
                    if ky is not None and kx is not None:
                        out[:, py, px, :, a, b] = weight[:, :, ky, kx].t()
    return out.reshape(4 * c_out, c_in, 3, 3)


def _phase_bias(bias: torch.Tensor | None) -> torch.Tensor | None:
    return None if bias is None else bias.detach().repeat_interleave(4)


def _eligible_transposed(conv: nn.Module) -> bool:
    return (type(conv) is nn.ConvTranspose2d and conv.kernel_size == (4, 4) and conv.stride == (2, 2)
            and conv.padding == (1, 1) and conv.output_padding == (0, 0) and conv.dilation == (1, 1)
            and conv.groups == 1 and conv.padding_mode == "zeros")


def _eligible(conv: nn.Module) -> bool:
    return (type(conv) is nn.Conv2d and conv.stride == (1, 1) and conv.dilation == (1, 1)
            and conv.kernel_size != (1, 1)
            and isinstance(conv.padding, tuple) and conv.padding < conv.kernel_size
            and conv.groups == 1 and conv.padding_mode == "zeros")


def use_nnpack(module: nn.Module) -> int:
    """Switch the module's eligible convolutions to NNPACK in place; returns how many."""
    if not nnpack_available():
        return 0
    count = 0
    for conv in module.modules():
        if _eligible(conv):
            conv.__class__ = NNPACKConv2d  # same parameters and state-dict keys
            count += 1
        elif _eligible_transposed(conv):
            conv.__class__ = PolyphaseConvTranspose2d
            count += 1
    return count

