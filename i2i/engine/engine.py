"""The engine: decode in threads, batch same-size images through the model, encode in threads.

Every inference command is this engine with an adapter for its task. It never prints; it yields
one Result per input and the CLI renders them. Whatever goes wrong with one input (decoding,
the network, encoding, writing) becomes that input's error; the others still run.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch

from ..checkpoint import LoadedModel
from ..data.image_io import (
    DEFAULT_MAX_OUTPUT_PIXELS,
    DEFAULT_MAX_PIXELS,
    MAX_SIDE,
    ImageData,
    describe_pixels,
    encode_image,
    exif_for,
    fill_transparent,
    profile_for,
    quantize,
    read_image,
    scale_metadata,
)
from ..data.png_stream import PNGBandWriter
from ..errors import I2IError, ImageError, one_line
from ..files import OutputExists, atomic_output, atomic_write_bytes, remove_stale_parts, write_all
from .adapters import Adapter
from .backends import BackendError
from .inputs import STDIO, Job, OutputOptions, input_name, plan_outputs, read_source
from .results import Result, existing_output
from .runner import ModelRunner

__all__ = ["Engine", "Result", "existing_output"]

PREFETCH_PIXELS = 32_000_000  # decoded pixels read ahead of the model, at most (about 0.8 GB)
STREAM_ROWS = 64  # output rows converted and encoded at a time when streaming a PNG


@dataclass
class _Item:
    job: Job
    image: ImageData
    tensor: torch.Tensor
    started: float
    backend: str | None = None


class Engine:
    """A loaded model ready to run on images: one in memory (run_image), or many files (process).

    model: a LoadedModel (checkpoint.load_model). adapter: how images become network inputs and
    outputs become images for the model's task (engine/adapters.py: RGBAdapter for upscale,
    translate and stylize; ColorizeAdapter). device: auto (CUDA when present), cpu, cuda, cuda:N
    or mps. batch_size: same-size images per network call (default 8 on CUDA, else 4).
    precision: fp32 (the default here; the CLI's is auto), fp16 or bf16 (CUDA; bf16 also through
    OpenVINO on CPUs that have it), int8 (CPU, quantised after training) or auto (on the CPU,
    bf16 or int8 where it stays within the task's tolerance and is measurably faster, else fp32). tile: tile side in input pixels (None: automatic above 1024x1024; 0: never tile);
    tile_overlap: input pixels tiles share (default from the architecture's receptive field).
    backend: auto (the fastest accurate one here, measured once and cached), torch,
    onnxruntime or openvino. io_threads: decode and encode threads for process(). max_pixels:
    inputs with more pixels are refused; max_output_pixels: likewise for outputs.

    `runner` (engine/runner.py) runs the network: `runner.last_backend` names what ran the last
    call, `runner.notes` collects one-line notes (backend fallbacks, measurements).

    Raises UsageError for a device, backend or precision this machine cannot give, and for a
    model that does not take images (a latent generator).
    """

    def __init__(
        self,
        model: LoadedModel,
        adapter: Adapter,
        *,
        device: str = "auto",
        batch_size: int | None = None,
        precision: str = "fp32",
        tile: int | None = None,
        tile_overlap: int | None = None,
        io_threads: int | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        max_output_pixels: int = DEFAULT_MAX_OUTPUT_PIXELS,
        backend: str = "auto",
    ):
        self.runner = ModelRunner(
            model, device=device, precision=precision, tile=tile, tile_overlap=tile_overlap, backend=backend
        )
        self.adapter = adapter
        self.batch_size = batch_size or (8 if self.runner.device.type == "cuda" else 4)
        # On the CPU the cores belong to the network; a GPU leaves them to decoding and encoding.
        on_gpu = self.runner.device.type != "cpu"
        self.io_threads = io_threads or (min(8, os.cpu_count() or 2) if on_gpu else 2)
        self.max_pixels = max_pixels
        self.max_output_pixels = max_output_pixels

    @property
    def notes(self) -> list[str]:
        """One-line notes of the runner (backend fallbacks, measurements), in order."""
        return self.runner.notes

    # ---- one image, in memory (library use) ----
    def run_image(self, image: ImageData, name: str = "<image>") -> ImageData:
        """The model's output for one decoded image (data.image_io.read_image), in memory.

        image.pixels: (H, W, C) float32 in [0, 1], C 1 or 3; alpha, bit depth, ICC profile and
        EXIF are carried over. The adapter makes it a (C, H, W) float tensor in [0, 1] in the
        model's input space (gray, RGB or RGBA); the runner moves it to the device, maps it to
        the model's value range (task.value_range), pads the bottom and right to the
        architecture's size multiple (reflection where it fits, else edge replication), tiles
        large images with blended overlaps, and crops the padding off the output. Returns an ImageData of the output size (e.g. (4H, 4W)
        for a x4 model), pixels float32 in [0, 1], on the CPU; DPI is scaled so the print size
        stays. name: used in error messages.

        Raises ImageError (naming `name`) when the output would exceed max_output_pixels.
        """
        image, x = self._prepare(image, name)
        return self._finish(image, self.runner(x[None])[0])

    def _prepare(self, image: ImageData, name: str) -> tuple[ImageData, torch.Tensor]:
        self._check_output_size(image, name)
        image = fill_transparent(image)
        return image, self.adapter.prepare(image)

    def _finish(self, image: ImageData, y: torch.Tensor) -> ImageData:
        return scale_metadata(self.adapter.finish(image, y), image.size)

    def _check_output_size(self, image: ImageData, name: str) -> None:
        """Refuse before any work an image whose output (or the network's) would be too large."""
        (w, h), s = image.size, self.runner.scale
        out_w, out_h = self.adapter.output_size(image.size)
        largest = max((out_w * out_h, (out_w, out_h)), (w * s * h * s, (w * s, h * s)))
        if largest[0] > self.max_output_pixels:
            raise ImageError(
                name,
                f"the output would be {largest[1][0]}x{largest[1][1]} "
                f"({describe_pixels(largest[0])}), above the limit of "
                f"{describe_pixels(self.max_output_pixels)} (raise it with --max-output-pixels)",
            )

    def _check_format_limit(self, job: Job, image: ImageData) -> None:
        """A format's own size limit, found before the network runs rather than by the encoder."""
        limit = MAX_SIDE.get(job.format)
        out_w, out_h = self.adapter.output_size(image.size)
        if limit and max(out_w, out_h) > limit:
            raise ImageError(
                job.source,
                f"the output would be {out_w}x{out_h}, but {job.format} holds at most "
                f"{limit} pixels a side (choose another format with --ext or -o)",
            )

    # ---- many files, streamed ----
    def process(self, jobs: Iterable[Job], out: OutputOptions) -> Iterator[Result]:
        """Run files: decode in threads, batch same-size images through the model, encode and
        write in threads. Yields one Result per job, in completion order (not always job order).

        jobs: engine.inputs.Job (expand_inputs makes them from paths, folders and globs); jobs
        not yet planned (plan_outputs) are planned here, and clashing outputs become failed
        Results. out: output folder or file, format, suffix, quality, overwrite, skip_existing.
        Outputs are written atomically (a hidden .part file, then renamed). Nothing is raised
        for one input's failure: decoding, network, encoding and writing errors become that
        Result's `error` (one line naming the file) and the other jobs still run. Close the
        iterator (contextlib.closing) to stop early: queued work is dropped, writes under way
        finish, and no temporary file is left behind.
        """
        jobs = list(jobs)
        if any(job.output is None for job in jobs):
            jobs, _, clashes = plan_outputs(jobs, out)
            for clash in clashes:
                yield Result(clash.source, error=f"{clash.source}: {clash.reason}")
        for folder in sorted({str(Path(job.output).parent) for job in jobs if job.output != STDIO}):
            remove_stale_parts(folder)  # left by a killed earlier run
        decode_pool = ThreadPoolExecutor(self.io_threads, thread_name_prefix="i2i-decode")
        try:
            yield from self._through_model(self._decoded(jobs, out, decode_pool), out)
        finally:
            decode_pool.shutdown(wait=True, cancel_futures=True)

    def process_decoded(
        self, decoded: Iterable[tuple[Job, ImageData | Exception]], out: OutputOptions
    ) -> Iterator[Result]:
        """Run images already decoded elsewhere (a Ray Data read task): the rest of process().

        decoded: (planned job, its image from data.image_io.read_image, or the exception that
        reading raised). The jobs must be planned (job.output set) and their outputs' existence
        checked by the caller (existing_output); an output that appears meanwhile is kept, as in
        process(). Yields one Result per job, in completion order; a failure is that Result's
        error. Close the iterator to stop early, as with process().
        """

        def admitted():
            for job, image in decoded:
                started = time.perf_counter()
                if isinstance(image, BaseException):
                    yield Result(job.source, error=_failure(job, "reading", image))
                else:
                    yield self._admit(job, image, started)

        yield from self._through_model(admitted(), out)

    def _through_model(self, items: Iterator[_Item | Result], out: OutputOptions) -> Iterator[Result]:
        """Batch decoded items through the network, encode and write them in threads."""
        encode_pool = ThreadPoolExecutor(self.io_threads, thread_name_prefix="i2i-encode")
        writes: deque[Future] = deque()
        try:
            for result in self._run(items, out, encode_pool, writes):
                yield result
                while writes and writes[0].done():
                    yield writes.popleft().result()
            while writes:
                yield writes.popleft().result()
        finally:
            # Normally every write has been collected here. When stopped (Ctrl-C, SIGTERM, the
            # caller closing us), queued work is dropped and writes under way finish, so no
            # temporary file is left behind.
            encode_pool.shutdown(wait=True, cancel_futures=True)

    def _decoded(self, jobs: list[Job], out: OutputOptions, decode_pool) -> Iterator[_Item | Result]:
        """Jobs decoded in the pool, in job order, read ahead as far as memory allows."""
        reads: deque[tuple[Job, Future]] = deque()
        queue = iter(jobs)
        prefetch = 2 * self.batch_size + 2

        def refill():
            while len(reads) < prefetch:
                job = next(queue, None)
                if job is None:
                    return
                reads.append((job, decode_pool.submit(self._decode, job, out)))

        refill()
        while reads:
            job, future = reads.popleft()
            refill()
            item = future.result()  # never raises: _decode returns a Result for any failure
            if isinstance(item, _Item):
                # Decoded images wait in memory: read fewer ahead when they are large.
                prefetch = max(1, min(2 * self.batch_size + 2, PREFETCH_PIXELS // item.tensor[0].numel()))
            yield item

    def _run(self, items: Iterator[_Item | Result], out, encode_pool, writes) -> Iterator[Result]:
        group: list[_Item] = []
        for item in items:
            if isinstance(item, Result):  # skipped or failed before the network
                yield item
                continue
            if group and (
                item.tensor.shape != group[0].tensor.shape or self._alone(item) or self._too_many_pixels(group)
            ):
                yield from self._flush(group, out, encode_pool, writes)
                group = []
            group.append(item)
            if len(group) >= self.batch_size or self._alone(item):
                yield from self._flush(group, out, encode_pool, writes)
                group = []
        if group:
            yield from self._flush(group, out, encode_pool, writes)

    def _alone(self, item: _Item) -> bool:
        """Tiled images run one at a time."""
        return self.runner.wants_tiles(*item.tensor.shape[-2:])

    def _too_many_pixels(self, group: list[_Item]) -> bool:
        """Whether one more image of the group's size would pass what one network call may hold
        (runner.max_call_pixels: a large network's memory bounds its batch, not only its tiles)."""
        h, w = group[0].tensor.shape[-2:]
        return (len(group) + 1) * h * w > self.runner.max_call_pixels()

    def _decode(self, job: Job, out: OutputOptions) -> _Item | Result:
        started = time.perf_counter()
        try:
            kept = existing_output(job, out)
            if kept is not None:
                return kept
            if job.source == STDIO:
                data = job.data if job.data is not None else sys.stdin.buffer.read()
                image = read_image(data, name=input_name(job.source), max_pixels=self.max_pixels)
            else:
                image = read_source(job.source, self.max_pixels)
        except Exception as e:  # noqa: BLE001  (whatever it is, it is this input's failure)
            return Result(job.source, error=_failure(job, "reading", e))
        return self._admit(job, image, started)

    def _admit(self, job: Job, image: ImageData, started: float) -> _Item | Result:
        """A decoded image checked against the limits and made the network's input."""
        try:
            self._check_format_limit(job, image)
            image, tensor = self._prepare(image, job.source)
        except Exception as e:  # noqa: BLE001
            return Result(job.source, error=_failure(job, "reading", e))
        return _Item(job, image, tensor, started)

    def _flush(self, group: list[_Item], out, encode_pool, writes) -> list[Result]:
        """Run one batch; hand each output to the encoder pool. Returns results to report now."""
        if len(group) == 1 and self._streams(group[0]):
            return [self._stream_png(group[0], out)]
        try:
            outputs = self.runner(torch.stack([it.tensor for it in group]))
        except Exception as e:  # noqa: BLE001
            if len(group) > 1:  # out of memory, or one image the network cannot take: each alone
                return [r for it in group for r in self._flush([it], out, encode_pool, writes)]
            return [Result(group[0].job.source, error=_failure(group[0].job, "inference", e))]
        for it in group:
            it.backend = self.runner.last_backend
        # Outputs waiting for an encoder hold memory: past a bound, wait for the oldest to finish.
        done = []
        while len(writes) >= 2 * self.io_threads + self.batch_size:
            done.append(writes.popleft().result())
        for it, y in zip(group, outputs):
            writes.append(encode_pool.submit(self._finish_and_write, it, y, out))
        return done

    def _streams(self, it: _Item) -> bool:
        """Tiled images bound for PNG files are written band by band as the tiles finish."""
        if it.job.output == STDIO or not self._alone(it) or not self.adapter.streams(it.image):
            return False
        return it.job.format == "PNG"

    def _stream_png(self, it: _Item, out: OutputOptions) -> Result:
        job, (w, h), s = it.job, it.image.size, self.runner.scale
        bit_depth = self.adapter.bit_depth_out(it.image)
        channels = self.adapter.channels_out(it.image)
        dpi = tuple(v * s for v in it.image.dpi) if it.image.dpi else None
        stage = "inference"  # the tiles run while the file is written
        try:
            with atomic_output(job.output, overwrite=out.overwrite) as f:
                writer = PNGBandWriter(
                    f,
                    w * s,
                    h * s,
                    channels,
                    bit_depth,
                    icc_profile=profile_for(it.image.icc_profile, channels),
                    exif=exif_for(it.image, (w * s, h * s)),
                    dpi=dpi,
                    text=it.image.text,
                )
                band_dtype = torch.float16 if bit_depth == 8 else torch.float32
                for band in self.runner.bands(it.tensor[None], band_dtype):
                    self._write_band(writer, it.image, band, bit_depth)
                    del band  # no view of it may outlive this line: the next band needs the room
                writer.close()
        except OutputExists:
            return _appeared(job, out)
        except Exception as e:  # noqa: BLE001
            return Result(job.source, error=_failure(job, "writing" if isinstance(e, OSError) else stage, e))
        return Result(
            job.source,
            output=job.output,
            in_size=it.image.size,
            out_size=(w * s, h * s),
            seconds=round(time.perf_counter() - it.started, 4),
            backend=self.runner.last_backend,
        )

    def _write_band(self, writer: PNGBandWriter, image: ImageData, band: torch.Tensor, bit_depth: int):
        for start in range(0, band.shape[1], STREAM_ROWS):  # bounds the float temporaries
            chunk = band[:, start : start + STREAM_ROWS]
            writer.write(quantize(self.adapter.finish_band(image, chunk), bit_depth))

    def _finish_and_write(self, it: _Item, y: torch.Tensor, out: OutputOptions) -> Result:
        job, stage = it.job, "inference"
        try:
            result_image = self._finish(it.image, y)
            stage = "encoding"
            data = encode_image(result_image, job.format, out.quality)
            stage = "writing"
            if job.output == STDIO:
                write_all(sys.stdout.buffer, data)  # checks every count: a pipe may take part
            else:
                atomic_write_bytes(data, job.output, overwrite=out.overwrite)
        except OutputExists:
            return _appeared(job, out)
        except Exception as e:  # noqa: BLE001
            return Result(job.source, error=_failure(job, stage, e))
        return Result(
            job.source,
            output=job.output,
            in_size=it.image.size,
            out_size=result_image.size,
            seconds=round(time.perf_counter() - it.started, 4),
            backend=it.backend,
        )


def _appeared(job: Job, out: OutputOptions) -> Result:
    """The output was created by someone else (another job on the same folder) while we worked."""
    if out.skip_existing:
        return Result(job.source, output=job.output, skipped="exists")
    return Result(
        job.source,
        error=f"{job.output}: output exists: another process wrote it meanwhile (pass --overwrite or --skip-existing)",
    )


def _failure(job: Job, stage: str, e: BaseException) -> str:
    """One line naming the input and what went wrong, for any exception."""
    if isinstance(e, BackendError):  # about the model and this machine: the input is named here
        return one_line(f"{input_name(job.source)}: {e}")
    if isinstance(e, I2IError):
        return one_line(str(e))
    if os.environ.get("I2I_DEBUG"):
        traceback.print_exception(e)
    target = "stdout" if job.output == STDIO else job.output
    if isinstance(e, MemoryError):
        problem = f"{stage} failed: not enough memory"
    elif isinstance(e, OSError) and stage == "writing":
        problem = f"cannot write {target} ({e.strerror or e})"
    else:
        problem = f"{stage} failed ({type(e).__name__}: {e})"
    return one_line(f"{job.source}: {problem}")
