"""The layer-level figures behind i2i/kernels.py, on this CPU (median of 5, ms per image):
one forward + backward of a stride-1 3x3 convolution, PyTorch's kernels vs NNPACK forward and
input gradient (_NNPACKConvolution), for the wide and thin layers that decide where training
uses it. (Inference runs on ONNX Runtime / OpenVINO: benchmarks/backends.py.)

Run: python benchmarks/conv_kernels.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from benchmarks.common import emit, machine, median_seconds  # noqa: E402
from i2i.kernels import _NNPACKConvolution, nnpack_available  # noqa: E402


def per_image_ms(fn, batch: int, repeats: int = 5) -> float:
    return median_seconds(fn, repeats) * 1000 / batch


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
    training_layers()


if __name__ == "__main__":
    main()
