"""Per-task conversions between decoded images and network tensors.

prepare(ImageData) -> (C, H, W) float in [0, 1] for the network;
finish(ImageData, (C', H', W') output) -> the ImageData to write.
Adapter (a Protocol) is the contract the engine calls, StreamingAdapter adds the band-by-band
methods of a streamed output; RGBAdapter keeps both, ColorizeAdapter (never streamed) the first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..data.color import AB_SCALE, lab_to_rgb, rgb_to_lab
from ..data.image_io import ImageData, short_side_size
from ..task import Task


@runtime_checkable
class Adapter(Protocol):
    """What the engine (engine/engine.py, engine/video.py) asks of a task's adapter: how an
    image becomes the network's input and its output the image to write. Sizes are (width,
    height) in pixels, tensors float in [0, 1]."""

    def prepare(self, img: ImageData) -> torch.Tensor:
        """The network's input for a decoded image: (C, H', W') in the model's input space."""
        ...

    def output_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """(width, height) of the output for an input of `size`, before anything runs (limits)."""
        ...

    def finish(self, img: ImageData, out: torch.Tensor) -> ImageData:
        """The image to write from the input and the network's (C', H'', W'') output."""
        ...

    def streams(self, img: ImageData) -> bool:
        """Whether this image's output can be finished one row band at a time: True only from a
        StreamingAdapter, whose band methods the engine then calls."""
        ...


@runtime_checkable
class StreamingAdapter(Adapter, Protocol):
    """An Adapter whose outputs can be written one row band at a time (tiled PNGs, engine.py)."""

    def finish_band(self, img: ImageData, band: torch.Tensor) -> np.ndarray:
        """(C', rows, W'') network output -> (rows, W'', C) pixels; only where streams() holds."""
        ...

    def channels_out(self, img: ImageData) -> int:
        """Channels of the written output: 1 (gray) or 3."""
        ...

    def bit_depth_out(self, img: ImageData) -> int:
        """Bits per sample of the written output: 8 or 16."""
        ...


def to_chw(arr: np.ndarray) -> torch.Tensor:
    """(H, W, C) array -> (C, H, W) tensor view on the same memory (a large image is not copied)."""
    return torch.from_numpy(arr).permute(2, 0, 1)


def to_hwc(t: torch.Tensor) -> np.ndarray:
    return t.permute(1, 2, 0).numpy()


def rgb_of(img: ImageData) -> torch.Tensor:
    x = to_chw(img.pixels)
    return x.expand(3, -1, -1) if x.shape[0] == 1 else x


LUMA = (0.299, 0.587, 0.114)
"""ITU-R BT.601 luma weights: PIL's convert("L") and torchvision's Grayscale, with which peers
such as pytorch-CycleGAN-and-pix2pix (--input_nc 1) make their grayscale training inputs."""


def luma(rgb: torch.Tensor) -> torch.Tensor:
    """(3, H, W) -> (1, H, W)."""
    w = torch.tensor(LUMA, dtype=rgb.dtype)[:, None, None]
    return (rgb * w).sum(0, keepdim=True)


def network_input(img: ImageData, space: str) -> torch.Tensor:
    """The image as a network of this input space takes it: (C, H, W) in [0, 1], C = 1 for gray
    (an RGB image's luma), 3 for RGB (a gray image repeated), 4 for RGBA (alpha 1 if none)."""
    x = to_chw(img.pixels)
    if space == "gray":
        return x if x.shape[0] == 1 else luma(x)
    rgb = x.expand(3, -1, -1) if x.shape[0] == 1 else x
    if space == "RGBA":
        alpha = torch.ones(1, *rgb.shape[1:]) if img.alpha is None else torch.from_numpy(img.alpha)[None]
        return torch.cat([rgb, alpha])
    return rgb


def resize_array(arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W) float array -> (h, w) with PIL's antialiased bicubic (used for alpha and exact sizes)."""
    im = Image.fromarray(arr.astype(np.float32), mode="F").resize(size, Image.BICUBIC)
    return np.clip(np.asarray(im), 0, 1)


def resize_pixels(arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.stack([resize_array(arr[..., c], size) for c in range(arr.shape[2])], axis=2)


@dataclass(frozen=True, kw_only=True)
class RGBAdapter:
    """translate / stylize / upscale: RGB through the network, alpha and gray handled around it."""

    task: Task
    keep_gray: bool = False
    """Grayscale inputs come out grayscale (upscale)."""
    strength: float = 1.0
    """Blend of output with the (resized) input: 1 = all output."""
    preserve_color: bool = False
    """Keep the input's chroma, take only the output's luminance (stylize)."""
    out_scale: float | None = None
    """Final scale when it differs from the model's (upscale --scale 3 with a x4 model)."""

    def prepare(self, img: ImageData) -> torch.Tensor:
        """The image in the network's input space: (C, H, W) float in [0, 1] (see Adapter)."""
        return network_input(img, self.task.in_space)

    def output_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """(width, height) of the output for an input of `size`."""
        scale = self.out_scale or self.task.scale
        return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))

    def finish(self, img: ImageData, out: torch.Tensor) -> ImageData:
        """The output image at output_size, with the input's alpha (or the network's), gray kept gray where asked, blended by strength and preserve_color (see Adapter)."""
        size = self.output_size(img.size)
        out, net_alpha = (out[:3], out[3]) if self.task.out_space == "RGBA" else (out, None)
        if out.shape[0] == 1 and (self.strength < 1 or self.preserve_color):
            out = out.expand(3, -1, -1)
        if self.strength < 1 or self.preserve_color:
            src = rgb_of(img)[None]
            if src.shape[-2:] != out.shape[-2:]:
                src = F.interpolate(src, size=out.shape[-2:], mode="bicubic").clamp(0, 1)
            if self.preserve_color:
                lab_in, lab_out = rgb_to_lab(src), rgb_to_lab(out[None])
                out = lab_to_rgb(torch.cat([lab_out[:, :1], lab_in[:, 1:]], 1))[0]
            out = (self.strength * out + (1 - self.strength) * src[0]).clamp(0, 1)
        pixels = to_hwc(out)  # the runner has clamped the network's output
        if (pixels.shape[1], pixels.shape[0]) != size:
            pixels = resize_pixels(pixels, size)
        pixels = self._reduce_channels(img, pixels)
        if net_alpha is not None:  # an RGBA network's own alpha
            alpha = resize_array(net_alpha.numpy(), size)
        else:
            alpha = None if img.alpha is None else resize_array(img.alpha, size)
        return replace(
            img, pixels=np.ascontiguousarray(pixels, dtype=np.float32), alpha=alpha, bit_depth=self.bit_depth_out(img)
        )

    # ---- band by band, for tiled outputs streamed to a file ----
    def streams(self, img: ImageData) -> bool:
        """Whether this image's output can be finished one row band at a time."""
        scale_kept = self.out_scale is None or self.out_scale == self.task.scale
        return (
            scale_kept
            and self.strength == 1
            and not self.preserve_color
            and img.alpha is None
            and self.task.out_space != "RGBA"
        )

    def finish_band(self, img: ImageData, band: torch.Tensor) -> np.ndarray:
        """(C, rows, W) network output -> (rows, W, C') pixels, for images where streams() holds."""
        return self._reduce_channels(img, to_hwc(band.float().clamp(0, 1)))

    def channels_out(self, img: ImageData) -> int:
        """1 for a gray network, or a gray input kept gray (keep_gray); else 3."""
        return 1 if self.task.out_space == "gray" or (self.keep_gray and img.is_gray) else 3

    def bit_depth_out(self, img: ImageData) -> int:
        """The input's bit depth (8 or 16): 16-bit inputs give 16-bit outputs where the format allows."""
        return img.bit_depth  # 16-bit gray and colour stay 16-bit where the output format allows

    def _reduce_channels(self, img: ImageData, pixels: np.ndarray) -> np.ndarray:
        if self.channels_out(img) == 1:
            return pixels if pixels.shape[2] == 1 else pixels.mean(axis=2, keepdims=True)
        return pixels


@dataclass(frozen=True, kw_only=True)
class ColorizeAdapter:
    """L at a working resolution in, ab out, merged with the input's own full-resolution L."""

    task: Task
    render_size: int = 256
    """Short side at which the network predicts chroma."""
    saturation: float = 1.0
    """Multiplier on the predicted ab."""
    multiple: int = 1

    MAX_ASPECT = 8

    def _lab(self, img: ImageData) -> torch.Tensor:
        return rgb_to_lab(rgb_of(img)[None])  # (1, 3, H, W)

    def prepare(self, img: ImageData) -> torch.Tensor:
        """(1, h, w) lightness in [0, 1] at working_size (see Adapter)."""
        L = self._lab(img)[:, :1] / 100  # [0, 1]; the task's value range maps it to the net's
        return F.interpolate(L, size=self.working_size(img.size), mode="area")[0]

    def working_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """(height, width) at which chroma is predicted: the short side at render_size, the long
        side at most MAX_ASPECT times that (a 1x4000 strip would otherwise be 256x1024000)."""
        return short_side_size(size, self.render_size, self.multiple, self.MAX_ASPECT)

    def output_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """The input's size: its own lightness at full resolution, with predicted chroma."""
        return size  # the input's own lightness at full resolution, with predicted chroma

    def streams(self, img: ImageData) -> bool:
        """False: chroma is predicted at a working resolution, never tiled or streamed."""
        return False  # predicts at a working resolution: never tiled, never streamed

    def finish(self, img: ImageData, out: torch.Tensor) -> ImageData:
        # out: ab in [0, 1] after the task's range mapping; back to Lab units.
        """The input's lightness with the predicted chroma (ab, upsampled bilinearly, times saturation), RGB in [0, 1]."""
        ab = (out[None] * 2 - 1) * AB_SCALE * self.saturation
        lab = self._lab(img)
        ab = F.interpolate(ab, size=lab.shape[-2:], mode="bilinear", align_corners=False)
        rgb = lab_to_rgb(torch.cat([lab[:, :1], ab], 1))[0]
        return replace(img, pixels=np.ascontiguousarray(to_hwc(rgb), dtype=np.float32))
