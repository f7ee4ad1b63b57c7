"""Runs a loaded model on image tensors: value ranges, padding, batching, tiling, precision."""
from __future__ import annotations

from contextlib import nullcontext
from typing import Iterator

import torch

from ..checkpoint import LoadedModel
from ..errors import UsageError
from ..archs.fast_conv import use_nnpack
from .norm_stats import downscale_for_statistics, has_instance_norm, whole_image_statistics
from .tiling import blend_weights, pad_to_multiple, tile_starts

DEFAULT_TILE = 512          # input pixels per tile side
AUTO_TILE_PIXELS = 1024 * 1024  # above this many input pixels, tile automatically (bounds memory)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available here; use --device cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UsageError("--device mps: MPS is not available here; use --device cpu")
    return device


class ModelRunner:
    """(B, C, H, W) float in [0, 1] on the CPU -> (B, C', H*s, W*s) float in [0, 1] on the CPU."""

    def __init__(self, model: LoadedModel, *, device: str = "auto", precision: str = "fp32",
                 tile: int | None = None, tile_overlap: int | None = None):
        self.model, self.task, self.spec = model, model.task, model.spec
        self.device = resolve_device(device)
        self.dtype = self._dtype(precision)
        self.multiple = self.spec.size_multiple(model.config)
        self.min_size = self.spec.min_size(model.config)
        self.scale = self.spec.scale(model.config)
        self.tile = tile  # None: automatic; 0: never
        margin = self.spec.receptive_margin
        self.overlap = tile_overlap if tile_overlap is not None else max(32, 4 * margin)
        self.instance_norm = has_instance_norm(model.module)
        self.module = model.module.to(self.device)
        # NNPACK wants NCHW; elsewhere channels_last lets cuDNN/oneDNN pick their fast kernels.
        nnpack = self.device.type == "cpu" and self.dtype == torch.float32 and use_nnpack(self.module) > 0
        self.channels_last = self.device.type == "cuda" or (self.device.type == "cpu" and not nnpack)
        if self.channels_last:
            self.module = self.module.to(memory_format=torch.channels_last)

    def _dtype(self, precision: str) -> torch.dtype:
        table = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
        if precision not in table:
            raise UsageError(f"--precision must be fp32, fp16 or bf16, not {precision!r}")
        if precision != "fp32":
            if self.device.type != "cuda":
                raise UsageError(f"--precision {precision} needs a CUDA device; on {self.device.type} use fp32")
            if not (self.spec.half_precision if precision == "fp16" else self.spec.bfloat16):
                raise UsageError(f"--precision {precision} is not supported by {self.spec.id}")
        return table[precision]

    def wants_tiles(self, height: int, width: int) -> bool:
        if not self.spec.tiles or self.tile == 0:
            return False
        if self.tile:
            return height > self.tile or width > self.tile
        return height * width > AUTO_TILE_PIXELS

    @torch.inference_mode()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if self.wants_tiles(h, w):
            return torch.cat([self._tiled(x[i:i + 1]) for i in range(x.shape[0])])
        return self._whole(x)

    def _net(self, x: torch.Tensor) -> torch.Tensor:
        """Value range in, padding, network, crop, value range out; x on the device."""
        h, w = x.shape[-2:]
        x, _ = pad_to_multiple(self.task.to_net(x), self.multiple, self.min_size)
        x = x.contiguous(memory_format=torch.channels_last if self.channels_last else torch.contiguous_format)
        autocast = torch.autocast("cuda", dtype=self.dtype) if self.dtype != torch.float32 else nullcontext()
        with autocast:
            y = self.module(x)
        y = y[..., : h * self.scale, : w * self.scale].float()
        return self.task.from_net(y).clamp(0, 1)

    def _whole(self, x: torch.Tensor) -> torch.Tensor:
        return self._net(x.to(self.device)).cpu()

    def _tiled(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(list(self.bands(x)), dim=1)[None]

    def bands(self, x: torch.Tensor, dtype: torch.dtype = torch.float32) -> Iterator[torch.Tensor]:
        """One image (1, C, H, W) through overlapping tiles, as finished output row bands.

        Tiles run one row of tiles at a time and are blended with ramps; each yielded band
        (C', rows, W*s) is final, so a writer can stream it out and only one row of tiles is
        ever held at output size. dtype=float16 halves that band; its rounding (< 2.5e-4) is
        far below one 8-bit level. (Not decorated with inference_mode: its generator wrapper
        would hold the last band while the next is computed.)
        """
        tile = self.tile or DEFAULT_TILE
        s, overlap = self.scale, min(self.overlap, tile // 2)  # a bigger overlap would never advance
        _, _, h, w = x.shape
        ys, xs = tile_starts(h, tile, overlap), tile_starts(w, tile, overlap)
        th, tw = min(tile, h), min(tile, w)
        wy = blend_weights([y0 * s for y0 in ys], th * s, h * s, overlap * s)
        wx = blend_weights([x0 * s for x0 in xs], tw * s, w * s, overlap * s)
        carry = None  # blended rows of the previous tile row that the next one overlaps
        with self._statistics(x, tile):
            for yi, y0 in enumerate(ys):
                with torch.inference_mode():
                    band = None
                    for xi, x0 in enumerate(xs):
                        part = self._net(x[..., y0:y0 + th, x0:x0 + tw].to(self.device)).cpu()[0]
                        if band is None:
                            band = torch.zeros(part.shape[0], th * s, w * s, dtype=dtype)
                            if carry is not None:
                                band[:, :carry.shape[1]] = carry
                        part.mul_(wy[yi][:, None]).mul_(wx[xi])
                        band[:, :, x0 * s:(x0 + tw) * s] += part
                    done = (ys[yi + 1] - y0) * s if yi + 1 < len(ys) else th * s
                    carry = band[:, done:].clone()
                    finished = band[:, :done]
                    del band, part
                yield finished
                del finished  # before the next band is allocated: one band in memory at a time

    def _statistics(self, x: torch.Tensor, tile: int):
        """Instance-norm layers use whole-image statistics inside this block (see norm_stats)."""
        if not self.instance_norm:
            return nullcontext()
        reference = downscale_for_statistics(x, tile, self.multiple).to(self.device)
        reference, _ = pad_to_multiple(reference, self.multiple, self.min_size)  # a 2x5000 strip
        return whole_image_statistics(self.module, self.task.to_net(reference))
