"""Runs a loaded model on image tensors: value ranges, padding, batching, tiling, precision.

The network itself runs on a backend (backends.py: torch, ONNX Runtime, OpenVINO) that
selection.py picks per size class; everything around the network stays here, the same for all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from ..checkpoint import LoadedModel
from ..devices import resolve_device
from ..errors import UsageError
from .backends import BackendError, TorchBackend, label
from .norm_stats import downscale_for_statistics, has_instance_norm
from .selection import BackendSelector, check_request
from .tiling import blend_weights, even_tile, pad_to_multiple, tile_starts

DEFAULT_TILE = 512  # input pixels per tile side
AUTO_TILE_PIXELS = 1024 * 1024  # above this many input pixels, tile automatically (bounds memory)
AUTO_TILE_BYTES = 3 * 2**30
"""Estimated peak memory of one network call above which an input runs in tiles automatically
(and same-size images are batched only up to it): large community networks need it long before
AUTO_TILE_PIXELS. RealESRGAN_x4plus's RRDB took 9.1 GB for one 640x480 photo (OpenVINO bf16),
1.6-2.3 GB in tiles of 256-512 (benchmarks/tiling.py). 3 GiB leaves every shipped network as
it was (the styles' estimate reaches it at 1.24 Mpx, above AUTO_TILE_PIXELS)."""
PEAK_PER_LARGEST_OUTPUT = 8
"""Peak memory of a call over its largest layer output (fp32): measured 3.3-7.9 in torch
(upscale-x4, SRVGGNetCompact, RRDB at 80x60 to 320x240: peak resident memory against the
largest module output) and 7.2 for RRDB on OpenVINO bf16 at 640x480."""
_LARGEST_OUTPUT: dict[str, float] = {}
"""largest_output_bytes_per_pixel per architecture (cache.model_key without the weights' values,
which cannot change it): `--denoise auto` makes a blend per degradation level, all of one network."""


class ModelRunner:
    """(B, C, H, W) float in [0, 1] on the CPU -> (B, C', H*s, W*s) float in [0, 1] on the CPU.

    backend: auto, torch, onnxruntime or openvino; precision: fp32, fp16/bf16 (CUDA; bf16 also
    on CPUs with native bf16, through OpenVINO), int8 (CPU: the graph quantised after training,
    through ONNX Runtime or OpenVINO) or auto (on the CPU, bf16 or int8 where that is within
    the task's tolerance and measurably faster, else fp32; see selection.py). `last_backend` names what ran the last call; `notes` collects one-line notes
    (fallbacks, measurements) for the caller to show.
    """

    def __init__(
        self,
        model: LoadedModel,
        *,
        device: str = "auto",
        precision: str = "fp32",
        tile: int | None = None,
        tile_overlap: int | None = None,
        backend: str = "auto",
    ):
        self.model, self.task, self.spec = model, model.task, model.spec
        if not self.spec.generator:
            use = "i2i generate, invert or dissect" if self.spec.takes == "latent" else "not an image-to-image model"
            raise UsageError(f"{model.path}: a {self.spec.id} takes {self.spec.takes}s, not images ({use})")
        self.device = resolve_device(device)
        check_request(backend, precision, self.device)
        self.multiple = self.spec.size_multiple(model.config)
        self.min_size = self.spec.min_size(model.config)
        self.scale = self.spec.scale(model.config)
        self.tile = tile  # None: automatic; 0: never
        self._max_call_pixels: int | None = None  # max_call_pixels, estimated on first use
        # Twice the context a tile's edge lacks: the blend ramps give those edge pixels at most half
        # the weight. 4x measured no closer to the whole image in 8-bit levels and cost up to 1.4x
        # more tiles' work (benchmarks/tiling.py, README's Backends).
        self.overlap = tile_overlap if tile_overlap is not None else max(32, 2 * self.spec.receptive_margin)
        self.instance_norm = has_instance_norm(model.module)
        self.notes: list[str] = []
        self.torch = TorchBackend(model.module, self.device, self._torch_dtype(precision))
        self.module = self.torch.module
        self.selector = BackendSelector(model, self.torch, backend=backend, precision=precision, note=self._note)
        self.last_backend = ""
        self._stats: list[torch.Tensor] | None = None  # whole-image statistics while tiling
        self._pinned = None  # the backend every call uses inside a block (tiles, pooled frames)
        self._reference: torch.Tensor | None = None

    def _torch_dtype(self, precision: str) -> torch.dtype:
        if self.device.type == "cuda" and precision in ("fp16", "bf16"):
            if not (self.spec.half_precision if precision == "fp16" else self.spec.bfloat16):
                raise UsageError(f"--precision {precision} is not supported by {self.spec.id}")
            return {"fp16": torch.float16, "bf16": torch.bfloat16}[precision]
        return torch.float32

    def _note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)

    def wants_tiles(self, height: int, width: int) -> bool:
        """Whether an input of height x width pixels runs in tiles (--tile; automatic above
        max_call_pixels)."""
        if not self.spec.tiles or self.tile == 0:
            return False
        if self.tile:
            return height > self.tile or width > self.tile
        return height * width > self.max_call_pixels()

    def max_call_pixels(self) -> int:
        """Input pixels one network call may hold under automatic tiling: AUTO_TILE_PIXELS, or
        fewer where the network's estimated peak memory (largest layer output per input pixel x
        PEAK_PER_LARGEST_OUTPUT) would pass AUTO_TILE_BYTES. A network that cannot be tiled has
        no limit (it runs whole)."""
        if self._max_call_pixels is None:
            if not self.spec.tiles or self.tile == 0:
                self._max_call_pixels = 2**62
            else:
                per_pixel = self.largest_output_bytes_per_pixel() * PEAK_PER_LARGEST_OUTPUT
                self._max_call_pixels = max(self.multiple**2, min(AUTO_TILE_PIXELS, int(AUTO_TILE_BYTES / per_pixel)))
        return self._max_call_pixels

    def largest_output_bytes_per_pixel(self) -> float:
        """The largest output of any layer of the network, in fp32 bytes per input pixel, from a
        forward of one small probe through torch (module outputs; a conv network's scale with
        the input), once per architecture and process."""
        from .cache import model_key

        key = model_key(self.model, weights=False)
        if key not in _LARGEST_OUTPUT:
            _LARGEST_OUTPUT[key] = self._probe_largest_output()
        return _LARGEST_OUTPUT[key]

    def _probe_largest_output(self) -> float:
        side = max(self.min_size, 4 * self.multiple, 16)
        side = -(-side // self.multiple) * self.multiple
        largest = [0]

        def record(_module, _inputs, output):
            if torch.is_tensor(output):
                largest[0] = max(largest[0], output.numel())

        leaves = [m for m in self.module.modules() if not any(True for _ in m.children())]
        hooks = [m.register_forward_hook(record) for m in leaves]
        try:
            with torch.inference_mode():
                self.torch(torch.zeros(1, self.task.in_channels, side, side))
        finally:
            for hook in hooks:
                hook.remove()
        return 4 * largest[0] / side**2

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        with torch.inference_mode():
            if self.wants_tiles(h, w):
                return torch.cat([self._tiled(x[i : i + 1]) for i in range(x.shape[0])])
            return self._net(x)

    def _net(self, x: torch.Tensor) -> torch.Tensor:
        """Value range in, padding, network, crop, value range out; x and the result on the CPU."""
        h, w = x.shape[-2:]
        x, _ = pad_to_multiple(self.task.to_net(x.to(self.device)), self.multiple, self.min_size)
        backend = self._pinned or self.selector.backend_for(x)
        try:
            y = backend(x, self._stats)
        except BackendError as e:  # a runtime failed on this input: torch runs it (auto), and says so
            if self._stats is None:
                backend = self.selector.fall_back(x, f"{label(backend)}: {e}")
            else:  # mid-image: the remaining tiles on torch, with torch's statistics
                self.selector.refuse_fallback(f"{label(backend)}: {e}")
                self._note(f"{label(backend)}: {e}; the remaining tiles run on torch")
                backend = self._pinned = self.torch
                self._stats = self.torch.statistics(self._reference)
            y = backend(x, self._stats)
        self.last_backend = label(backend)
        y = y[..., : h * self.scale, : w * self.scale].float()
        return self.task.from_net(y).clamp(0, 1).cpu()

    def auto_tile(self) -> int:
        """Tile side under automatic tiling: DEFAULT_TILE, or less where max_call_pixels is
        smaller (RRDB: 313), a multiple of the network's size multiple."""
        side = min(DEFAULT_TILE, int(self.max_call_pixels() ** 0.5))
        return max(self.multiple, side // self.multiple * self.multiple)

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
        tile = self.tile or self.auto_tile()
        s, overlap = self.scale, min(self.overlap, tile // 2)  # a bigger overlap would never advance
        _, _, h, w = x.shape
        th, tw = even_tile(h, tile, overlap, self.multiple), even_tile(w, tile, overlap, self.multiple)
        ys, xs = tile_starts(h, th, overlap), tile_starts(w, tw, overlap)
        wy = blend_weights([y0 * s for y0 in ys], th * s, h * s, overlap * s)
        wx = blend_weights([x0 * s for x0 in xs], tw * s, w * s, overlap * s)
        carry = None  # blended rows of the previous tile row that the next one overlaps
        with self._statistics(x, tile, x[..., :th, :tw]):
            for yi, y0 in enumerate(ys):
                with torch.inference_mode():
                    band = None
                    for xi, x0 in enumerate(xs):
                        part = self._net(x[..., y0 : y0 + th, x0 : x0 + tw])[0]
                        if band is None:
                            band = torch.zeros(part.shape[0], th * s, w * s, dtype=dtype)
                            if carry is not None:
                                band[:, : carry.shape[1]] = carry
                        part.mul_(wy[yi][:, None]).mul_(wx[xi])
                        band[:, :, x0 * s : (x0 + tw) * s] += part
                    done = (ys[yi + 1] - y0) * s if yi + 1 < len(ys) else th * s
                    carry = band[:, done:].clone()
                    finished = band[:, :done]
                    del band, part
                yield finished
                del finished  # before the next band is allocated: one band in memory at a time

    @contextmanager
    def on_torch(self, reason: str):
        """Inside the block the network runs on torch, whatever the backend: for module patches
        a runtime's exported graph cannot see (instance-norm statistics pooled over a clip's
        frames). The reason becomes a note when a runtime was asked for or may be chosen."""
        if self.selector.on_cpu and self.selector.requested != "torch":
            self._note(reason)
        self._pinned = self.torch
        try:
            yield
        finally:
            self._pinned = None

    @contextmanager
    def _statistics(self, x: torch.Tensor, tile: int, first_tile: torch.Tensor):
        """Instance-norm layers use whole-image statistics inside this block (see norm_stats).

        The backend chosen for the tile size records them on a downscaled copy of the image and
        normalises every tile with them; a runtime that cannot (its statistics graphs do not
        export, or disagree with torch) leaves this image to torch, with a note.
        """
        if not self.instance_norm:
            yield
            return
        with torch.inference_mode():
            reference = downscale_for_statistics(x, tile, self.multiple)
            reference = self.task.to_net(pad_to_multiple(reference, self.multiple, self.min_size)[0])  # a 2x5000 strip
            first, _ = pad_to_multiple(self.task.to_net(first_tile), self.multiple, self.min_size)
            backend = self.selector.backend_for(first)
            try:
                if not self.selector.statistics_checked(backend, reference):
                    raise BackendError("its whole-image statistics graphs disagree with torch")
                stats = backend.statistics(reference)
            except BackendError as e:
                problem = f"{label(backend)} cannot tile {self.spec.id} with whole-image statistics ({e})"
                self.selector.refuse_fallback(problem)
                self._note(f"{problem}; tiles run on torch")
                backend = self.torch
                stats = backend.statistics(reference)
        self._stats, self._pinned, self._reference = stats, backend, reference
        try:
            yield
        finally:
            self._stats = self._pinned = self._reference = None
