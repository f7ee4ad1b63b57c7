"""Library entry points behind `i2i generate`, `i2i invert` and `i2i dissect`."""

from __future__ import annotations

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
    seconds: float = 0.0
    error: str | None = None

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


def invert(
    model: str,
    images: list[Path],
    output,
    options,
    *,
    encoder: str | None = None,
    device: str = "auto",
    overwrite: bool = False,
) -> Iterator[InvertResult]:
    """Invert each image; yields one result per input (an unreadable image is that input's
    error, the others still run). Writes OUT/STEM.png and OUT/STEM.latent.safetensors."""
    from PIL import Image

    from .invert import Inverter, square_image
    from .pictures import save_png, to_pil

    output = Path(output)
    stems = [Path(p).stem for p in images]
    clash = sorted({s for s in stems if stems.count(s) > 1})
    if clash:
        raise UsageError(f"inputs share the name {clash[0]!r}: outputs would collide; invert them separately")
    _refuse_existing([output / f"{s}{ext}" for s in stems for ext in (".png", ".latent.safetensors")], overwrite)
    gen = LatentGenerator.load(model, device=device)
    inverter = Inverter(gen, options, encoder=load_encoder(encoder, model, gen))
    for path, stem in zip(images, stems):
        started = time.perf_counter()
        try:
            with Image.open(path) as im:
                target = square_image(im, gen.size)
        except (OSError, ValueError, ImageError, Image.DecompressionBombError) as e:
            yield InvertResult(input=str(path), error=f"{path}: cannot read as an image ({e})")
            continue
        found = inverter.invert(target)
        image_path, latent_path = output / f"{stem}.png", output / f"{stem}.latent.safetensors"
        save_png(to_pil(found.image), image_path)
        save_latents(latent_path, found.z[None], model=gen.name, source=str(path), psnr=f"{found.psnr:.3f}")
        yield InvertResult(
            input=str(path),
            output=str(image_path),
            latent=str(latent_path),
            psnr=found.psnr,
            start=found.start,
            seconds=time.perf_counter() - started,
        )


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
