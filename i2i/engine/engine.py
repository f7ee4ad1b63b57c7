"""The engine: decode in threads, batch same-size images through the model, encode in threads.

Every inference command is this engine with an adapter for its task. It never prints; it yields
one Result per input and the CLI renders them.
"""
from __future__ import annotations

import os
import sys
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterable, Iterator

import torch

from ..checkpoint import LoadedModel
from ..data.image_io import (DEFAULT_MAX_PIXELS, ImageData, atomic_output, atomic_write_bytes,
                             encode_image, quantize, read_image)
from ..data.png_stream import PNGBandWriter
from ..errors import I2IError, ImageError
from .inputs import STDIO, Job, OutputOptions, output_format, output_path, single_file_target
from .runner import ModelRunner


PREFETCH_PIXELS = 32_000_000  # decoded pixels read ahead of the model, at most (about 0.8 GB)
STREAM_ROWS = 64  # output rows converted and encoded at a time when streaming a PNG


@dataclass
class Result:
    input: str
    output: str | None = None
    in_size: tuple[int, int] | None = None
    out_size: tuple[int, int] | None = None
    seconds: float = 0.0
    error: str | None = None
    skipped: str | None = None
    backend: str | None = None
    """What ran the network: torch, onnxruntime, openvino, with the precision when not fp32."""

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class _Item:
    job: Job
    image: ImageData
    tensor: torch.Tensor
    started: float
    backend: str | None = None


class Engine:
    def __init__(self, model: LoadedModel, adapter, *, device: str = "auto",
                 batch_size: int | None = None, precision: str = "fp32", tile: int | None = None,
                 tile_overlap: int | None = None, io_threads: int | None = None,
                 max_pixels: int = DEFAULT_MAX_PIXELS, backend: str = "auto"):
        self.runner = ModelRunner(model, device=device, precision=precision, tile=tile,
                                  tile_overlap=tile_overlap, backend=backend)
        self.adapter = adapter
        self.batch_size = batch_size or (8 if self.runner.device.type == "cuda" else 4)
        # On the CPU the cores belong to the network; a GPU leaves them to decoding and encoding.
        on_gpu = self.runner.device.type != "cpu"
        self.io_threads = io_threads or (min(8, os.cpu_count() or 2) if on_gpu else 2)
        self.max_pixels = max_pixels

    # ---- one image, in memory (library use) ----
    def run_image(self, image: ImageData) -> ImageData:
        x = self.adapter.prepare(image)
        return self.adapter.finish(image, self.runner(x[None])[0])

    # ---- many files, streamed ----
    def process(self, jobs: Iterable[Job], out: OutputOptions) -> Iterator[Result]:
        jobs = list(jobs)
        single = single_file_target(out.out, len(jobs))
        decode_pool = ThreadPoolExecutor(self.io_threads, thread_name_prefix="i2i-decode")
        encode_pool = ThreadPoolExecutor(self.io_threads, thread_name_prefix="i2i-encode")
        writes: deque[Future] = deque()
        try:
            for result in self._run(jobs, out, single, decode_pool, encode_pool, writes):
                yield result
                while writes and writes[0].done():
                    yield writes.popleft().result()
            while writes:
                yield writes.popleft().result()
        finally:
            decode_pool.shutdown(wait=True, cancel_futures=True)
            encode_pool.shutdown(wait=True)

    def _run(self, jobs, out, single, decode_pool, encode_pool, writes) -> Iterator[Result]:
        reads: deque[tuple[Job, Future]] = deque()
        queue = iter(jobs)
        prefetch = 2 * self.batch_size + 2
        group: list[_Item] = []

        def refill():
            while len(reads) < prefetch:
                job = next(queue, None)
                if job is None:
                    return
                reads.append((job, decode_pool.submit(self._decode, job, out, single)))

        refill()
        while reads:
            job, future = reads.popleft()
            refill()
            try:
                item = future.result()
            except I2IError as e:
                yield Result(job.source, error=str(e))
                continue
            if isinstance(item, Result):  # skipped before decoding
                yield item
                continue
            # Decoded images wait in memory: read fewer ahead when they are large.
            prefetch = max(1, min(2 * self.batch_size + 2, PREFETCH_PIXELS // item.tensor[0].numel()))
            if group and (item.tensor.shape != group[0].tensor.shape or self._alone(item)):
                yield from self._flush(group, out, single, encode_pool, writes)
                group = []
            group.append(item)
            if len(group) >= self.batch_size or self._alone(item):
                yield from self._flush(group, out, single, encode_pool, writes)
                group = []
        if group:
            yield from self._flush(group, out, single, encode_pool, writes)

    def _alone(self, item: _Item) -> bool:
        """Tiled images run one at a time."""
        return self.runner.wants_tiles(*item.tensor.shape[-2:])

    def _decode(self, job: Job, out: OutputOptions, single: bool):
        started = time.perf_counter()
        if job.source != STDIO and out.out != STDIO:
            guess_fmt, guess_ext = output_format(job, None, False, out, single)
            target = output_path(job, guess_ext, out, single)
            if target.exists() and out.skip_existing:
                return Result(job.source, output=str(target), skipped="exists")
            if target.exists() and not out.overwrite:
                raise ImageError(target, "output exists (pass --overwrite or --skip-existing)")
        if job.source == STDIO:
            image = read_image(sys.stdin.buffer.read(), name="<stdin>", max_pixels=self.max_pixels)
        else:
            image = read_image(job.source, max_pixels=self.max_pixels)
        return _Item(job, image, self.adapter.prepare(image), started)

    def _flush(self, group: list[_Item], out, single, encode_pool, writes) -> list[Result]:
        """Run one batch; hand each output to the encoder pool. Returns results to report now."""
        if len(group) == 1 and self._streams(group[0], out, single):
            return [self._stream_png(group[0], out, single)]
        try:
            outputs = self.runner(torch.stack([it.tensor for it in group]))
        except RuntimeError as e:  # out of memory and the like: report per image, keep going
            return [Result(it.job.source, error=f"{it.job.source}: inference failed ({e})") for it in group]
        for it in group:
            it.backend = self.runner.last_backend
        # Outputs waiting for an encoder hold memory: past a bound, wait for the oldest to finish.
        done = []
        while len(writes) >= 2 * self.io_threads + self.batch_size:
            done.append(writes.popleft().result())
        for it, y in zip(group, outputs):
            writes.append(encode_pool.submit(self._finish_and_write, it, y, out, single))
        return done

    def _streams(self, it: _Item, out: OutputOptions, single: bool) -> bool:
        """Tiled images bound for PNG files are written band by band as the tiles finish."""
        if out.out == STDIO or not self._alone(it) or not self.adapter.streams(it.image):
            return False
        return output_format(it.job, it.image.format, False, out, single)[0] == "PNG"

    def _stream_png(self, it: _Item, out: OutputOptions, single: bool) -> Result:
        job, (w, h), s = it.job, it.image.size, self.runner.scale
        bit_depth = self.adapter.bit_depth_out(it.image)
        try:
            path = _new_output_path(job, "png", out, single)
            with atomic_output(path) as f:
                writer = PNGBandWriter(f, w * s, h * s, self.adapter.channels_out(it.image), bit_depth,
                                       icc_profile=it.image.icc_profile, exif=it.image.exif)
                band_dtype = torch.float16 if bit_depth == 8 else torch.float32
                for band in self.runner.bands(it.tensor[None], band_dtype):
                    self._write_band(writer, it.image, band, bit_depth)
                    del band  # no view of it may outlive this line: the next band needs the room
                writer.close()
        except I2IError as e:
            return Result(job.source, error=str(e))
        except RuntimeError as e:
            return Result(job.source, error=f"{job.source}: inference failed ({e})")
        except OSError as e:
            return Result(job.source, error=f"{job.source}: cannot write output ({e})")
        return Result(job.source, output=str(path), in_size=it.image.size, out_size=(w * s, h * s),
                      seconds=round(time.perf_counter() - it.started, 4), backend=self.runner.last_backend)

    def _write_band(self, writer: PNGBandWriter, image: ImageData, band: torch.Tensor, bit_depth: int):
        for start in range(0, band.shape[1], STREAM_ROWS):  # bounds the float temporaries
            chunk = band[:, start:start + STREAM_ROWS]
            writer.write(quantize(self.adapter.finish_band(image, chunk), bit_depth))

    def _finish_and_write(self, it: _Item, y: torch.Tensor, out: OutputOptions, single: bool) -> Result:
        job = it.job
        try:
            result_image = self.adapter.finish(it.image, y)
            fmt, ext = output_format(job, it.image.format, result_image.alpha is not None, out, single)
            data = encode_image(result_image, fmt, out.quality)
            if out.out == STDIO:
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
                target = STDIO
            else:
                path = _new_output_path(job, ext, out, single)
                atomic_write_bytes(data, path)
                target = str(path)
        except I2IError as e:
            return Result(job.source, error=str(e))
        except OSError as e:
            return Result(job.source, error=f"{job.source}: cannot write output ({e})")
        return Result(job.source, output=target, in_size=it.image.size, out_size=result_image.size,
                      seconds=round(time.perf_counter() - it.started, 4), backend=it.backend)


def _new_output_path(job: Job, ext: str, out: OutputOptions, single: bool):
    """The output path, checked again just before writing (another job may have made it)."""
    path = output_path(job, ext, out, single)
    if path.exists() and not out.overwrite:
        raise ImageError(path, "output exists (pass --overwrite or --skip-existing)")
    return path
