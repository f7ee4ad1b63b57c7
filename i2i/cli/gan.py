"""`i2i generate`, `i2i invert`, `i2i dissect`: thin commands over i2i.gan."""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Annotated

import typer

from ..engine.options import EngineOptions
from ..gan.options import InversionOptions
from . import app
from .options import Device, JsonOut, Overwrite, Quiet, SkipExisting, dataclass_options
from .output import Results, error, job_progress, note, note_kept, result, say

_DEFAULTS = EngineOptions()  # --device: the inference commands' default
GenModel = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        metavar="NAME|FILE",
        help="Latent generator: a shipped name (dcgan-landscapes) or a checkpoint file.",
    ),
]
Ablate = Annotated[
    list[str] | None,
    typer.Option(
        metavar="LAYER:UNITS", help="LAYER:UNIT[,UNIT...]: switch these units off (repeatable; see i2i dissect)."
    ),
]
Boost = Annotated[
    list[str] | None,
    typer.Option(
        metavar="LAYER:UNITS[=VALUE]",
        help="LAYER:UNIT[,UNIT...][=VALUE]: hold these units on, at VALUE or their 99th-percentile activation (repeatable).",
    ),
]


def _edits(ablate, boost):
    from ..gan.generator import parse_edit

    return [parse_edit(t, boost=False) for t in ablate or ()] + [parse_edit(t, boost=True) for t in boost or ()]


Count = Annotated[
    int, typer.Option("-n", help="Number of images (with --arithmetic: the result and n-1 neighbours).", min=1)
]
GenOutput = Annotated[
    Path,
    typer.Option(
        "--output",
        "-o",
        metavar="DIR|FILE.png",
        help="Output folder (0000.png ... + latents.safetensors), or with --grid an image file "
        "(X.png, and its latents in X.latents.safetensors beside it).",
    ),
]
GenSeed = Annotated[
    int,
    typer.Option(
        metavar="N",
        help="Seeds the latents drawn: image i of a seed is the same whatever -n (also the neighbours of --arithmetic).",
    ),
]
Grid = Annotated[
    bool,
    typer.Option(
        "--grid",
        help="Write one grid image to -o X.png instead of one file per image (its latents: X.latents.safetensors).",
    ),
]
Truncation = Annotated[
    float | None, typer.Option(help="Redraw latent entries beyond +-T (less varied, more typical images).")
]
Interpolate = Annotated[
    tuple[str, str] | None,
    typer.Option(
        metavar="A B", help="Walk from A to B (seeds, or latent files FILE or FILE[i]) by spherical interpolation."
    ),
]
WalkSteps = Annotated[int, typer.Option(help="Images along an --interpolate walk.", min=2)]
Arithmetic = Annotated[
    str | None,
    typer.Option(
        metavar="EXPR",
        help='Vector arithmetic over latents: "A - B + C", each a latent file (its mean), FILE[i,j,k] or seed:N.',
    ),
]
Latents = Annotated[
    list[Path] | None,
    typer.Option(metavar="FILE", help="Generate from these latent files (from generate or invert; repeatable)."),
]


@app.command("generate")
def generate(
    model: GenModel = "dcgan-landscapes",
    n: Count = 16,
    output: GenOutput = Path("generated"),
    seed: GenSeed = 0,
    grid: Grid = False,
    truncation: Truncation = None,
    interpolate: Interpolate = None,
    steps: WalkSteps = 8,
    arithmetic: Arithmetic = None,
    latent: Latents = None,
    ablate: Ablate = None,
    boost: Boost = None,
    device: Device = _DEFAULTS.device,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing outputs.")] = False,
):
    """Generate images from a latent generator: samples, interpolations, latent arithmetic,
    and edits that switch units off or on (with --grid: a before/after grid).

    Example: i2i generate -n 64 --grid -o samples.png --seed 3
    """
    from ..gan import api

    z_source = api.LatentSource(
        n=n,
        seed=seed,
        truncation=truncation,
        interpolate=interpolate,
        steps=steps,
        arithmetic=arithmetic,
        latents=tuple(latent or ()),
    )
    written = api.generate(
        model, z_source, output, grid=grid, edits=_edits(ablate, boost), device=device, overwrite=overwrite
    )
    for path in written:
        result(str(path))


InvertInputs = Annotated[
    list[str],
    typer.Argument(
        metavar="INPUT",
        help="Still images (any size: the centred square is resized to the model's), folders (recursive), "
        "globs, or - for stdin, as for every command (see `i2i upscale --help`); video files are left out.",
    ),
]
InvertOutput = Annotated[
    Path,
    typer.Option(
        "--output",
        "-o",
        metavar="DIR",
        help="Output folder: NAME.png (reconstruction) and NAME.latent.safetensors per image (sub-folders "
        "mirrored), or X.png for one input (its latent: X.latent.safetensors).",
    ),
]
Encoder = Annotated[
    str | None,
    typer.Option(
        metavar="NAME|FILE|none",
        help="Latent encoder whose guess is one of the starts (i2i train dcgan-encoder); 'none' for random starts only. Default: the shipped MODEL-encoder when there is one.",
    ),
]
# --help lists invert's options in this order (--device among the search's own).
INVERT_ORDER = (
    "model", "output", "encoder", "starts", "steps", "lr", "perceptual", "seed", "device", "threads",
    "as_json", "quiet", "overwrite", "skip_existing",
)  # fmt: skip


@app.command("invert")
@dataclass_options("options", InversionOptions, order=INVERT_ORDER)
def invert(
    inputs: InvertInputs,
    model: GenModel = "dcgan-landscapes",
    output: InvertOutput = Path("inverted"),
    encoder: Encoder = None,
    device: Device = _DEFAULTS.device,
    as_json: JsonOut = False,
    quiet: Quiet = False,
    overwrite: Overwrite = False,
    skip_existing: SkipExisting = False,
    options: InversionOptions = None,
):
    """Find a latent z' for each real image (GAN inversion) so that G(z') reproduces it; then
    `i2i generate --latent OUT/NAME.latent.safetensors` generates or edits from it.

    Example: i2i invert photos/ -o inverted/ --json
    """
    from ..errors import UsageError
    from ..gan import api

    if overwrite and skip_existing:
        raise UsageError("--overwrite and --skip-existing contradict each other")
    plan = api.plan_inversion(inputs, output)
    quiet = quiet or as_json
    for skipped in plan.notes:
        if not quiet:
            note(f"{skipped.source}: {skipped.reason}")
    if not (plan.jobs or plan.failed) and not quiet:
        note(f"no images found in {' '.join(inputs)}")
    run = functools.partial(api.invert, model, plan, options, encoder=encoder, device=device, overwrite=overwrite)
    if _show_inversions(run, len(plan.jobs) + len(plan.failed), quiet, as_json, skip_existing):
        raise typer.Exit(1)


def _show_inversions(run, images: int, quiet: bool, as_json: bool, skip_existing: bool) -> bool:
    """Run the inversions (run(on_step=...) -> results), showing each; -> whether any failed or
    result lines were lost."""
    stdout, failures = Results(), 0
    with _InversionProgress(images, quiet) as shown:
        for r in run(on_step=shown.step):
            failures += bool(r.error)
            shown.report(r, skip_existing)
            if as_json:
                stdout.json(r.to_dict())
            elif r.output and not (r.error or r.skipped):
                stdout.print(r.output)
    if stdout.lost:
        error(f"stdout was closed early ({stdout.lost}); result lines were lost")
    return bool(failures or stdout.lost)


class _InversionProgress:
    """Inputs done and the current image's Adam steps (a bar on a terminal, plain lines in a log),
    notes for skipped inputs, errors, and each image's PSNR."""

    def __init__(self, images: int, quiet: bool):
        self.quiet, self.images = quiet, images
        self.progress = job_progress(images, quiet)
        self.done, self.job, self.started = 0, None, 0.0

    def __enter__(self):
        if self.progress:
            self.progress.start()
            self.image_task = self.progress.add_task("images", total=self.images, rate="")
            self.step_task = self.progress.add_task("steps", total=None, rate="")
        return self

    def __exit__(self, *exc):
        if self.progress:
            self.progress.stop()

    def step(self, job, step: int, steps: int) -> None:
        if self.progress is None:
            return
        if job is not self.job:
            self.job, self.started = job, time.perf_counter()
            self.progress.reset(self.step_task, total=steps, rate="")
        rate = step / max(time.perf_counter() - self.started, 1e-9)
        self.progress.update(self.step_task, completed=step, rate=f"{rate:.1f} steps/s")

    def report(self, r, skip_existing: bool) -> None:
        if r.error:
            error(r.error, self.progress)
        elif r.skipped and not (self.quiet or skip_existing):
            note_kept(r, self.progress)
        elif not r.skipped and not self.quiet:
            threads = f", {r.threads} thread{'s' if r.threads != 1 else ''}" if r.threads else ""
            say(f"{r.input}: {r.psnr:.2f} dB (start: {r.start}, {r.seconds:.1f} s{threads})", self.progress)
        if self.progress:
            self.done += 1
            self.progress.update(self.image_task, completed=self.done)


Layer = Annotated[
    str,
    typer.Option(
        metavar="LAYER",
        help="Generator layer: layer1 (4x4 maps), layer2 (8x8), ... doubling up to half the image size; "
        "dcgan-landscapes (64 px) has layer1 to layer4 (4x4 to 32x32). A wrong name lists the model's.",
    ),
]
Concepts = Annotated[
    list[str] | None,
    typer.Option(
        metavar="NAME|NAME=MASK_DIR",
        help="sky, vegetation, bright, dark (colour rules), or NAME=MASK_DIR: masks 0000.png... for the images `i2i generate -n N --seed S` makes (repeatable; default: the four colour concepts).",
    ),
]
ReportDir = Annotated[
    Path, typer.Option("--output", "-o", metavar="DIR", help="Report folder: report.md, report.json, heat maps.")
]
Scored = Annotated[int, typer.Option("-n", help="Generated images the units are scored on.", min=1)]
ScoredSeed = Annotated[
    int,
    typer.Option(
        metavar="N",
        help="Seeds the latents of the images the units are scored on (the images `i2i generate -n N --seed S` makes).",
    ),
]
Quantile = Annotated[
    float, typer.Option(help="A unit is 'on' above this quantile of its activations.", min=0.0, max=1.0)
]
Top = Annotated[int, typer.Option(help="Units per concept shown with heat maps.", min=1)]
AblateTop = Annotated[
    int, typer.Option(help="Also draw each concept's before/after with its top K units off (0: no).", min=0)
]


@app.command("dissect")
def dissect(
    layer: Layer,
    model: GenModel = "dcgan-landscapes",
    concept: Concepts = None,
    output: ReportDir = Path("dissection"),
    n: Scored = 200,
    seed: ScoredSeed = 0,
    quantile: Quantile = 0.9,
    top: Top = 5,
    ablate_top: AblateTop = 8,
    device: Device = _DEFAULTS.device,
):
    """Find generator units whose maps match a concept (GAN dissection, Bau et al. 2019),
    ranked by IoU, with heat maps and a before/after ablation grid per concept.

    Example: i2i dissect --layer layer2 --concept sky -o report/
    """
    from ..gan import api

    report = api.dissect(
        model,
        layer,
        concept or ["sky", "vegetation", "bright", "dark"],
        output,
        n=n,
        seed=seed,
        quantile=quantile,
        top=top,
        ablate_top=ablate_top,
        device=device,
    )
    result(str(report))
