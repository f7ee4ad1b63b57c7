"""Typed option aliases shared by several commands."""

from __future__ import annotations

import functools
import inspect
import types
import typing
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperArgument, TyperCommand

Device = Annotated[
    str, typer.Option(metavar="DEVICE", help="auto, cpu, cuda, cuda:N or mps (auto = CUDA when present).")
]
BatchSize = Annotated[int | None, typer.Option(help="Batch size (default: the method's).", min=1)]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")]
Inputs = Annotated[
    list[str],
    typer.Argument(
        metavar="INPUT",
        help="Image files, folders (recursive), globs, or - for stdin. Without -o the last one is the output. In folders and globs, images are the files whose extension the installed Pillow reads (png, jpg, webp, avif, tif, bmp, gif, ...); hidden files and folders are skipped; a file named here is always tried.",
    ),
]
Output = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        metavar="OUT",
        help="Output folder, a single file (a path with an image extension, for one input), or - for stdout.",
    ),
]
Ext = Annotated[
    str, typer.Option(metavar="EXT", help="Output format: auto (keep the input's), png, jpg, webp, avif, tif, bmp, ...")
]
Suffix = Annotated[str, typer.Option(help="Appended to each output file's stem.")]
QualityOpt = Annotated[int, typer.Option("--quality", help="JPEG/WebP quality.", min=1, max=100)]
Overwrite = Annotated[
    bool,
    typer.Option(
        "--overwrite",
        help="Replace existing outputs (without it an input whose output exists is skipped with a note, also when another job writes it meanwhile).",
    ),
]
SkipExisting = Annotated[
    bool,
    typer.Option(
        "--skip-existing",
        help="Skip inputs whose output exists without a note for each (they are skipped anyway unless --overwrite).",
    ),
]
Precision = Annotated[
    str,
    typer.Option(
        metavar="auto|fp32|bf16|int8|fp16",
        help="auto (on the CPU: bf16 or int8 where this CPU runs it natively, the output stays within the task's tolerance of fp32 and it is measurably faster, else fp32; measured once per model and remembered); fp32; bf16 (CUDA, or a CPU with native bf16, through OpenVINO); int8 (CPU, the model quantised after training, through ONNX Runtime or OpenVINO); fp16 (CUDA). A forced bf16 or int8 still falls back to fp32, with a note, where the output would leave the tolerance.",
    ),
]
Backend = Annotated[
    str,
    typer.Option(
        metavar="auto|torch|onnxruntime|openvino",
        help="What runs the network: auto (the fastest accurate one on this machine, measured once and remembered), torch, onnxruntime or openvino.",
    ),
]
Tile = Annotated[
    int | None,
    typer.Option(help="Tile side in input pixels (0 = never tile; default: automatic above 1024x1024).", min=0),
]
TileOverlap = Annotated[int | None, typer.Option(help="Overlap between tiles in input pixels.", min=0)]
JsonOut = Annotated[bool, typer.Option("--json", help="One JSON line per image on stdout.")]
MaxPixels = Annotated[
    int, typer.Option(help="Refuse input images with more pixels than this (decompression bombs).", min=1)
]
MaxOutputPixels = Annotated[
    int,
    typer.Option(
        help="Refuse inputs whose output (or the network's) would have more pixels than this; checked before any work.",
        min=1,
    ),
]
# A folder job on a Ray cluster (engine/ray_job.py; pip install 'i2i[ray]').
RayAddress = Annotated[
    str | None,
    typer.Option(
        "--ray",
        metavar="ADDRESS|auto|local",
        help="Run the job on Ray Data: a running cluster's address (HOST:PORT, ray://HOST:PORT), auto (the cluster this machine belongs to, else a new one here) or local (a new one on this machine). Files and folders only; needs pip install 'i2i[ray]'.",
    ),
]
RayActors = Annotated[int, typer.Option(help="With --ray: actors in the pool, each holding the model once.", min=1)]
RayCpus = Annotated[
    float | None,
    typer.Option(
        help="With --ray: CPUs each actor reserves, and its network's threads (default: 1, this machine's cores shared between the actors for threads).",
        min=0.01,
    ),
]
RayGpus = Annotated[
    float, typer.Option(help="With --ray: GPUs each actor reserves (0.5: two actors share one).", min=0)
]


def _job_parameters() -> list[inspect.Parameter]:
    """The options every inference command takes, in help order, with their defaults."""
    table = [
        ("ext", Ext, "auto"),
        ("suffix", Suffix, ""),
        ("quality", QualityOpt, 95),
        ("overwrite", Overwrite, False),
        ("skip_existing", SkipExisting, False),
        ("device", Device, "auto"),
        ("batch_size", BatchSize, None),
        ("precision", Precision, "auto"),
        ("tile", Tile, None),
        ("tile_overlap", TileOverlap, None),
        ("quiet", Quiet, False),
        ("as_json", JsonOut, False),
        ("max_pixels", MaxPixels, 200_000_000),
        ("max_output_pixels", MaxOutputPixels, 1_000_000_000),
        ("backend", Backend, "auto"),
        ("ray", RayAddress, None),
        ("ray_actors", RayActors, 1),
        ("ray_cpus", RayCpus, None),
        ("ray_gpus", RayGpus, 0.0),
    ]
    return [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d, annotation=a) for n, a, d in table]


UNTILED = ("tile", "tile_overlap")


def job_options(*, tiled: bool = True):
    """Decorator for an inference command: adds the options every one takes (--ext ... --backend,
    after its own) and hands them to the command as one dict, `job`, keyed by parameter name, for
    run_job. tiled=False leaves out --tile and --tile-overlap (a command that never tiles)."""

    def decorate(command):
        added = [p for p in _job_parameters() if tiled or p.name not in UNTILED]
        names = [p.name for p in added]

        @functools.wraps(command)
        def wrapper(*args, **kwargs):
            job = {name: kwargs.pop(name) for name in names}
            return command(*args, job=job, **kwargs)

        return grafted(wrapper, command, "job", added)

    return decorate


def grafted(wrapper, command, replaced: str, added: list[inspect.Parameter]):
    """`wrapper` (a decorator's wrapper of `command`) given command's signature and annotations,
    with its parameter `replaced` (which the wrapper fills in) swapped for `added` at the end, so
    that typer builds the command line from them."""
    signature = inspect.signature(command, eval_str=True)
    own = [p for name, p in signature.parameters.items() if name != replaced]
    wrapper.__signature__ = signature.replace(parameters=own + added)
    hints = typing.get_type_hints(command, include_extras=True)
    hints.pop(replaced, None)
    wrapper.__annotations__ = {**hints, **{p.name: p.annotation for p in added}}
    return wrapper


# ---- how --help shows values ----


def metavar_for(annotation, minimum=None, maximum=None) -> str | None:
    """How --help shows an option's value, never as a Python type: N (a whole number), NUMBER,
    TEXT, PATH, a range (0..1, 1..100), choices (bicubic|real), one word per value of a tuple
    (TEXT TEXT). None for a switch (bool), which takes no value."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return metavar_for(typing.get_args(annotation)[0], minimum, maximum)
    if origin in (typing.Union, types.UnionType):
        kinds = [a for a in typing.get_args(annotation) if a is not type(None)]
        return metavar_for(kinds[0], minimum, maximum) if len(kinds) == 1 else "VALUE"
    if origin is list or (origin is tuple and typing.get_args(annotation)[-1] is Ellipsis):
        return metavar_for(typing.get_args(annotation)[0], minimum, maximum)  # repeated: one value each time
    if origin is tuple:
        return " ".join(metavar_for(a) or "VALUE" for a in typing.get_args(annotation))
    if origin is typing.Literal:
        return "|".join(map(str, typing.get_args(annotation)))
    if annotation is bool:
        return None
    if annotation in (int, float) and minimum is not None and maximum is not None:
        return f"{minimum:g}..{maximum:g}"
    return {int: "N", float: "NUMBER", str: "TEXT", Path: "PATH"}.get(annotation, "VALUE")


class PlainHelpCommand(TyperCommand):
    """A command whose --help shows every value by a metavar: its own, else metavar_for's. Typer
    0.2x would show Python types (`--seed <int>`, and `INPUT <list[str]>` after a metavar)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.metavar is None:
                annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
                if annotation is not None:  # typer 0.2x; older versions show click's words (TEXT, INTEGER)
                    param.metavar = metavar_for(annotation, getattr(param, "min", None), getattr(param, "max", None))
            if isinstance(param, TyperArgument) and param.metavar:
                param.display_type_rich = lambda ctx: None  # the metavar names the value


def plain_help(app: typer.Typer) -> None:
    """Make every command of `app` (sub-apps included) a PlainHelpCommand: --help never shows a
    Python type name (tests/test_cli_surface.py walks every command's help)."""
    for info in app.registered_commands:
        if info.cls in (None, TyperCommand):
            info.cls = PlainHelpCommand
    for group in app.registered_groups:
        plain_help(group.typer_instance)
