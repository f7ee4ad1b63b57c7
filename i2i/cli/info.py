"""`i2i info` and `i2i convert`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from . import app
from .output import result


def summary(path: Path, meta) -> dict:
    """What `i2i info` prints: metadata, channels as the network sees them, licence, and the
    version of the i2i that read it."""
    from .. import __version__

    task = meta.task
    data = {
        "file": str(path),
        "version": __version__,
        "name": meta.name,
        "description": meta.description,
        "arch": meta.arch,
        "options": meta.options,
        "task": task.to_dict(),
        "channels": {"in": f"{task.in_channels} ({task.in_space})", "out": f"{task.out_channels} ({task.out_space})"},
    }
    if meta.arch == "spandrel":
        from ..archs.spandrel_models import licence

        data["licence"] = licence(meta.options["arch"])
    data["training"] = meta.training
    return data


@app.command("info")
def info(
    checkpoint: Annotated[
        str,
        typer.Argument(
            metavar="NAME|FILE",
            help="A model name (see `i2i models`) or checkpoint file: ours, a peer's .pth, or any model spandrel recognises.",
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the metadata as JSON.")] = False,
):
    """Show what a checkpoint is: architecture, options, task, channels, training command and metrics.

    Example: i2i info weights/upscale-x4.safetensors ; i2i info RealESRGAN_x4plus.pth
    """
    from ..checkpoint import model_info
    from ..models import resolve

    path = resolve(checkpoint)
    data = summary(path, model_info(path, check_tensors=False))  # no torch to import: loading checks the tensors
    data["backends"] = _backends(path)
    if as_json:
        result(json.dumps(data, indent=2))
        return
    for key, value in data.items():
        if key == "backends":
            _print_backends(value)
        elif isinstance(value, dict):
            result(f"{key}:")
            for k, v in value.items():
                result(f"  {k}: {_shown(v)}")
        elif key == "version":
            result(f"version: i2i {value}")
        else:
            result(f"{key}: {value}")


LONGEST_LIST = 16  # numbers a text line shows; --json shows all (a colorizer's ab_prior has ~220)


def _shown(value) -> str:
    """A metadata value on one line: a long list of numbers as its length and range."""
    if isinstance(value, list) and len(value) > LONGEST_LIST and all(isinstance(x, (int, float)) for x in value):
        return f"{len(value)} numbers, {min(value):g} to {max(value):g} (--json shows them)"
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def _backends(checkpoint: Path) -> dict:
    """Installed runtimes, and what the engine measured and ran for this file on this machine."""
    from ..engine.cache import file_sha256, installed_versions, native_precisions, remembered

    return {
        "installed": installed_versions(),
        "precisions": native_precisions(),
        "ran": remembered(file_sha256(checkpoint)),
    }


def _print_backends(backends: dict) -> None:
    result("backends: " + ", ".join(f"{k} {v}" for k, v in backends["installed"].items()))
    result("precisions on this CPU: " + ", ".join(backends["precisions"]))
    if not backends["ran"]:
        result("  not run on this machine yet (the first run measures and remembers the fastest)")
    for r in backends["ran"]:
        times = ", ".join(f"{name} {s:.3f} s" for name, s in sorted(r["seconds"].items(), key=lambda kv: kv[1]))
        # A model of an architecture already timed (a per-photo blend) reuses those speeds.
        of = f" with {r['speeds_of']}, of the same architecture" if r.get("speeds_of") else ""
        result(
            f"  {r['size_class']} inputs, --backend/--precision {r['request']}, {r['threads']} threads: "
            f"ran {r['chosen']} (on a {r['crop'][1]}x{r['crop'][0]} crop{of}: {times})"
        )
        for name, problem in sorted(r.get("refused", {}).items()):
            result(f"    {name} refused: {problem}")


@app.command("convert")
def convert(
    src: Annotated[Path, typer.Argument(metavar="SRC", help="Peer checkpoint (.pth/.pt/.ckpt/.safetensors).")],
    dst: Annotated[Path, typer.Argument(metavar="DST", help="Output .safetensors file.")],
    half: Annotated[bool, typer.Option("--half", help="Store weights as fp16.")] = False,
):
    """Convert a peer's checkpoint (pix2pix/CycleGAN, fast_neural_style, BasicSR, or any model
    spandrel recognises: ESRGAN, Real-ESRGAN, SwinIR, HAT, ...) to ours; it then loads without
    detection.

    Example: i2i convert RealESRGAN_x4plus.pth RealESRGAN_x4plus.safetensors
    """
    from ..checkpoint import convert as convert_checkpoint
    from ..errors import UsageError

    if dst.suffix.lower() != ".safetensors":
        raise UsageError(f"{dst}: the output must be a .safetensors file")
    meta = convert_checkpoint(src, dst, half=half)
    result(f"{dst}: {meta.arch} {json.dumps(meta.options)}")
