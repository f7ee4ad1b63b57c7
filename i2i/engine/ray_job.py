"""A folder job on a Ray cluster (`i2i upscale ... --ray ADDRESS`, `i2i.run_on_ray`).

The job is planned on the driver exactly as a job run here (engine/jobs.py plan_job: the same
input rules, output names and skip-existing), then runs as a Ray Data pipeline:

    planned jobs --from_items--> read tasks (read the file, decode it: data.image_io.read_image)
                 --map_batches--> an actor pool, each actor one Engine (batching, tiling, the
                                  backend, encoding, the atomic write: Engine.process_decoded)
                 --iter_rows----> the driver, one Result per input as batches finish (--json
                                  lines, progress)

Clips (videos, animations) skip the read tasks and run whole inside one actor (ClipProcessor).
An input that fails (unreadable, the network, writing) is its Result's error, as everywhere.

A lost actor (its process killed, its machine gone) is restarted by Ray and the batches it held
run again on the pool: an output that the lost actor had already renamed into place is found
existing, so it is never written twice, and it is reported as skipped ("exists"), as an output
written meanwhile by another job would be. Temporary files the lost process left on this host are
removed when the job ends (files.remove_stale_parts).

Paths go through fsspec (`fsspec.open`) in the read tasks, so a read task reads wherever the node
can; outputs are local paths of the nodes (a shared file system on a cluster).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import math
import os
import pickle
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import I2IError, UsageError, one_line
from ..files import absolute_path
from .inputs import STDIO, Job, OutputOptions, read_source
from .options import RayOptions
from .results import NoteRelay, Result, from_row
from .shard import world

READ_CPUS = 0.5
"""CPUs a read task reserves: decoding one image keeps a core about half busy between reads."""

CALLS_PER_BATCH = 4
"""Engine batches per actor call: the engine overlaps encoding one batch with the network on the
next within a call, so a call of one batch would leave the network idle while it encodes."""


@dataclass(frozen=True)
class ShippedFile:
    """A file the driver read and ships with the job (a checkpoint): the nodes need not have it."""

    path: str
    """The file's path on the driver."""
    sha256: str
    data: bytes = field(repr=False)

    @classmethod
    def of(cls, path) -> ShippedFile:
        data = Path(path).read_bytes()
        return cls(os.fspath(path), hashlib.sha256(data).hexdigest(), data)

    def local_path(self) -> Path:
        """A path on this node holding these bytes: the driver's own path where this node has it
        with the same content (one machine, a shared folder: messages and cache keys name the
        file as a job run here would), else a copy in the cache folder, written once per content."""
        from ..files import atomic_write_bytes
        from .cache import cache_dir, file_sha256

        own = Path(self.path)
        try:
            if own.is_file() and file_sha256(own) == self.sha256:
                return own
        except OSError:
            pass
        copy = cache_dir() / "shipped" / f"{self.sha256[:16]}-{own.name}"
        if not copy.is_file() or file_sha256(copy) != self.sha256:
            copy.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.data, copy)
        return copy


class RayEngine:
    """Stands in for an Engine on the driver: JobPlan.run hands it the planned jobs (run_plan).

    build() -> Engine or PerImageEngines is called once in each actor (it is pickled with
    cloudpickle: a closure over a loaded model ships the model to the actors, one over a
    ShippedFile the checkpoint's bytes, which each actor loads). batch_size: images
    per network call (None: 8 with GPUs, else 4). max_pixels: the read tasks' decompression-bomb limit.
    Each Result comes with its actor's engine's notes (backend fallbacks, measurements) that
    arose before it (Result.notes; each actor says each note once).
    """

    def __init__(self, build: Callable, options: RayOptions, *, batch_size: int | None, max_pixels: int):
        self.build, self.options = build, options
        self.batch_size, self.max_pixels = batch_size or (8 if options.gpus else 4), max_pixels

    def run_plan(self, images: list[Job], clips: list[Job], out: OutputOptions, *, video=None) -> Iterator[Result]:
        """One Result per job (its output's existence checked by the caller: JobPlan.run), as Ray finishes them.

        Raises UsageError for stdin or stdout (a cluster reads and writes files), I2IError when
        Ray cannot run the pipeline (no cluster at the address, an actor that cannot start)."""
        if world()[1] > 1:
            raise UsageError("--ray runs the whole job from one process: drop torchrun")
        if any(j.source == STDIO or j.output == STDIO for j in images + clips):
            raise UsageError("--ray runs files: name input files or folders and an output folder, not -")
        folders = sorted({str(Path(j.output).parent) for j in images + clips})
        _remove_stale_parts(folders)
        if not images and not clips:
            return
        started = _connect(self.options.address)
        try:
            yield from self._run(images, clips, out, video)
        except I2IError:
            raise
        except Exception as e:  # Ray's own failures: the cluster, an actor's start
            raise I2IError(one_line(f"the Ray job failed: {type(e).__name__}: {e}")) from e
        finally:
            if started:
                import ray

                ray.shutdown()  # first: the actors it ends may leave temporary files
            _remove_stale_parts(folders)  # those of actors killed on this host

    def _run(self, images: list[Job], clips: list[Job], out: OutputOptions, video) -> Iterator[Result]:
        import ray

        _quiet_ray_data()
        # The workers do not run in the driver's folder (a cluster's processes start wherever
        # `ray start` ran): relative paths go out absolute, and come back as the user wrote them.
        jobs = [(j, False) for j in images] + [(j, True) for j in clips]
        rows = [{"job": pickle.dumps(_absolute_job(j)), "clip": clip} for j, clip in jobs]
        given = {absolute_path(j.source): j for j, _ in jobs}
        per_call = self.batch_size * CALLS_PER_BATCH
        actors, cpus, threads = self._sizes()
        # One read task per actor call: a task costs Ray a scheduling round trip (~0.1-0.2 s of
        # the cores on a small machine), which reading four 256x256 photos (~10 ms) cannot pay for.
        ds = ray.data.from_items(rows, override_num_blocks=max(1, math.ceil(len(rows) / per_call)))
        ds = ds.map_batches(
            _read_batch,
            fn_kwargs={"max_pixels": self.max_pixels},
            batch_size=per_call,
            batch_format="pyarrow",
            num_cpus=READ_CPUS,
        )
        ds = ds.map_batches(
            _EngineActor,
            fn_constructor_kwargs={"build": self.build, "out": out, "video": video, "threads": threads},
            batch_size=per_call,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=cpus,
            num_gpus=self.options.gpus or None,
        )
        for row in ds.iter_rows():
            yield _as_given(from_row(json.loads(row["result"])), given)

    def _sizes(self) -> tuple[int, float, int]:
        """(actors, CPUs each reserves, network threads each runs)."""
        import ray

        actors, cpus = self.options.actors, self.options.cpus
        total = ray.cluster_resources().get("CPU", 1)
        if cpus is None:
            # Leave room for two read tasks beside the actors; a CPU-less actor still runs.
            cpus = max(0.1, min(1.0, (total - 2 * READ_CPUS) / actors))
            threads = max(1, (os.cpu_count() or 1) // actors)
        else:
            threads = max(1, round(cpus))
        if cpus * actors > total:
            raise UsageError(
                f"--ray-actors {actors} with --ray-cpus {cpus:g} need {cpus * actors:g} CPUs; "
                f"the cluster has {total:g} (fewer actors, or fewer CPUs each)"
            )
        return actors, cpus, threads


def run_on_ray(
    model,
    inputs: list[str],
    output: str,
    *,
    options: RayOptions | None = None,
    adapter: Callable | None = None,
    ext: str = "auto",
    suffix: str = "",
    quality: int = 95,
    overwrite: bool = False,
    video=None,
    **engine_options,
) -> Iterator[Result]:
    """Run a folder job on Ray: what `i2i upscale|translate|stylize|colorize IN... -o OUT --ray`
    does, from Python. Yields one Result per input as the cluster finishes it.

    model: a LoadedModel (shipped to the actors as it is), or a model name or file
    (models.resolve: the file's bytes are shipped, and each actor loads it). inputs: files, folders
    (recursive, mirrored under `output`), globs; output: a folder. options: RayOptions (address,
    actors, CPUs and GPUs each; default: the cluster this machine belongs to, or a new local one,
    and one actor). adapter: model -> adapter (default: default_adapter). engine_options: the
    Engine's keywords (device, batch_size, precision, tile, backend, max_pixels, ...).
    Existing outputs are skipped (Result.skipped "exists") unless overwrite. Inputs that do not
    exist come first, as errors. Ray is shut down at the end when this call started it.
    """
    from ..checkpoint import LoadedModel
    from ..models import resolve
    from .jobs import plan_job

    out = OutputOptions(
        out=output, ext=ext, suffix=suffix, quality=quality, overwrite=overwrite, skip_existing=not overwrite
    )
    plan = plan_job([os.fspath(i) for i in inputs], out)
    # A name or file is not loaded here: the actors load it, and this process needs no torch.
    shipped = model if isinstance(model, LoadedModel) else ShippedFile.of(resolve(str(model)))
    engine = _ray_engine(shipped, adapter or default_adapter, options or RayOptions(), engine_options)
    for missing in plan.missing:
        yield Result(missing.source, error=f"{missing.source}: {missing.reason}")
    yield from plan.run(engine, out, video=video)


def _ray_engine(model, make_adapter: Callable, options: RayOptions, engine_options: dict) -> RayEngine:
    """A RayEngine whose actors each build Engine(model, make_adapter(model), **engine_options).
    model: a LoadedModel, or a ShippedFile that each actor loads."""
    from ..data.image_io import DEFAULT_MAX_PIXELS

    def make_engine(m):
        from ..checkpoint import load_model
        from .engine import Engine

        if isinstance(m, ShippedFile):
            m = load_model(m.local_path())
        return Engine(m, make_adapter(m), **engine_options)

    return RayEngine(
        functools.partial(make_engine, model),
        options,
        batch_size=engine_options.get("batch_size"),
        max_pixels=engine_options.get("max_pixels") or DEFAULT_MAX_PIXELS,
    )


def default_adapter(model):
    """The adapter a command gives a model by its task: colorize models the ColorizeAdapter at
    its defaults, the others RGB (gray inputs stay gray for upscale and restore models)."""
    from .adapters import ColorizeAdapter, RGBAdapter

    task = model.task
    if task.kind == "colorize":
        return ColorizeAdapter(task=task, multiple=model.spec.size_multiple(model.config))
    return RGBAdapter(task=task, keep_gray=task.kind in ("upscale", "restore"))


# ---- on the cluster ----


def _read_batch(batch, *, max_pixels: int):
    """Read task: each job's image decoded (a pickled ImageData), or its Result when it fails.
    batch: a pyarrow Table of planned jobs; -> the same with `image` and `result` columns."""
    import pyarrow as pa

    images, results = [], []
    for blob, clip in zip(batch.column("job").to_pylist(), batch.column("clip").to_pylist()):
        job: Job = pickle.loads(blob)
        image = result = None
        if not clip:
            try:
                image = _pack(read_source(job.source, max_pixels))
            except Exception as e:  # noqa: BLE001  (whatever it is, it is this input's failure)
                from .engine import _failure  # here: engine.py imports torch, which a read task never needs

                result = json.dumps(Result(job.source, error=_failure(job, "reading", e), worker=_worker()).to_row())
        images.append(image)
        results.append(result)
    # large_binary: a batch of big decoded images may pass the 2 GiB of a plain binary column
    batch = batch.append_column("image", pa.array(images, pa.large_binary()))
    return batch.append_column("result", pa.array(results, pa.string()))


def _pack(image) -> bytes:
    """A decoded image as bytes for the object store. An 8-bit image goes as its 8-bit values
    (a quarter of the float32 pixels' size; _unpack divides by 255 as read_image does, so the
    pixels come back bit for bit): a job's images all pass through Arrow and the object store."""
    from ..data.image_io import quantize

    if image.bit_depth == 8:
        alpha = None if image.alpha is None else quantize(image.alpha)
        image = dataclasses.replace(image, pixels=quantize(image.pixels), alpha=alpha)
    return pickle.dumps(image, protocol=5)


def _unpack(data: bytes):
    import numpy as np

    image = pickle.loads(data)
    if image.pixels.dtype == np.uint8:
        alpha = None if image.alpha is None else image.alpha.astype(np.float32) / 255
        image = dataclasses.replace(image, pixels=image.pixels.astype(np.float32) / 255, alpha=alpha)
    return image


class _EngineActor:
    """One Engine in one Ray actor: batches of read jobs in, one JSON Result row per job out."""

    def __init__(self, build: Callable, out: OutputOptions, video, threads: int):
        import torch

        torch.set_num_threads(threads)  # Ray sets OMP_NUM_THREADS to the CPUs reserved; the pool shares the cores
        self.engine = build()
        self.out, self.video = out, video
        self.relay = NoteRelay(lambda: self.engine.notes)

    def __call__(self, batch):
        """batch: read jobs (_read_batch's Table) -> a Table of one JSON Result row per job."""
        import pyarrow as pa

        jobs = [pickle.loads(b) for b in batch.column("job").to_pylist()]
        clips = batch.column("clip").to_pylist()
        images = batch.column("image").to_pylist()
        done = [from_row(json.loads(r)) for r in batch.column("result").to_pylist() if r is not None]
        decoded = [
            (job, _unpack(image)) for job, clip, image in zip(jobs, clips, images) if not clip and image is not None
        ]
        results = done + list(self._images(decoded)) + list(self._clips([j for j, c in zip(jobs, clips) if c]))
        return pa.table({"result": [json.dumps(self.relay(r).to_row()) for r in results]})

    def _images(self, decoded: list) -> Iterator[Result]:
        from .choice import PerImageEngines

        if not decoded:
            return
        if isinstance(self.engine, PerImageEngines):
            groups = self.engine.groups([job for job, _ in decoded])
        else:
            groups = [(self.engine, [job for job, _ in decoded], {})]
        image_of = {job.source: image for job, image in decoded}
        for engine, jobs, choices in groups:
            for r in engine.process_decoded([(job, image_of[job.source]) for job in jobs], self.out):
                r.choice, r.worker = choices.get(r.input), _worker()
                yield r

    def _clips(self, clips: list[Job]) -> Iterator[Result]:
        from .choice import PerImageEngines
        from .video import ClipProcessor

        if not clips:
            return
        engine = self.engine.clip_engine if isinstance(self.engine, PerImageEngines) else self.engine
        for r in ClipProcessor(engine, self.video).process(clips, self.out):
            r.worker = _worker()
            yield r


def _worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# ---- the driver's side of Ray ----


def _absolute_job(job: Job) -> Job:
    return dataclasses.replace(job, source=absolute_path(job.source), output=absolute_path(job.output))


def _as_given(result: Result, given: dict[str, Job]) -> Result:
    """A Result of an absolute-path job (_absolute_job) named with the paths the user gave."""
    job = given.get(result.input)
    if job is None:
        return result
    output = absolute_path(job.output)
    for absolute, own in ((result.input, job.source), (output, job.output)):
        if absolute and own and absolute != own:
            if result.error:
                result.error = result.error.replace(absolute, own)
            result.notes = [n.replace(absolute, own) for n in result.notes]
    if result.output == output:
        result.output = job.output
    result.input = job.source
    return result


def _connect(address: str) -> bool:
    """Connect to (or start) Ray; True when this call started or joined it (and must shut it down)."""
    try:
        import ray
    except ImportError:
        raise UsageError("--ray needs Ray Data: pip install 'i2i[ray]'") from None
    if ray.is_initialized():
        return False
    # Errors reach the driver as exceptions (and the inputs' as Results); Ray's own warnings
    # (its token-authentication notice, progress bars off) are not the user's business.
    settings = {"include_dashboard": False, "logging_level": logging.ERROR, "log_to_driver": False}
    if address == "local":
        ray.init(address="local", **settings)
    elif address == "auto":
        try:
            ray.init(address="auto", **settings)
        except ConnectionError:
            ray.init(address="local", **settings)
    else:
        try:
            ray.init(address=address, **settings)
        except ConnectionError as e:
            raise UsageError(one_line(f"--ray {address}: no Ray cluster answers there ({e})")) from None
    return True


def _quiet_ray_data() -> None:
    """Ray Data's progress bars and execution log lines off: the CLI draws its own progress."""
    from ray.data import DataContext

    ctx = DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    ctx.raise_original_map_exception = True  # an actor's I2IError (a model it cannot load) as itself
    ctx.execution_options.preserve_order = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)


def _remove_stale_parts(folders: list[str]) -> None:
    from ..files import remove_stale_parts

    for folder in folders:
        remove_stale_parts(folder)
