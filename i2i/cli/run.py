"""`translate`, `upscale`, `stylize`, `colorize`: the engine with a model and an adapter."""
from __future__ import annotations

import json
import sys
import time
from typing import Annotated, Optional

import typer

from . import app
from .options import (Backend, BatchSize, Device, Ext, Inputs, JsonOut, MaxPixels, Output, Overwrite,
                      Precision, QualityOpt, Quiet, SkipExisting, Suffix, Tile, TileOverlap)


def _split_output(inputs: list[str], output: str | None) -> tuple[list[str], str]:
    if output is not None:
        return inputs, output
    if len(inputs) < 2:
        raise typer.BadParameter("name an output: -o OUT (a folder, a file, or - for stdout)")
    return inputs[:-1], inputs[-1]


def run_job(model_path, make_adapter, inputs, output, *, ext, suffix, quality, overwrite,
            skip_existing, device, batch_size, precision, tile, tile_overlap, quiet, as_json,
            max_pixels, backend="auto") -> None:
    """Shared body of every inference command; exits 1 if any input failed."""
    from ..checkpoint import load_model
    from ..engine.engine import Engine
    from ..engine.inputs import OutputOptions, expand_inputs
    from ..engine.shard import shard, total_failures, world
    from .render import err, job_progress

    inputs, out = _split_output(inputs, output)
    opts = OutputOptions(out=out, ext=ext, suffix=suffix, quality=quality, overwrite=overwrite,
                         skip_existing=skip_existing)
    jobs, notes, missing = expand_inputs(inputs)
    rank, size = world()
    if size > 1:
        jobs = shard(jobs, rank, size)
        missing = missing if rank == 0 else []
    if out == "-" and len(jobs) != 1:
        raise typer.BadParameter("-o - (stdout) takes exactly one input image")
    model = load_model(model_path)
    engine = Engine(model, make_adapter(model), device=device, batch_size=batch_size,
                    precision=precision, tile=tile, tile_overlap=tile_overlap, max_pixels=max_pixels,
                    backend=backend)
    quiet = quiet or as_json
    for note in notes:
        if not quiet:
            err.print(f"note: {note.source}: {note.reason}", highlight=False)
    if not jobs and not missing and not quiet and rank == 0:
        err.print(f"note: no images found in {' '.join(inputs)}", highlight=False)
    failures = len(missing)
    for m in missing:
        print(f"i2i: error: {m.source}: {m.reason}", file=sys.stderr)
    progress = job_progress(len(jobs), quiet)
    started, done = time.perf_counter(), 0
    task = progress.add_task("images", total=len(jobs), rate="") if progress else None
    if progress:
        progress.start()
    shown_notes = 0
    try:
        for r in engine.process(jobs, opts):
            done += 1
            notes = engine.runner.notes  # backend fallbacks and measurements, each said once
            for note in notes[shown_notes:]:
                if not quiet:
                    (progress.console if progress else err).print(f"note: {note}", highlight=False, markup=False)
            shown_notes = len(notes)
            if r.error:
                failures += 1
                (progress.console if progress else err).print(f"error: {r.error}", highlight=False, markup=False)
            if as_json:
                print(json.dumps({"input": r.input, "output": r.output, "size": r.out_size,
                                  "seconds": r.seconds, "error": r.error, "skipped": r.skipped,
                                  "backend": r.backend}),
                      flush=True)
            elif r.ok and r.output and r.output != "-" and not r.skipped:
                print(r.output, flush=True)
            if progress:
                rate = done / max(time.perf_counter() - started, 1e-9)
                progress.update(task, completed=done, rate=f"{rate:.2f} img/s")
    finally:
        if progress:
            progress.stop()
    failures = total_failures(failures)
    if failures:
        if not as_json and rank == 0:
            err.print(f"{failures} of {len(jobs) + len(missing)} input(s) failed", highlight=False)
        raise typer.Exit(1)




@app.command("translate")
def translate(
    inputs: Inputs, output: Output = None,
    model: Annotated[str, typer.Option("--model", "-m", help="Generator checkpoint (ours or a peer's).")] = "",
    ext: Ext = "auto", suffix: Suffix = "", quality: QualityOpt = 95, overwrite: Overwrite = False,
    skip_existing: SkipExisting = False, device: Device = "auto", batch_size: BatchSize = None,
    precision: Precision = "fp32", tile: Tile = None, tile_overlap: TileOverlap = None,
    quiet: Quiet = False, as_json: JsonOut = False, max_pixels: MaxPixels = 200_000_000,
    backend: Backend = "auto",
):
    """Run any generator checkpoint over images.

    Example: i2i translate --model weights/facades-label2photo.safetensors labels/ -o photos/
    """
    from ..engine.adapters import ColorizeAdapter, RGBAdapter
    from ..models import resolve

    if not model:
        raise typer.BadParameter("--model is required (a checkpoint file or a shipped model name)")

    def adapter(m):
        if m.task.out_space == "ab":
            return ColorizeAdapter(task=m.task, multiple=m.spec.size_multiple(m.config))
        return RGBAdapter(task=m.task, keep_gray=m.task.kind == "upscale")

    run_job(resolve(model), adapter, inputs, output, ext=ext, suffix=suffix, quality=quality,
            overwrite=overwrite, skip_existing=skip_existing, device=device, batch_size=batch_size,
            precision=precision, tile=tile, tile_overlap=tile_overlap, quiet=quiet, as_json=as_json,
            max_pixels=max_pixels, backend=backend)


@app.command("upscale")
def upscale(
    inputs: Inputs, output: Output = None,
    scale: Annotated[Optional[float], typer.Option(help="Any factor >= 1: the nearest model, then an exact resize (default: 4, or the --model's own).", min=1.0)] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="Model name (upscale-x2, upscale-x4, upscale-x4-gan) or file.")] = "",
    ext: Ext = "auto", suffix: Suffix = "", quality: QualityOpt = 95, overwrite: Overwrite = False,
    skip_existing: SkipExisting = False, device: Device = "auto", batch_size: BatchSize = None,
    precision: Precision = "fp32", tile: Tile = None, tile_overlap: TileOverlap = None,
    quiet: Quiet = False, as_json: JsonOut = False, max_pixels: MaxPixels = 200_000_000,
    backend: Backend = "auto",
):
    """Upscale images with a super-resolution model (x4 by default).

    Example: i2i upscale photos/ -o big/ --scale 3
    """
    from ..engine.adapters import RGBAdapter
    from ..models import resolve, shipped

    path = resolve(model, prefix="upscale-") if model else resolve(_nearest_sr(scale or 4, shipped()))
    run_job(path, lambda m: RGBAdapter(task=m.task, keep_gray=True, out_scale=scale), inputs, output,
            ext=ext, suffix=suffix, quality=quality, overwrite=overwrite,
            skip_existing=skip_existing, device=device, batch_size=batch_size, precision=precision,
            tile=tile, tile_overlap=tile_overlap, quiet=quiet, as_json=as_json, max_pixels=max_pixels, backend=backend)


def _nearest_sr(scale: float, models: dict) -> str:
    """The smallest shipped PSNR model whose factor reaches `scale`, else the largest."""
    from ..errors import CheckpointError

    factors = sorted(int(n.removeprefix("upscale-x")) for n in models
                     if n.startswith("upscale-x") and n.removeprefix("upscale-x").isdigit())
    if not factors:
        raise CheckpointError("no upscale model is shipped in weights/ yet; pass --model FILE")
    chosen = next((f for f in factors if f >= scale), factors[-1])
    return f"upscale-x{chosen}"


@app.command("stylize")
def stylize(
    inputs: Annotated[Optional[list[str]], typer.Argument(help="Images, folders, globs or -; without -o the last is the output.")] = None,
    output: Output = None,
    style: Annotated[str, typer.Option(help="Shipped style name (see --list) or a checkpoint file.")] = "starry-night",
    strength: Annotated[float, typer.Option(help="0..1: blend of the stylized image with the input.", min=0.0, max=1.0)] = 1.0,
    preserve_color: Annotated[bool, typer.Option("--preserve-color", help="Keep the input's colours; transfer luminance only.")] = False,
    list_styles: Annotated[bool, typer.Option("--list", help="List shipped styles and exit.")] = False,
    ext: Ext = "auto", suffix: Suffix = "", quality: QualityOpt = 95, overwrite: Overwrite = False,
    skip_existing: SkipExisting = False, device: Device = "auto", batch_size: BatchSize = None,
    precision: Precision = "fp32", tile: Tile = None, tile_overlap: TileOverlap = None,
    quiet: Quiet = False, as_json: JsonOut = False, max_pixels: MaxPixels = 200_000_000,
    backend: Backend = "auto",
):
    """Restyle images as a painting.

    Example: i2i stylize --style great-wave photos/ -o styled/ --strength 0.8
    """
    from ..engine.adapters import RGBAdapter
    from ..models import resolve, shipped

    if list_styles:
        from ..checkpoint import read_info

        for name, path in shipped().items():
            if name.startswith("style-"):
                meta = read_info(path)
                print(f"{name.removeprefix('style-'):16} {meta.description}")
        return
    if not inputs:
        raise typer.BadParameter("give input images (or --list)")
    run_job(resolve(style, prefix="style-"),
            lambda m: RGBAdapter(task=m.task, strength=strength, preserve_color=preserve_color),
            inputs, output, ext=ext, suffix=suffix, quality=quality, overwrite=overwrite,
            skip_existing=skip_existing, device=device, batch_size=batch_size, precision=precision,
            tile=tile, tile_overlap=tile_overlap, quiet=quiet, as_json=as_json, max_pixels=max_pixels, backend=backend)


@app.command("colorize")
def colorize(
    inputs: Inputs, output: Output = None,
    model: Annotated[str, typer.Option("--model", "-m", help="Colorization model name or file.")] = "colorize",
    render_size: Annotated[int, typer.Option(help="Short side at which chroma is predicted.", min=32)] = 256,
    saturation: Annotated[float, typer.Option(help="Multiplier on the predicted colour.", min=0.0)] = 1.0,
    ext: Ext = "auto", suffix: Suffix = "", quality: QualityOpt = 95, overwrite: Overwrite = False,
    skip_existing: SkipExisting = False, device: Device = "auto", batch_size: BatchSize = None,
    precision: Precision = "fp32", quiet: Quiet = False, as_json: JsonOut = False,
    max_pixels: MaxPixels = 200_000_000, backend: Backend = "auto",
):
    """Colorize grayscale photos (colour inputs are reduced to lightness first).

    Example: i2i colorize old_photos/ -o coloured/ --saturation 1.2
    """
    from ..engine.adapters import ColorizeAdapter
    from ..models import resolve

    run_job(resolve(model),
            lambda m: ColorizeAdapter(task=m.task, render_size=render_size, saturation=saturation,
                                      multiple=m.spec.size_multiple(m.config)),
            inputs, output, ext=ext, suffix=suffix, quality=quality, overwrite=overwrite,
            skip_existing=skip_existing, device=device, batch_size=batch_size, precision=precision,
            tile=0, tile_overlap=None, quiet=quiet, as_json=as_json, max_pixels=max_pixels, backend=backend)
