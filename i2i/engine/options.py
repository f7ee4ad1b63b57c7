"""The options of an inference job, declared once: type, default and help (no torch, no numpy).

Three typed objects describe how a job runs, whoever starts it (the command line, the web page,
Python): OutputOptions (where and how outputs are written), EngineOptions (the Engine's device,
batching, tiling, precision, backend and limits) and RayOptions (the job on a Ray cluster). A
field's metadata carries the command line's help and spelling, and `i2i upscale` & co. build
their job options from these fields (cli/options.py dataclass_parameters), so a default or a
help line is changed here and nowhere else. Metadata keys, as in training/options.py:

    help     the command line's help text
    cli      False: a library-only field, not on the command line
    flag     the command-line spelling when it is not --field-name
    metavar  how --help shows the value (default: from the type and range)
    min/max  the range the command line accepts
"""

import math
import os
from dataclasses import MISSING, dataclass, field, fields
from typing import TYPE_CHECKING

from ..errors import UsageError

if TYPE_CHECKING:
    from ..data.video_io import EncoderSettings


def option(default=MISSING, help: str = "", *, default_factory=MISSING, **cli):
    """A dataclass field with its help text and command-line spelling (see the module doc); the
    one definition for every options dataclass (training/options.py uses it too)."""
    return field(default=default, default_factory=default_factory, metadata={"help": help, **cli})


@dataclass(frozen=True, kw_only=True)
class OutputOptions:
    """Where a job's outputs go and how they are encoded. Raises UsageError for an unknown
    extension, a suffix with a path separator, or overwrite with skip_existing."""

    out: str = option(cli=False)
    """Output folder, a single output file, or '-' for stdout."""
    ext: str = option(
        "auto", "Output format: auto (keep the input's), png, jpg, webp, avif, tif, bmp, ...", metavar="EXT"
    )
    """auto (keep the input's format), or an extension of FORMAT_BY_EXT."""
    suffix: str = option("", "Appended to each output file's stem.")
    """Appended to each output stem."""
    quality: int = option(95, "JPEG/WebP quality.", flag="--quality", min=1, max=100)
    """JPEG/WebP/AVIF quality."""
    overwrite: bool = option(
        False,
        "Replace existing outputs (without it an input whose output exists is skipped with a note, also when another job writes it meanwhile).",
        flag="--overwrite",
    )
    skip_existing: bool = option(False, cli=False)
    """An existing output is a skipped input (Result.skipped "exists"), not an error. (The
    command line's --skip-existing only silences the note: it always sets this unless --overwrite.)"""

    def __post_init__(self):
        from ..data.image_io import FORMAT_BY_EXT

        if self.ext != "auto" and self.ext not in FORMAT_BY_EXT:
            raise UsageError(f"--ext must be auto or one of {', '.join(FORMAT_BY_EXT)}, not {self.ext!r}")
        if self.overwrite and self.skip_existing:
            raise UsageError("--overwrite and --skip-existing contradict each other")
        if os.sep in self.suffix or (os.altsep and os.altsep in self.suffix):
            raise UsageError(f"--suffix {self.suffix!r} must not contain a path separator")


PRECISION_HELP = (
    "auto (on the CPU: bf16 or int8 where this CPU runs it natively, the output stays within the task's "
    "tolerance of fp32 and it is measurably faster, else fp32; measured once per model and remembered); fp32; "
    "bf16 (CUDA, or a CPU with native bf16, through OpenVINO); int8 (CPU, the model quantised after training, "
    "through ONNX Runtime or OpenVINO); fp16 (CUDA). A forced bf16 or int8 still falls back to fp32, with a "
    "note, where the output would leave the tolerance."
)


@dataclass(frozen=True, kw_only=True)
class RayOptions:
    """Where and how wide a job runs on Ray (engine/ray_job.py). Raises UsageError for fewer
    than one actor, or a CPU or GPU share that is not a finite number in range."""

    address: str = option(
        "auto",
        "Run the job on Ray Data: a running cluster's address (HOST:PORT, ray://HOST:PORT), auto (the cluster this machine belongs to, else a new one here) or local (a new one on this machine). Files and folders only; needs pip install 'i2i[ray]'.",
        flag="--ray",
        metavar="ADDRESS|auto|local",
    )
    """A running cluster's address (HOST:PORT, ray://HOST:PORT), `auto` (the cluster this machine
    belongs to: RAY_ADDRESS or one started by `ray start`, else a new one here), or `local` (a new
    one on this machine). Ignored when ray.init() was already called in this process. (On the
    command line, no --ray means no Ray.)"""
    actors: int = option(1, "With --ray: actors in the pool, each holding the model once.", flag="--ray-actors", min=1)
    """Actors in the pool, each holding one Engine (one model in memory)."""
    cpus: float | None = option(
        None,
        "With --ray: CPUs each actor reserves, and its network's threads (default: 1, this machine's cores shared between the actors for threads).",
        flag="--ray-cpus",
        min=0.01,
    )
    """CPUs each actor reserves, and its network's threads (None: 1 CPU reserved, or less where
    the cluster is too small to leave room for the read tasks; threads: this machine's cores
    shared between the actors)."""
    gpus: float = option(
        0.0, "With --ray: GPUs each actor reserves (0.5: two actors share one).", flag="--ray-gpus", min=0
    )
    """GPUs each actor reserves (0 on a CPU cluster; 1 for one GPU each, 0.5 for two actors on one)."""

    def __post_init__(self):
        if self.actors < 1:
            raise UsageError(f"--ray-actors must be at least 1, not {self.actors}")
        if self.cpus is not None and not (self.cpus > 0 and math.isfinite(self.cpus)):
            raise UsageError(f"--ray-cpus must be a positive number, not {self.cpus}")
        if not (self.gpus >= 0 and math.isfinite(self.gpus)):
            raise UsageError(f"--ray-gpus must be 0 or more, not {self.gpus}")


@dataclass(frozen=True, kw_only=True)
class EngineOptions:
    """How a command's engine runs: Engine's keyword arguments (engine/engine.py), with the
    command line's defaults (precision auto; Engine's own is fp32), and where: here, or on a Ray
    cluster (ray). Frozen and hashable: the web page keeps engines by their options."""

    device: str = option("auto", "auto, cpu, cuda, cuda:N or mps (auto = CUDA when present).", metavar="DEVICE")
    batch_size: int | None = option(None, "Batch size (default: the method's).", min=1)
    """Same-size images per network call (None: 8 on CUDA, else 4)."""
    precision: str = option("auto", PRECISION_HELP, metavar="auto|fp32|bf16|int8|fp16")
    tile: int | None = option(
        None,
        "Largest tile side in input pixels; tiles shrink evenly to share the image (0 = never tile; "
        "default: 512, automatic above 1024x1024, or smaller and sooner for a network whose memory "
        "would pass 3 GiB).",
        min=0,
    )
    tile_overlap: int | None = option(
        None, "Overlap between tiles in input pixels (default: twice the network's reach, at least 32).", min=0
    )
    max_pixels: int = option(
        200_000_000, "Refuse input images with more pixels than this (decompression bombs).", min=1
    )
    """As data.image_io.DEFAULT_MAX_PIXELS (tests/test_options.py holds them equal)."""
    max_output_pixels: int = option(
        1_000_000_000,
        "Refuse inputs whose output (or the network's) would have more pixels than this; checked before any work.",
        min=1,
    )
    """As data.image_io.DEFAULT_MAX_OUTPUT_PIXELS."""
    backend: str = option(
        "auto",
        "What runs the network: auto (the fastest accurate one on this machine, measured once and remembered), torch, onnxruntime or openvino.",
        metavar="auto|torch|onnxruntime|openvino",
    )
    ray: RayOptions | None = option(None, cli=False)
    """Run the job on a Ray cluster (None: in this process)."""

    def engine_kwargs(self) -> dict:
        """The Engine's keyword arguments (every field but ray)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "ray"}


@dataclass(frozen=True, kw_only=True)
class TemporalOptions:
    """How clips are kept consistent in time (typed options of the inference commands)."""

    norm_window: int = 16
    """Frames over which instance-norm statistics are pooled (exponential average, reset at cuts);
    1 = each frame its own statistics."""
    smoothing: float = 0.8
    """0..1: weight of the motion-compensated previous output in each output; 0 = off."""
    cut_threshold: float = 0.4
    """Fraction of a frame that motion must leave unexplained to count as a shot cut."""

    def __post_init__(self):
        if self.norm_window < 1:
            raise UsageError(f"--norm-window must be >= 1 frame, not {self.norm_window}")
        if not 0 <= self.smoothing < 1:
            raise UsageError(f"--smoothing must be in [0, 1), not {self.smoothing}")
        if not 0 < self.cut_threshold <= 1:
            raise UsageError(f"--cut-threshold must be in (0, 1], not {self.cut_threshold}")


def _default_encoder():
    from ..data.video_io import EncoderSettings

    return EncoderSettings()


@dataclass(frozen=True, kw_only=True)
class VideoOptions:
    """Options of the inference commands that only clips use."""

    encoder: "EncoderSettings" = field(default_factory=_default_encoder)
    """How clips are encoded (data/video_io.py; imported on first use, with PyAV)."""
    temporal: TemporalOptions = field(default_factory=TemporalOptions)
    consistent: bool = True
    """False: every frame on its own (--no-temporal), as a folder of images would be."""
