"""GAN dissection (Bau et al., "GAN Dissection: Visualizing and Understanding Generative
Adversarial Networks", ICLR 2019): which generator units draw which concept.

For a sample of generated images, each unit's feature map is upsampled (bilinear) to the image
size and thresholded at its own top quantile over the whole sample; the IoU of that region
with a concept's mask, over all images, ranks the units per concept. Concepts here need no
segmentation network: colour rules in CIE Lab on the generated image itself (sky, vegetation,
bright, dark), or masks the user drew for the generated images.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from ..data.color import rgb_to_lab
from ..errors import UsageError
from .generator import LatentGenerator, UnitEdit
from .latents import sample_latents

SKY_TOP_FRACTION = 0.6  # sky is looked for in the upper 60 % of the frame


def _lab(images: torch.Tensor):
    lab = rgb_to_lab(images)
    return lab[:, 0], lab[:, 1], lab[:, 2]


def sky_mask(images: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) in [0, 1] -> (N, H, W) bool: blue (b* < -5, L* > 40) or bright and nearly
    colourless (L* > 75, chroma < 15: overcast) pixels in the upper part of the frame."""
    L, a, b = _lab(images)
    chroma = (a**2 + b**2).sqrt()
    colour = ((b < -5) & (L > 40)) | ((L > 75) & (chroma < 15))
    rows = torch.arange(images.shape[-2], device=images.device)[:, None]
    return colour & (rows < SKY_TOP_FRACTION * images.shape[-2])


def vegetation_mask(images: torch.Tensor) -> torch.Tensor:
    """Green pixels: a* < -6 (towards green) at ordinary lightness (15 < L* < 90)."""
    L, a, _ = _lab(images)
    return (a < -6) & (L > 15) & (L < 90)


def bright_mask(images: torch.Tensor) -> torch.Tensor:
    """L* > 80."""
    return _lab(images)[0] > 80


def dark_mask(images: torch.Tensor) -> torch.Tensor:
    """L* < 25."""
    return _lab(images)[0] < 25


COLOUR_CONCEPTS = {"sky": sky_mask, "vegetation": vegetation_mask, "bright": bright_mask, "dark": dark_mask}


@dataclass
class UnitScore:
    unit: int
    iou: float
    threshold: float
    """Activation above which the unit counts as on (its top-quantile value)."""


@dataclass
class Dissection:
    layer: str
    quantile: float
    images: int
    ranking: dict[str, list[UnitScore]] = field(default_factory=dict)
    """concept -> units, best IoU first."""
    coverage: dict[str, float] = field(default_factory=dict)
    """concept -> fraction of all pixels in its mask."""

    def top_units(self, concept: str, k: int) -> tuple[int, ...]:
        return tuple(s.unit for s in self.ranking[concept][:k])

    def to_dict(self) -> dict:
        return {
            "layer": self.layer,
            "quantile": self.quantile,
            "images": self.images,
            "coverage": self.coverage,
            "ranking": {c: [vars(s) for s in scores] for c, scores in self.ranking.items()},
        }


def unit_thresholds(features: torch.Tensor, quantile: float) -> torch.Tensor:
    """(units,) each unit's `quantile` over every image and position of (N, units, h, w)."""
    per_unit = features.transpose(0, 1).reshape(features.shape[1], -1)
    k = max(1, min(per_unit.shape[1], round(quantile * per_unit.shape[1])))
    return per_unit.kthvalue(k, dim=1).values


def unit_ious(
    features: torch.Tensor, thresholds: torch.Tensor, masks: dict[str, torch.Tensor], size: int, chunk: int = 16
) -> dict[str, torch.Tensor]:
    """concept -> (units,) IoU between each unit's upsampled, thresholded maps and the masks.

    features (N, units, h, w); masks concept -> (N, size, size) bool. Units go `chunk` at a
    time so the upsampled maps never sit whole in memory."""
    units = features.shape[1]
    ious = {c: torch.zeros(units) for c in masks}
    for u0 in range(0, units, chunk):
        up = F.interpolate(features[:, u0 : u0 + chunk], size=(size, size), mode="bilinear", align_corners=False)
        on = up > thresholds[u0 : u0 + chunk].view(1, -1, 1, 1)  # (N, c, S, S)
        for concept, mask in masks.items():
            m = mask[:, None]
            inter = (on & m).sum((0, 2, 3)).float()
            union = (on | m).sum((0, 2, 3)).float()
            ious[concept][u0 : u0 + chunk] = inter / union.clamp(min=1)
    return ious


def dissect(
    generator: LatentGenerator,
    layer: str,
    *,
    concepts: dict[str, torch.Tensor | None],
    n: int = 200,
    seed: int = 0,
    quantile: float = 0.9,
) -> Dissection:
    """Rank `layer`'s units per concept over n generated images (latents from `seed`, as
    `i2i generate -n N --seed S` makes them, so user masks can be drawn on those images).

    concepts: name -> None for a colour concept (COLOUR_CONCEPTS), or an (n, size, size) bool
    mask tensor given by the user."""
    if not 0 < quantile < 1:
        raise UsageError(f"--quantile must be between 0 and 1, not {quantile}")
    z = sample_latents(n, generator.z_dim, seed)
    images = generator(z)
    masks = {}
    for name, given in concepts.items():
        if given is None:
            if name not in COLOUR_CONCEPTS:
                raise UsageError(
                    f"unknown concept {name!r}; built in: {', '.join(COLOUR_CONCEPTS)} "
                    "(or give masks: --concept NAME=MASK_DIR)"
                )
            masks[name] = COLOUR_CONCEPTS[name](images)
        else:
            if given.shape != (n, generator.size, generator.size):
                raise UsageError(f"concept {name}: masks must be {n} of {generator.size}x{generator.size}")
            masks[name] = given.bool()
    features = generator.features(layer, z)
    thresholds = unit_thresholds(features, quantile)
    ious = unit_ious(features, thresholds, masks, generator.size)
    report = Dissection(layer=layer, quantile=quantile, images=n)
    for name, iou in ious.items():
        order = iou.argsort(descending=True)
        report.ranking[name] = [
            UnitScore(unit=int(u), iou=round(float(iou[u]), 4), threshold=round(float(thresholds[u]), 4)) for u in order
        ]
        report.coverage[name] = round(float(masks[name].float().mean()), 4)
    return report


def concept_fraction(images: torch.Tensor, concept: str) -> float:
    """Fraction of pixels a colour concept's rule marks in (N, 3, H, W) images."""
    return float(COLOUR_CONCEPTS[concept](images).float().mean())


def ablation_effect(
    generator: LatentGenerator, report: Dissection, concept: str, k: int, *, n: int = 64, seed: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """(before, after) images of n fresh samples with the concept's top-k units switched off."""
    z = sample_latents(n, generator.z_dim, seed)
    before = generator(z)
    with generator.edited([UnitEdit(layer=report.layer, units=report.top_units(concept, k))]):
        after = generator(z)
    return before, after


def load_masks(folder: Path, n: int, size: int) -> torch.Tensor:
    """(n, size, size) bool from folder/0000.png ... (white = concept), the names
    `i2i generate -o DIR` gives its images; resized to the generator's size."""
    from PIL import Image

    from ..data.datasets import to_tensor

    masks = []
    for i in range(n):
        path = Path(folder) / f"{i:04d}.png"
        if not path.is_file():
            raise UsageError(
                f"{path}: missing mask (a concept folder holds one mask per generated image, "
                f"0000.png to {n - 1:04d}.png)"
            )
        im = Image.open(path).convert("L").resize((size, size), Image.NEAREST)
        masks.append(to_tensor(im)[0] > 0.5)
    return torch.stack(masks)
