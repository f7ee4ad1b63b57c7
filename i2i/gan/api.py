"""Library entry points behind `i2i generate`, `i2i invert` and `i2i dissect`."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import ImageError, UsageError
from .generator import LatentGenerator, UnitEdit
from .latents import arithmetic, interpolate, latent_term, load_latents, neighbours, sample_latents, save_latents

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


@dataclass(frozen=True, kw_only=True)
class LatentSource:
    """Where `generate` takes its latents from: seeded samples (default), a walk between two
    latents, an arithmetic expression, or latent files. At most one of the last three."""

    n: int = 16
    seed: int = 0
    truncation: float | None = None
    interpolate: tuple[str, str] | None = None
    """Two seeds or latent terms (FILE, FILE[i]) to walk between."""
    steps: int = 8
    arithmetic: str | None = None
    latents: tuple[Path, ...] = ()

    def latents_for(self, z_dim: int) -> torch.Tensor:
        """(n, z_dim) latents."""
        chosen = [bool(self.interpolate), bool(self.arithmetic), bool(self.latents)]
        if sum(chosen) > 1:
            raise UsageError("use only one of --interpolate, --arithmetic and --latent")
        if self.interpolate:
            a, b = (_endpoint(t, z_dim) for t in self.interpolate)
            return interpolate(a, b, self.steps)
        if self.arithmetic:
            return neighbours(arithmetic(self.arithmetic, z_dim), self.n, self.seed)
        if self.latents:
            z = torch.cat([load_latents(p) for p in self.latents])
            if z.shape[1] != z_dim:
                raise UsageError(f"latents of length {z.shape[1]}, the model takes {z_dim}")
            return z
        return sample_latents(self.n, z_dim, self.seed, self.truncation)


def _endpoint(term: str, z_dim: int) -> torch.Tensor:
    return sample_latents(1, z_dim, int(term))[0] if term.isdigit() else latent_term(term, z_dim)


def generate(
    model: str,
    source: LatentSource,
    output,
    *,
    grid: bool = False,
    edits: list[UnitEdit] = (),
    device: str = "auto",
    overwrite: bool = False,
) -> list[Path]:
    """Write generated images (folder: 0000.png ... and latents.safetensors; --grid: one image
    and GRID.latents.safetensors). With edits, the edited images (grid: before/after rows)."""
    from .pictures import before_after, save_png, to_pil
    from .pictures import grid as make_grid

    output = Path(output)
    gen = LatentGenerator.load(model, device=device)
    z = source.latents_for(gen.z_dim)
    if grid and output.suffix.lower() not in IMAGE_SUFFIXES:
        raise UsageError(f"-o {output}: --grid writes one image; name a .png file")
    if not grid and output.suffix.lower() in IMAGE_SUFFIXES:
        raise UsageError(f"-o {output} names one image: add --grid, or give a folder")
    if grid:
        targets = [output, output.with_name(output.stem + ".latents.safetensors")]
    else:
        targets = [output / f"{i:04d}.png" for i in range(len(z))] + [output / "latents.safetensors"]
    _refuse_existing(targets, overwrite)
    images = gen(z)
    edited = None
    if edits:
        with gen.edited(list(edits)):
            edited = gen(z)
    if grid:
        walk = source.interpolate is not None
        picture = (
            before_after(images, edited, per_row=len(z) if walk else 8)
            if edited is not None
            else make_grid(images, nrow=len(z) if walk else None)
        )
        save_png(picture, targets[0])
    else:
        for image, path in zip(edited if edited is not None else images, targets):
            save_png(to_pil(image), path)
    save_latents(targets[-1], z, model=gen.name, seed=str(source.seed))
    return targets


def _refuse_existing(paths: list[Path], overwrite: bool) -> None:
    existing = [p for p in paths if p.exists()]
    if existing and not overwrite:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise UsageError(f"{existing[0]}{more}: exists (pass --overwrite to replace)")


@dataclass
class InvertResult:
    input: str
    output: str | None = None
    latent: str | None = None
    psnr: float | None = None
    start: str | None = None
    threads: int | None = None
    """CPU threads of its last steps (devices.StepThreads chooses them by default)."""
    seconds: float = 0.0
    error: str | None = None
    skipped: str | None = None
    """"exists": its outputs (or one of them) were there already, and are kept."""

    def to_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in vars(self).items()}


def load_encoder(name: str | None, model: str, gen: LatentGenerator):
    """The encoder module for `--encoder` (None: the shipped MODEL-encoder if any; 'none': no
    encoder). Raises UsageError when it does not fit the generator."""
    from ..checkpoint import load_model
    from ..models import resolve, shipped

    if name == "none":
        return None
    if name is None:
        name = f"{model}-encoder"
        if name not in shipped():
            return None
    enc = load_model(resolve(name))
    if enc.info.arch != "dcgan_encoder":
        raise UsageError(f"{enc.path}: a {enc.info.arch}, not a latent encoder (i2i train dcgan-encoder)")
    if enc.config.z_dim != gen.z_dim or enc.config.size != gen.size:
        raise UsageError(
            f"{enc.path}: encodes {enc.config.size} px images to {enc.config.z_dim}-d latents; "
            f"the generator makes {gen.size} px from {gen.z_dim}-d"
        )
    return enc.module


LATENT_SUFFIX = ".latent.safetensors"


@dataclass
class InversionPlan:
    """The images an inversion job will read and the files it will write, decided before any
    work by the engine's one rule for inputs (engine/inputs.py: files, folders, globs, '-')."""

    jobs: list
    """engine.inputs.Job, each with its reconstruction path as .output (OUT/REL.png)."""
    notes: list
    """engine.inputs.Skipped: files left out (hidden, not images, videos, this job's outputs)."""
    failed: list
    """engine.inputs.Skipped: inputs that are missing, unreadable, or whose outputs clash."""


def latent_path(image_path) -> Path:
    """Where the latent of reconstruction OUT/NAME.png goes: OUT/NAME.latent.safetensors."""
    image_path = Path(image_path)
    return image_path.with_name(image_path.stem + LATENT_SUFFIX)


def plan_inversion(inputs: list[str], output) -> InversionPlan:
    """Expand inputs as every inference command does and name each one's outputs: in a folder
    OUT, NAME.png and NAME.latent.safetensors (sub-folders mirrored), or, for one input, the
    file OUT itself when it is a .png. Video files are left out with a note (invert takes still
    images; an animation's first frame is inverted). UsageError: -o - (two files per image), or
    a single output file that is not a .png."""
    from ..data.media_types import is_video_path
    from ..engine.inputs import STDIO, OutputOptions, Skipped, expand_inputs, plan_outputs, single_file_target

    out = str(output)
    if out == STDIO:
        raise UsageError("-o -: invert writes two files per image (NAME.png and its latent); name a folder")
    jobs, notes, missing = expand_inputs([str(p) for p in inputs])
    notes = [Skipped(n.source, "skipped: a latent file") if n.source.endswith(LATENT_SUFFIX) else n for n in notes]
    videos = [j for j in jobs if j.source != STDIO and is_video_path(j.source)]
    notes += [Skipped(j.source, "skipped: a video (invert takes still images)") for j in videos]
    jobs = [j for j in jobs if j not in videos]
    made = {j.source: _inverted_from(j.source) for j in jobs if j.source != STDIO}
    notes += [Skipped(j, f"skipped: an output of an inversion (from {s})") for j, s in made.items() if s]
    jobs = [j for j in jobs if not made.get(j.source)]
    if single_file_target(out, len(jobs)) and Path(out).suffix.lower() != ".png":
        raise UsageError(f"-o {out}: invert writes PNG reconstructions; name a .png file or a folder")
    planned, left_out, clashes = plan_outputs(jobs, OutputOptions(out=out, ext="png"))
    return InversionPlan(planned, notes + left_out, missing + clashes)


def _inverted_from(image_path: str) -> str | None:
    """The input an earlier inversion made this reconstruction from, as its latent beside it
    records, or None: how a rerun with -o at the input folder (a.jpg -> a.png) tells its own
    outputs from inputs, whatever their names. The names are compared, not the paths: the
    source was recorded as given, from whatever folder that run started in."""
    from ..checkpoint import header_metadata, utf8_text
    from ..errors import CheckpointError

    z_path = latent_path(image_path)
    if not z_path.is_file():
        return None
    try:
        source = header_metadata(z_path).get("source")
    except CheckpointError:  # not one of ours: the image is an input like any other
        return None
    if source and os.path.basename(source) != utf8_text(os.path.basename(image_path)):
        return source
    return None


def invert(
    model: str,
    plan: InversionPlan,
    options,
    *,
    encoder: str | None = None,
    device: str = "auto",
    overwrite: bool = False,
    on_step=None,
) -> Iterator[InvertResult]:
    """Invert each planned image; yields one result per input: the failed inputs of the plan
    first, then each image in order. An unreadable image is that input's error, the others
    still run. Without `overwrite`, an input whose reconstruction or latent exists is skipped
    (skipped="exists"), also when another process writes it meanwhile: no file is replaced.
    on_step(job, step, steps) reports each Adam step."""
    from .invert import Inverter

    for failed in plan.failed:
        yield InvertResult(input=failed.source, error=f"{failed.source}: {failed.reason}")
    gen = LatentGenerator.load(model, device=device)
    inverter = Inverter(gen, options, encoder=load_encoder(encoder, model, gen))
    for job in plan.jobs:
        yield _invert_one(inverter, job, overwrite, on_step)


def _invert_one(inverter, job, overwrite: bool, on_step) -> InvertResult:
    from PIL import Image

    from ..engine.inputs import STDIO
    from ..files import OutputExists
    from .invert import square_image
    from .pictures import save_png, to_pil

    started = time.perf_counter()
    image_path, z_path = Path(job.output), latent_path(job.output)
    existing = [p for p in (image_path, z_path) if os.path.lexists(p)]
    if existing and not overwrite:
        return InvertResult(input=job.source, output=str(existing[0]), skipped="exists")
    name = "<stdin>" if job.source == STDIO else job.source
    try:
        with Image.open(io.BytesIO(_stdin(job)) if job.source == STDIO else job.source) as im:
            target = square_image(im, inverter.g.size)
    except (OSError, ValueError, ImageError, Image.DecompressionBombError) as e:
        return InvertResult(input=job.source, error=f"{name}: cannot read as an image ({e})")
    steps = None if on_step is None else (lambda step, total: on_step(job, step, total))
    found = inverter.invert(target, on_step=steps)
    try:
        save_png(to_pil(found.image), image_path, overwrite=overwrite)
        save_latents(
            z_path, found.z[None], overwrite=overwrite, model=inverter.g.name, source=name, psnr=f"{found.psnr:.3f}"
        )
    except OutputExists as e:  # another job wrote it while this one worked: theirs is kept
        return InvertResult(input=job.source, output=e.filename, skipped="exists")
    except OSError as e:
        return InvertResult(input=job.source, error=f"{e.filename or image_path}: cannot write ({e.strerror or e})")
    return InvertResult(
        input=job.source,
        output=str(image_path),
        latent=str(z_path),
        psnr=found.psnr,
        start=found.start,
        threads=found.threads,
        seconds=time.perf_counter() - started,
    )


def _stdin(job) -> bytes:
    import sys

    return job.data if job.data is not None else sys.stdin.buffer.read()


def dissect(
    model: str,
    layer: str,
    concepts: list[str],
    output,
    *,
    n: int = 200,
    seed: int = 0,
    quantile: float = 0.9,
    top: int = 5,
    ablate_top: int = 8,
    device: str = "auto",
) -> Path:
    """Dissect one layer for the named concepts and write the report; returns report.md."""
    from .dissect import dissect as run_dissection
    from .dissect import load_masks
    from .pictures import write_dissection_report

    gen = LatentGenerator.load(model, device=device)
    gen.layer(layer)  # a wrong name fails before any work
    given = {}
    for c in concepts:
        name, _, folder = c.partition("=")
        given[name] = load_masks(Path(folder), n, gen.size) if folder else None
    report = run_dissection(gen, layer, concepts=given, n=n, seed=seed, quantile=quantile)
    return write_dissection_report(gen, report, Path(output), top=top, ablate=ablate_top)
