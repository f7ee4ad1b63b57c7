"""`translate`, `upscale`, `stylize`, `colorize`: the engine with a model and an adapter."""

from __future__ import annotations

import math
from contextlib import closing
from typing import Annotated

import typer

from ..errors import UsageError
from . import app
from .clip_options import clip_options
from .options import Inputs, JobOptions, Output, job_options
from .output import JobDisplay, note, result


def _split_output(inputs: list[str], output: str | None) -> tuple[list[str], str]:
    if output is not None:
        return inputs, output
    if len(inputs) < 2:
        raise UsageError("name an output: -o OUT (a folder, a file, or - for stdout)")
    return inputs[:-1], inputs[-1]


def run_job(recipe, inputs: list[str], output: str | None, job: JobOptions, *, video=None, verbose=False) -> None:
    """Shared body of every inference command: plan the job, build the recipe's engine
    (engine/commands.py, as the web page does: here, or on Ray with job.engine.ray), run it and
    show the results (JobDisplay); exits 1 if any input failed. video: VideoOptions for clips;
    verbose: a note per input on a per-input model choice."""
    from ..engine.commands import build_engine
    from ..engine.jobs import plan_job

    inputs, out = _split_output(inputs, output)
    # Existing outputs are kept unless --overwrite: their inputs are skipped (with a note unless
    # --skip-existing asked for it), so a rerun does what is left and exits 0.
    opts = job.output_to(out)
    if job.output.overwrite and job.display.quiet_skips:
        raise UsageError("--overwrite and --skip-existing contradict each other")
    plan = plan_job(inputs, opts)
    engine = build_engine(recipe, job.engine)
    for message in recipe.notes:
        note(message)
    with JobDisplay(plan, job.display, verbose=verbose) as display:
        with closing(plan.run(engine, opts, video=video, on_frames=display.frames)) as results:
            for r in results:  # closed on a stop: the engine's pools drained
                display.show(r)
    if display.failed(plan):
        raise typer.Exit(1)


def _finite(value: float | None) -> float | None:
    """Reject nan and inf, which pass typer's min/max checks (every comparison with nan is False)."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"must be a finite number, not {value}")
    return value


def _auto_or_share(value: str | None) -> str | None:
    """--denoise, --portrait: auto, or a finite number within 0..1."""
    if value is None or value == "auto":
        return value
    try:
        number = float(value)
    except ValueError:
        raise typer.BadParameter(f"must be auto or a number within 0..1, not {value!r}") from None
    if not 0.0 <= number <= 1.0:  # also refuses nan
        raise typer.BadParameter(f"must be auto or a number within 0..1, not {value}")
    return value


@app.command("translate")
@clip_options()
@job_options()
def translate(
    inputs: Inputs,
    output: Output = None,
    *,
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            metavar="NAME|FILE",
            help="Required: model name (see `i2i models`) or checkpoint file (ours or a peer's).",
        ),
    ],
    video=None,
    job=None,
):
    """Run an image-to-image translation model (or a 1x restoration model) over images.

    Example: i2i translate --model weights/facades-label2photo.safetensors labels/ -o photos/
    """
    from ..engine.commands import TranslateOptions, recipe_for

    run_job(recipe_for(TranslateOptions(model=model)), inputs, output, job, video=video)


@app.command("upscale")
@clip_options(smoothing=0.0)
@job_options()
def upscale(
    inputs: Inputs,
    output: Output = None,
    scale: Annotated[
        float | None,
        typer.Option(
            help="Any factor from 1 to 16: the model's own, then an exact resize (default: 4, or the --model's own).",
            min=1.0,
            max=16.0,
            callback=_finite,
        ),
    ] = None,
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            metavar="NAME|FILE",
            help="Model name (any in `i2i models`) or file (ours, or ESRGAN, Real-ESRGAN, SwinIR, ... through spandrel). Default: a blend of the shipped x4 models chosen per photo (see --denoise); upscale-x4 / upscale-x2 for clean inputs (renders, lossless scans, benchmarks), upscale-x4-real for photos as they come (JPEG, noise, blur), upscale-x4-gan, the clean model's GAN stage.",
        ),
    ] = "",
    denoise: Annotated[
        str | None,
        typer.Option(
            metavar="auto|0..1",
            help="auto (the default without --model): each photo's JPEG quality (from its own quantisation tables) and noise level are estimated, and the clean model (upscale-x4) is blended with the real-world ones (upscale-x4-real-psnr, upscale-x4-real) as far as they call for; -v or --json say what was chosen. 0..1 with the real-world GAN model: 0 keeps its texture, 1 is its PSNR stage (cleanest, smoothest); in between blends the two networks.",
            callback=_auto_or_share,
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="A note per photo: what --denoise auto estimated and chose.")
    ] = False,
    video=None,
    job=None,
):
    """Upscale images with a super-resolution model (x4 by default), or run a 1x restoration model.

    Example: i2i upscale photos/ -o big/ --scale 3 ; i2i upscale --model RealESRGAN_x4plus.pth photo.jpg -o out.png
    """
    from ..engine.commands import UpscaleOptions, recipe_for

    recipe = recipe_for(UpscaleOptions(model=model, scale=scale, denoise=denoise))
    run_job(recipe, inputs, output, job, video=video, verbose=verbose)


def _list_styles(value: bool) -> None:
    """--list: the shipped styles, before the inputs are asked for."""
    if not value:
        return
    from ..checkpoint import model_info
    from ..models import shipped

    for name, path in shipped().items():
        if name.startswith("style-"):
            result(f"{name.removeprefix('style-'):16} {model_info(path, check_tensors=False).description}")
    raise typer.Exit()


@app.command("stylize")
@clip_options()
@job_options()
def stylize(
    inputs: Inputs,
    output: Output = None,
    style: Annotated[
        str, typer.Option(metavar="NAME|FILE", help="Style name (see --list, `i2i models`) or a checkpoint file.")
    ] = "starry-night",
    strength: Annotated[
        float,
        typer.Option(
            help="0..1: how much of the stylized image to blend over the input (0 = the input, 1 = fully stylized).",
            min=0.0,
            max=1.0,
            callback=_finite,
        ),
    ] = 1.0,
    preserve_color: Annotated[
        bool, typer.Option("--preserve-color", help="Keep the input's colours; transfer luminance only.")
    ] = False,
    list_styles: Annotated[
        bool,
        typer.Option("--list", help="List shipped styles and exit.", is_eager=True, callback=_list_styles),
    ] = False,
    video=None,
    job=None,
):
    """Restyle images as a painting.

    Example: i2i stylize --style great-wave photos/ -o styled/ --strength 0.8
    """
    from ..engine.commands import StylizeOptions, recipe_for

    recipe = recipe_for(StylizeOptions(style=style, strength=strength, preserve_color=preserve_color))
    run_job(recipe, inputs, output, job, video=video)


@app.command("colorize")
@clip_options()
@job_options(tiled=False)
def colorize(
    inputs: Inputs,
    output: Output = None,
    model: Annotated[
        str,
        typer.Option("--model", "-m", metavar="NAME|FILE", help="Colorization model name (see `i2i models`) or file."),
    ] = "colorize",
    render_size: Annotated[int, typer.Option(help="Short side at which chroma is predicted.", min=32, max=4096)] = 256,
    saturation: Annotated[
        float, typer.Option(help="Multiplier on the predicted colour.", min=0.0, max=10.0, callback=_finite)
    ] = 1.0,
    portrait: Annotated[
        str,
        typer.Option(
            metavar="auto|0..1",
            help="auto (the default): a colorizer that names a portrait model (the shipped one: colorize-portrait, right skin, warmer landscapes) is blended with it per photo, as far as the photo shows people (an ImageNet classifier's belief in what people wear); -v or --json say what was chosen. 0..1: the portrait model's share for every photo.",
            callback=_auto_or_share,
        ),
    ] = "auto",
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="A note per photo: its people score and the blend chosen.")
    ] = False,
    video=None,
    job=None,
):
    """Colorize grayscale photos (colour inputs are reduced to lightness first).

    Example: i2i colorize old_photos/ -o coloured/ --saturation 1.2
    """
    from ..engine.commands import ColorizeOptions, recipe_for

    options = ColorizeOptions(model=model, render_size=render_size, saturation=saturation, portrait=portrait)
    run_job(recipe_for(options), inputs, output, job, video=video, verbose=verbose)
