"""The x2 upsampling layers of the pix2pix/CycleGAN generators: the reference's transposed
convolutions, or resize-then-convolve (Odena, Dumoulin and Olah 2016, "Deconvolution and
Checkerboard Artifacts", Distill): a stride-2 transposed convolution whose kernel size is not
a multiple of its stride overlaps unevenly and paints a checkerboard at the 2-pixel period;
nearest-neighbour x2 followed by a 3x3 convolution gives every output pixel the same footprint.
bilinear x2 instead of nearest does the same without the nearest copy's 2x2 blocks, which a deep
U-Net's innermost layers (2x2 or 4x4 maps) otherwise stretch into long axis-aligned streaks.
"""

from __future__ import annotations

from typing import Literal, get_args

from torch import nn

Upsample = Literal["transposed", "resize", "bilinear"]
UPSAMPLE_MODES: tuple[str, ...] = get_args(Upsample)
RESIZE_INTERPOLATION = {"resize": "nearest", "bilinear": "bilinear"}  # resize-then-convolve modes


def upsampling_layer(
    mode: Upsample, cin: int, cout: int, *, kernel: int, output_padding: int = 0, bias: bool = True
) -> nn.Module:
    """(B, cin, H, W) -> (B, cout, 2H, 2W).

    transposed: ConvTranspose2d(cin, cout, kernel, stride 2, padding 1, output_padding), the
    reference layer (kernel 4 in the U-Net, 3 + output_padding 1 in the ResNet generator), kept
    as the module itself so that peers' checkpoints load under their key names.
    resize: nn.Sequential(nearest x2, Conv2d(cin, cout, 3, padding 1)); its weights sit under
    the layer's key + ".1" and are (cout, cin, 3, 3), which is how checkpoint.py tells them apart.
    bilinear: the same with bilinear x2 (align_corners False); same keys and shapes as resize,
    so only a checkpoint's recorded config tells the two apart (a peer's file reads as resize).
    ValueError for any other mode.
    """
    if mode == "transposed":
        return nn.ConvTranspose2d(cin, cout, kernel, 2, 1, output_padding=output_padding, bias=bias)
    if mode in RESIZE_INTERPOLATION:
        upsample = nn.Upsample(scale_factor=2, mode=RESIZE_INTERPOLATION[mode])
        return nn.Sequential(upsample, nn.Conv2d(cin, cout, 3, 1, 1, bias=bias))
    raise ValueError(f"upsample must be one of {', '.join(UPSAMPLE_MODES)}, not {mode!r}")


def read_upsampling(state, key: str):
    """(mode, output channels) of the x2 layer stored under `key`: a transposed convolution's
    weight is (in, out, k, k) at key.weight; resize's 3x3 convolution is (out, in, 3, 3) at
    key.1.weight. None when neither is there."""
    if f"{key}.weight" in state:
        return "transposed", int(state[f"{key}.weight"].shape[1])
    if f"{key}.1.weight" in state:
        return "resize", int(state[f"{key}.1.weight"].shape[0])
    return None
