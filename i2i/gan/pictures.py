"""Writing generated images, grids, and the dissection report's pictures (PNG, atomic)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

from ..data.image_io import atomic_save
from ..files import atomic_write_bytes


def to_pil(image: torch.Tensor) -> Image.Image:
    """(3, H, W) in [0, 1] -> PIL RGB."""
    array = (image.detach().clamp(0, 1).permute(1, 2, 0).numpy() * 255 + 0.5).astype("uint8")
    return Image.fromarray(array)


def grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2) -> Image.Image:
    """(N, 3, H, W) in [0, 1] -> one PIL image, nrow per row (default: a near-square grid)."""
    from torchvision.utils import make_grid

    nrow = nrow or math.ceil(math.sqrt(len(images)))
    return to_pil(make_grid(images, nrow=nrow, padding=padding, pad_value=1.0))


def save_png(image: Image.Image, path, *, overwrite: bool = True) -> None:
    """Write a PNG atomically; overwrite=False: files.OutputExists rather than replace a
    file that is there when the write completes."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_save(image, path, format="PNG", overwrite=overwrite)


def before_after(before: torch.Tensor, after: torch.Tensor, per_row: int = 8) -> Image.Image:
    """Pairs of rows: `per_row` originals above the same latents edited."""
    rows = []
    for i in range(0, len(before), per_row):
        rows += [before[i : i + per_row], after[i : i + per_row]]
    width = max(len(r) for r in rows)
    padded = [torch.cat([r, torch.ones(width - len(r), *r.shape[1:])]) if len(r) < width else r for r in rows]
    return grid(torch.cat(padded), nrow=width)


def unit_heatmaps(images: torch.Tensor, features: torch.Tensor, threshold: float) -> Image.Image:
    """Top row: images with the unit's above-threshold region tinted red; bottom row: the
    unit's upsampled activation as a heat map (black low, yellow high)."""
    size = images.shape[-1]
    up = F.interpolate(features[:, None], size=(size, size), mode="bilinear", align_corners=False)[:, 0]
    on = (up > threshold).float()[:, None]
    tinted = images * (1 - 0.55 * on) + torch.tensor([1.0, 0.1, 0.1]).view(1, 3, 1, 1) * 0.55 * on
    level = ((up - up.amin()) / (up.amax() - up.amin()).clamp(min=1e-8))[:, None]
    heat = torch.cat([level.clamp(0, 1) * 1.5, (level - 0.33).clamp(0, 1) * 1.5, (level - 0.66).clamp(0, 1) * 3], 1)
    return grid(torch.cat([tinted, heat.clamp(0, 1)]), nrow=len(images))


def write_dissection_report(
    generator, report, out_dir: Path, *, top: int = 5, samples: int = 8, ablate: int = 0
) -> Path:
    """report.md + report.json + one heat-map strip per top unit per concept, and with
    ablate=k a before/after grid per concept with its top k units switched off."""
    from .latents import sample_latents

    out_dir = Path(out_dir)
    z = sample_latents(samples, generator.z_dim, 0)
    images = generator(z)
    features = generator.features(report.layer, z)
    lines = [
        f"# Dissection of {generator.name or 'the generator'}, {report.layer}",
        "",
        f"{report.images} generated images (seed 0); each unit thresholded at its "
        f"{report.quantile:.2f} quantile; IoU with each concept's mask (Bau et al., ICLR 2019).",
        "",
    ]
    for concept, scores in report.ranking.items():
        lines += [
            f"## {concept} (covers {report.coverage[concept]:.1%} of pixels)",
            "",
            "| rank | unit | IoU | threshold | first samples: region (red) and activation |",
            "| ---: | ---: | ---: | ---: | --- |",
        ]
        for rank, s in enumerate(scores[:top], 1):
            picture = f"units/{concept}_{rank}_unit{s.unit}.png"
            save_png(unit_heatmaps(images, features[:, s.unit], s.threshold), out_dir / picture)
            lines.append(f"| {rank} | {s.unit} | {s.iou:.3f} | {s.threshold:.3g} | ![unit {s.unit}]({picture}) |")
        lines.append("")
        if ablate:
            lines += _ablation_section(generator, report, concept, ablate, out_dir)
    atomic_write_bytes("\n".join(lines).encode(), out_dir / "report.md")
    atomic_write_bytes(json.dumps(report.to_dict(), indent=1).encode(), out_dir / "report.json")
    return out_dir / "report.md"


def _ablation_section(generator, report, concept: str, ablate: int, out_dir: Path) -> list[str]:
    """The report's lines (and its before/after grid) for `concept` with its top `ablate` units off."""
    from .dissect import ablation_effect, concept_fraction

    before, after = ablation_effect(generator, report, concept, ablate, n=16)
    picture = f"ablate_{concept}.png"
    save_png(before_after(before, after), out_dir / picture)
    units = ",".join(map(str, report.top_units(concept, ablate)))
    extra = ""
    if concept in ("sky", "vegetation", "bright", "dark"):
        extra = (
            f" {concept} pixels: {concept_fraction(before, concept):.1%} before, "
            f"{concept_fraction(after, concept):.1%} after."
        )
    return [
        f"Top {ablate} units switched off (`i2i generate --ablate {report.layer}:{units}`), "
        f"originals above, edited below.{extra}",
        "",
        f"![ablation]({picture})",
        "",
    ]
