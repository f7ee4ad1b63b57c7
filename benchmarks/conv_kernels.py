"""The layer-level figures behind i2i/archs/fast_conv.py, on this CPU (median of 5, ms per image):

1. the U-Net's 4x4 stride-2 up-convolution at inference, PyTorch's kernel vs the polyphase
   NNPACK form (PolyphaseConvTranspose2d), batch 4, on a large, a last-layer and a tiny plane;
2. one forward + backward of a stride-1 3x3 convolution, PyTorch's kernels vs NNPACK forward and
   input gradient (_NNPACKConvolution), for the wide and thin layers that decide where training
   uses it.

Run: python benchmarks/conv_kernels.py
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from benchmarks.common import emit, machine, median_seconds  # noqa: E402
from torch.nn.functional import pixel_shuffle  # noqa: E402

from i2i.archs.fast_conv import _NNPACKConvolution, _per_image, nnpack_available, polyphase_weight  # noqa: E402


def per_image_ms(fn, batch: int, repeats: int = 5) -> float:
    return median_seconds(fn, repeats) * 1000 / batch


def up_convolutions() -> None:
    for c_in, c_out, size in ((256, 64, 64), (128, 3, 128), (1024, 512, 2)):
        conv = torch.nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1).eval()
        x = torch.randn(4, c_in, size, size)
        with torch.inference_mode():
            up_convolution(conv, x, f"up-conv {c_in}->{c_out} at {size}x{size}")


def up_convolution(conv, x, name: str) -> None:
    native = per_image_ms(lambda: conv(x), len(x))
    # PolyphaseConvTranspose2d uses this form only from 64x64; called directly to show small planes.
    weight, bias = polyphase_weight(conv.weight), conv.bias.repeat_interleave(4)
    fast = per_image_ms(lambda: pixel_shuffle(_per_image(x, weight, bias, [1, 1]), 2), len(x))
    print(f"{name}: default {native:.1f} ms, polyphase NNPACK {fast:.1f} ms per image")
    emit(f"{name} default ms", native, "ms")
    emit(f"{name} polyphase ms", fast, "ms")


def training_layers() -> None:
    for channels, size, batch in ((256, 64, 1), (48, 32, 16), (16, 160, 4)):
        conv = torch.nn.Conv2d(channels, channels, 3, padding=1)
        x = torch.randn(batch, channels, size, size, requires_grad=True)
        default = per_image_ms(lambda: conv(x).sum().backward(), batch)
        fast = per_image_ms(lambda: _NNPACKConvolution.apply(x, conv.weight, conv.bias, [1, 1]).sum().backward(), batch)
        name = f"3x3 {channels} ch at {size}x{size} batch {batch} forward+backward"
        print(f"{name}: default {default:.1f} ms, NNPACK {fast:.1f} ms per image ({default / fast:.2f}x)")
        emit(f"{name} NNPACK speed-up", default / fast, "x")


def main() -> None:
    print(f"# convolution kernels on {machine()}")
    if not nnpack_available():
        print("this torch build has no NNPACK")
        return
    up_convolutions()
    training_layers()


if __name__ == "__main__":
    main()
