"""Clips (video files and animated GIF/WebP/APNG) through the engine's model, frame-streamed.

Three stages overlap: a reader thread demuxes, decodes and measures motion between frames; the
calling thread batches frames through the engine's ModelRunner (so every backend and device the
engine has applies) and keeps them consistent in time; a writer thread finishes, encodes and
muxes them, copying (or converting) the audio and subtitle packets as they come. The queues
between the stages are bounded, so memory stays flat whatever the clip's length. Each clip is
written to a temporary file renamed into place only when complete.
"""

from __future__ import annotations

import io
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ..data.animation_io import AnimationReader, AnimationWriter
from ..data.image_io import ImageData, quantize
from ..data.media_types import ANIMATED_SUFFIXES, CLIP_SUFFIXES, VIDEO_SUFFIXES, is_video_path
from ..data.video_io import Frame, VideoReader, VideoWriter
from ..errors import I2IError, ImageError, UsageError, one_line
from ..files import OutputExists, atomic_path, remove_stale_parts
from .backends import BackendError
from .engine import PREFETCH_PIXELS, Engine
from .inputs import STDIO, Job, OutputOptions, Skipped, input_name
from .norm_stats import FrameStatistics
from .options import TemporalOptions, VideoOptions  # noqa: F401  (declared with the job options: no torch there)
from .results import ClipResult
from .temporal import Motion, MotionAnalyzer, MotionSmoothing

_END = object()


ProgressCallback = Callable[[Job, int, "int | None"], None]
"""(job, frames done, frames expected or None), called after each batch."""


def plan_clips(
    clips: list[Job], images: list[Job], out: OutputOptions, n_inputs: int
) -> tuple[list[Job], list[Skipped]]:
    """Each clip's output path, decided before anything runs (as inputs.plan_outputs does for
    images): -> (planned clips, errors for clips whose output is taken or is their own input).

    A clip keeps its container or animation format; a single output file (one input, -o NAME
    with a clip extension) may name another (in.mkv -o out.mp4, in.gif -o out.webp)."""
    target = Path(out.out)
    single = out.out != STDIO and target.suffix.lower() in CLIP_SUFFIXES and not target.is_dir()
    if single and n_inputs > 1:
        raise UsageError(f"-o {out.out} names one file, but {n_inputs} inputs were given: name a folder")
    claimed = {os.path.realpath(j.output): j.source for j in images if j.output and j.output != STDIO}
    planned, errors = [], []
    for job in clips:
        if out.out == STDIO:
            errors.append(
                Skipped(
                    input_name(job.source),
                    "videos and animations cannot be written to stdout; name an output file or folder",
                )
            )
            continue
        path = target if single else target / job.rel.with_name(job.rel.stem + out.suffix + job.rel.suffix.lower())
        key = os.path.realpath(path)
        if key == os.path.realpath(job.source):
            errors.append(Skipped(job.source, f"its output {path} would replace it; name another folder or a --suffix"))
        elif key in claimed:
            errors.append(
                Skipped(job.source, f"its output {path} is also the output of {claimed[key]}; rename one of them")
            )
        else:
            claimed[key] = job.source
            planned.append(replace(job, output=str(path), format=path.suffix.lower()))
    return planned, errors


class ClipProcessor:
    """Runs clips through an Engine's model and adapter; one ClipResult per clip."""

    def __init__(self, engine: Engine, options: VideoOptions | None = None):
        self.engine, self.runner, self.adapter = engine, engine.runner, engine.adapter
        self.options = options or VideoOptions()

    def process(
        self, jobs: list[Job], out: OutputOptions, on_progress: ProgressCallback | None = None
    ) -> Iterator[ClipResult]:
        """One ClipResult per clip. Clips not yet planned (plan_clips) are planned here."""
        if any(job.output is None for job in jobs):
            jobs, errors = plan_clips(jobs, [], out, len(jobs))
            for e in errors:
                yield ClipResult(e.source, error=f"{e.source}: {e.reason}")
        for folder in sorted({str(Path(job.output).parent) for job in jobs}):
            remove_stale_parts(folder)  # left by a killed earlier run
        for job in jobs:
            yield self.run(job, out, on_progress)

    def run(self, job: Job, out: OutputOptions, on_progress: ProgressCallback | None = None) -> ClipResult:
        """One planned clip (job.output set) -> its ClipResult; failures are the result's error."""
        started = time.perf_counter()
        target = Path(job.output)
        try:
            if os.path.lexists(target):
                if out.skip_existing:
                    return ClipResult(job.source, output=str(target), skipped="exists")
                if not out.overwrite:
                    raise ImageError(target, "output exists (pass --overwrite or --skip-existing)")
            result = self._run(job, target, out, on_progress)
        except OutputExists:  # another job on the same folder wrote it while this one worked
            if out.skip_existing:
                return ClipResult(job.source, output=str(target), skipped="exists")
            return ClipResult(
                job.source,
                error=f"{target}: output exists: another process wrote it "
                "meanwhile (pass --overwrite or --skip-existing)",
            )
        except BackendError as e:  # a runtime named by --backend cannot run: its message names no input
            return ClipResult(job.source, error=one_line(f"{input_name(job.source)}: {e}"))
        except I2IError as e:
            return ClipResult(job.source, error=one_line(str(e)))
        except OSError as e:
            return ClipResult(job.source, error=f"{job.source}: cannot write {target} ({e.strerror or e})")
        except Exception as e:  # a library's surprise on a strange file: this clip fails, not the job
            if os.environ.get("I2I_DEBUG"):
                raise
            return ClipResult(job.source, error=one_line(f"{job.source}: failed ({type(e).__name__}: {e})"))
        result.seconds = round(time.perf_counter() - started, 4)
        return result

    def _run(self, job: Job, target: Path, out: OutputOptions, on_progress) -> ClipResult:
        max_pixels = self.engine.max_pixels
        is_video = is_video_path(job.rel)  # stdin's rel is named by its content (inputs.read_stdin)
        source = io.BytesIO(job.data) if job.source == STDIO else job.source
        name = input_name(job.source)
        reader = (
            VideoReader(source, max_pixels=max_pixels, name=name)
            if is_video
            else AnimationReader(source, max_pixels=max_pixels, name=name)
        )
        notes = [
            f"{reader.path}: {s.type} stream #{s.index} is not copied (only audio and subtitles are)"
            for s in reader.dropped
        ]
        try:
            with atomic_path(target, overwrite=out.overwrite) as tmp:
                ext = target.suffix.lower()
                if ext in VIDEO_SUFFIXES and is_video:
                    writer = VideoWriter(tmp, ext, self.options.encoder, reader)
                elif ext in ANIMATED_SUFFIXES and not is_video:
                    writer = AnimationWriter(tmp, ext, plays=reader.plays, quality=out.quality, source=reader.path)
                else:
                    raise ImageError(target, "video inputs need a video output and animations an animation output")
                try:
                    frames, size = _Pipeline(self, job, reader, writer, notes, on_progress).run()
                finally:
                    notes += writer.notes  # streams converted or left out
        finally:
            reader.close()
        return ClipResult(
            job.source,
            output=str(target),
            in_size=(reader.width, reader.height),
            out_size=size,
            frames=frames,
            notes=notes,
        )


class _Pipeline:
    """One clip: reader thread -> model in the calling thread -> writer thread."""

    def __init__(self, owner: ClipProcessor, job: Job, reader, writer, notes: list[str], on_progress):
        self.owner, self.job, self.reader, self.writer = owner, job, reader, writer
        self.notes, self.on_progress = notes, on_progress
        runner, options = owner.runner, owner.options
        tiled = runner.wants_tiles(reader.height, reader.width)
        self.batch_size = 1 if tiled else owner.engine.batch_size  # tiled frames run alone, as images do
        temporal = options.temporal if options.consistent else TemporalOptions(norm_window=1, smoothing=0)
        self.statistics = None
        if runner.instance_norm and temporal.norm_window > 1:
            if tiled:
                notes.append(
                    f"{reader.path}: frames this large are tiled, so each uses its own "
                    "whole-frame normalisation statistics (--tile 0 pools them over frames)"
                )
            else:
                self.statistics = FrameStatistics(runner.module, temporal.norm_window)
        self.smoothing = MotionSmoothing(temporal.smoothing) if temporal.smoothing > 0 else None
        # Motion is measured only where something uses it (shot cuts reset the statistics too).
        wanted = self.smoothing is not None or self.statistics is not None
        self.analyzer = MotionAnalyzer(temporal.cut_threshold) if wanted else None
        # Frames waiting between the stages hold memory: fewer of them when they are large (a
        # finished frame waits as input and output, the output scale^2 times the input's pixels).
        pixels = reader.width * reader.height
        most = 2 * self.batch_size + 2
        self.decoded: queue.Queue = queue.Queue(max(2, min(most, PREFETCH_PIXELS // pixels)))
        self.finished: queue.Queue = queue.Queue(max(2, min(most, PREFETCH_PIXELS // (pixels * (1 + runner.scale**2)))))
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.frames_written = 0
        self.out_size = None

    def run(self) -> tuple[int, tuple[int, int] | None]:
        read = threading.Thread(target=self._read, name="i2i-clip-read", daemon=True)
        write = threading.Thread(target=self._write, name="i2i-clip-write", daemon=True)
        read.start()
        write.start()
        try:
            self._infer()
        except BaseException as e:  # Ctrl-C included: the writer discards the clip, then it rises
            self.error = self.error or e
        finally:
            self.stop.set()
            self.finished.put(_END)  # the writer consumes until this, so the put cannot block
            write.join()
            _drain(self.decoded)  # unblocks the reader, which sees `stop` and returns
            read.join()
        if self.error is not None:
            raise self.error
        return self.frames_written, self.out_size

    # ---- reader thread ----
    def _read(self):
        try:
            for event in self.reader.events():
                if isinstance(event, Frame):
                    event = (event, self.analyzer(event.pixels) if self.analyzer else None)
                if not self._offer(event):
                    return
            self._offer(_END)
        except BaseException as e:
            self._offer(e)

    def _offer(self, item) -> bool:
        """Queue an item for the model; False once the pipeline is stopping."""
        while not self.stop.is_set():
            try:
                self.decoded.put(item, timeout=0.1)
                return True
            except queue.Full:
                pass
        return False

    # ---- calling thread: the model ----
    def _infer(self):
        batch: list[tuple[Frame, Motion | None]] = []
        shape, done = None, 0
        while True:
            event = self.decoded.get()
            if self.error is not None:  # the writer failed
                raise self.error
            if isinstance(event, BaseException):
                raise event
            if event is _END:
                break
            if not isinstance(event, tuple):  # a packet to copy
                self.finished.put(event)
                continue
            frame = event[0]
            shape = shape or frame.pixels.shape
            if frame.pixels.shape != shape:
                raise ImageError(
                    self.reader.path,
                    f"frame size changes at frame {frame.index} "
                    f"({shape[1]}x{shape[0]} to {frame.pixels.shape[1]}x"
                    f"{frame.pixels.shape[0]}); not supported",
                )
            batch.append(event)
            if len(batch) >= self.batch_size:
                done = self._run_batch(batch, done)
                batch = []
        if batch:
            self._run_batch(batch, done)

    def _run_batch(self, batch, done: int) -> int:
        # The engine's own preparation, as for still images: the output size limit, transparent
        # pixels filled before the network.
        images, inputs = zip(
            *(self.owner.engine._prepare(_image_data(frame.pixels), self.job.source) for frame, _ in batch)
        )
        x = torch.stack(inputs)
        motions = [m for _, m in batch]
        try:
            if self.statistics is not None:
                runner = self.owner.runner
                with (
                    runner.on_torch(
                        "instance-norm statistics pooled over a clip's frames run on torch "
                        "(a runtime's graph normalises each frame alone; --no-temporal "
                        "leaves the clip to the runtime)"
                    ),
                    self.statistics.over([m is None or m.cut for m in motions]),
                ):
                    y = runner(x)
            else:
                y = self.owner.runner(x)
        except RuntimeError as e:  # out of memory and the like
            raise ImageError(self.reader.path, f"inference failed at frame {batch[0][0].index} ({e})") from None
        for (frame, motion), img, out in zip(batch, images, y):
            if self.smoothing is not None and motion is not None:
                out = self.smoothing(out, motion)
            self.finished.put((frame, img, out))
        done += len(batch)
        if self.on_progress:
            self.on_progress(self.job, done, self.reader.total_frames)
        return done

    # ---- writer thread ----
    def _write(self):
        failed = False
        while True:
            item = self.finished.get()
            if item is _END:
                break
            if failed or self.error is not None:
                continue  # keep consuming so the model thread never blocks on a full queue
            try:
                if isinstance(item, tuple):
                    frame, img, out = item
                    pixels = _pixels_out(self.owner.engine._finish(img, out))
                    self.writer.write(pixels, frame.timing)
                    self.out_size = self.writer.size  # what was written (yuv420p crops odd sizes)
                    self.frames_written += 1
                else:
                    self.writer.copy(item)
            except BaseException as e:
                self.error, failed = self.error or e, True
        try:
            if self.error is None:
                self.writer.close()
        except BaseException as e:
            self.error = e
        if self.error is not None:
            self.writer.abort()


def _image_data(pixels: np.ndarray) -> ImageData:
    """(H, W, 3 or 4) uint8 -> ImageData (alpha apart)."""
    arr = pixels.astype(np.float32) / 255
    if arr.shape[2] == 4:
        return ImageData(np.ascontiguousarray(arr[..., :3]), np.ascontiguousarray(arr[..., 3]))
    return ImageData(arr)


def _pixels_out(img: ImageData) -> np.ndarray:
    """ImageData -> (H, W, 3 or 4) uint8 for the writer."""
    pixels = img.pixels if img.pixels.shape[2] == 3 else np.repeat(img.pixels, 3, axis=2)
    if img.alpha is not None:
        pixels = np.concatenate([pixels, img.alpha[..., None]], axis=2)
    return quantize(pixels)


def _drain(q: queue.Queue):
    while True:
        try:
            q.get_nowait()
        except queue.Empty:
            return
