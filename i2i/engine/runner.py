"""Runs a loaded model on image tensors: value ranges, padding, batching, tiling, precision."""
from __future__ import annotations

from contextlib import nullcontext

import torch

from ..checkpoint import LoadedModel
from ..errors import UsageError
from .norm_stats import downscale_for_statistics, has_instance_norm, whole_image_statistics
from .tiling import pad_to_multiple, ramp, tile_starts

DEFAULT_TILE = 512          # input pixels per tile side
AUTO_TILE_PIXELS = 1536 * 1536  # above this many input pixels, tile automatically (bounds memory)


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
        self.scale = self.spec.scale(model.config)
        self.tile = tile  # None: automatic; 0: never
        margin = self.spec.receptive_margin
        self.overlap = tile_overlap if tile_overlap is not None else max(32, 4 * margin)
        self.instance_norm = has_instance_norm(model.module)
        self.module = model.module.to(self.device)
        if self.device.type != "mps":
            self.module = self.module.to(memory_format=torch.channels_last)

    def _dtype(self, precision: str) -> torch.dtype:
        table = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
        if precision not in table:
            raise UsageError(f"--precision must be fp32, fp16 or bf16, not {precision!r}")
        if precision != "fp32":
            if self.device.type != "cuda":
                raise UsageError(f"--precision {precision} needs a CUDA device; on {self.device.type} use fp32")
            if not self.spec.half_precision:
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
        x, _ = pad_to_multiple(self.task.to_net(x), self.multiple)
        x = x.contiguous(memory_format=torch.channels_last) if self.device.type != "mps" else x
        autocast = torch.autocast("cuda", dtype=self.dtype) if self.dtype != torch.float32 else nullcontext()
        with autocast:
            y = self.module(x)
        y = y[..., : h * self.scale, : w * self.scale].float()
        return self.task.from_net(y).clamp(0, 1)

    def _whole(self, x: torch.Tensor) -> torch.Tensor:
        return self._net(x.to(self.device)).cpu()

    def _tiled(self, x: torch.Tensor) -> torch.Tensor:
        """One image through overlapping tiles, blended with ramps that sum to one."""
        tile = self.tile or DEFAULT_TILE
        s, overlap = self.scale, min(self.overlap, tile // 2)  # a bigger overlap would never advance
        _, c, h, w = x.shape
        ys, xs = tile_starts(h, tile, overlap), tile_starts(w, tile, overlap)
        th, tw = min(tile, h), min(tile, w)
        out = None
        weight = torch.zeros(1, 1, h * s, w * s)
        stats = nullcontext()
        if self.instance_norm:
            reference = downscale_for_statistics(x, tile, self.multiple).to(self.device)
            stats = whole_image_statistics(self.module, self.task.to_net(reference))
        with stats:
            for yi, y0 in enumerate(ys):
                for xi, x0 in enumerate(xs):
                    part = self._net(x[..., y0:y0 + th, x0:x0 + tw].to(self.device)).cpu()
                    if out is None:
                        out = torch.zeros(1, part.shape[1], h * s, w * s)
                    wy = ramp(th * s, overlap * s, yi > 0, yi < len(ys) - 1)
                    wx = ramp(tw * s, overlap * s, xi > 0, xi < len(xs) - 1)
                    wt = (wy[:, None] * wx[None, :])[None, None]
                    region = (..., slice(y0 * s, (y0 + th) * s), slice(x0 * s, (x0 + tw) * s))
                    out[region] += part * wt
                    weight[region] += wt
        return out / weight.clamp(min=1e-8)
