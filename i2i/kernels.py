"""Faster convolutions on the CPU through NNPACK (Winograd / FFT).

PyTorch ships NNPACK but only dispatches to it for batches of 16 or more; for the small-batch,
large-plane convolutions of our training steps and of batch-1 inference, oneDNN's direct
kernels are slower (benchmarks/train_speed.py, conv_kernels.py and backends.py).
Results differ from oneDNN's by about 1e-5 (Winograd rounding), far below one 8-bit level.
Batches go through one image at a time: NNPACK's batched mode (nnp_convolution_output) is much
slower per image than its inference mode. 1x1 convolutions are plain matrix products and stay
with oneDNN.

In inference this is now only the torch backend's kernel (engine/backends.py), one candidate
that `auto` measures against ONNX Runtime and OpenVINO: on benchmarks/backends.py's rows the
runtimes beat it except for resnet_9blocks at 256x256 (NNPACK 0.457 s, OpenVINO 0.501 s), which
is why it stays. The polyphase NNPACK form of the U-Net's up-convolutions served inference only
and lost to the runtimes on both U-Net rows (colorize 0.096 vs 0.090 s, facades 0.031 vs
0.028 s): it is gone.
"""

from __future__ import annotations

from contextlib import contextmanager

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


# Planes from which NNPACK's transforms pay for themselves in training (conv_kernels.py).
BIG_PLANE = 64 * 64


def _nnpack_input(x: torch.Tensor) -> bool:
    return x.device.type == "cpu" and x.dtype == torch.float32 and x.dim() == 4


def _per_image(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, padding: list[int]):
    x = x.contiguous()
    if x.shape[0] == 1:
        return torch._nnpack_spatial_convolution(x, weight, bias, padding)
    return torch.cat(
        [torch._nnpack_spatial_convolution(x[i : i + 1], weight, bias, padding) for i in range(x.shape[0])]
    )


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
                grad,
                x,
                weight,
                [weight.shape[0]] if ctx.has_bias else None,
                [1, 1],
                ctx.padding,
                [1, 1],
                False,
                [0, 0],
                1,
                [False, want_w, want_b],
            )
        return grad_x, grad_w, grad_b, None


def _eligible(conv: nn.Module) -> bool:
    return (
        type(conv) is nn.Conv2d
        and conv.stride == (1, 1)
        and conv.dilation == (1, 1)
        and conv.kernel_size != (1, 1)
        and isinstance(conv.padding, tuple)
        and conv.padding < conv.kernel_size
        and conv.groups == 1
        and conv.padding_mode == "zeros"
    )


def use_nnpack(module: nn.Module) -> int:
    """Switch the module's eligible convolutions to NNPACK in place (for training); returns how many."""
    if not nnpack_available():
        return 0
    count = 0
    for conv in module.modules():
        if _eligible(conv):
            conv.__class__ = NNPACKConv2d  # same parameters and state-dict keys
            count += 1
    return count


@contextmanager
def default_kernels(module: nn.Module):
    """Inside the block, the module's NNPACK convolutions are plain nn.Conv2d again (for the ONNX
    exporter, which has no NNPACK operator); they switch back afterwards."""
    swapped = [m for m in module.modules() if type(m) is NNPACKConv2d]
    for m in swapped:
        m.__class__ = nn.Conv2d
    try:
        yield
    finally:
        for m in swapped:
            m.__class__ = NNPACKConv2d
