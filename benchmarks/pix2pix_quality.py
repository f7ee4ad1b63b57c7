"""pix2pix on held-back facades, for the shipped model, the same recipe trained with L1 alone,
and optionally a candidate (a retrained model: old vs new):
  L1               mean absolute difference to the ground truth, [0, 1] RGB
  sharpness ratio  high-frequency energy (mean squared Laplacian of luma) of the output / that of
                   the ground truth; the Laplacian weighs the 2-pixel period most, so a checkerboard
                   counts as sharpness here
  half-res sharpness  the same ratio after 2x2 average pooling of both images, which cancels the
                   2-pixel period exactly: detail at 4 px and coarser, blind to the checkerboard
  checkerboard ratio  spectral power at the 2-pixel period of the output / that of the ground
                   truth (median): the transposed convolutions' artifact, Odena et al. 2016; 1.0
                   is the truth's own
  8-px grid ratio  the same for the harmonics of an 8-pixel grid (periods 8, 4, 8/3 and 2; within
                   1/256 cycle/pixel, as benchmarks/style_quality.py's grid ratio), median: the
                   grids that the decoder's last three x2 steps can draw, a woven pattern by eye

The held-back images are the last N of facades/train in natural order (N = the model's recorded
--holdout); none of the models trained on them.

Run: python benchmarks/pix2pix_quality.py [--l1-only PATH] [--candidate PATH] [--sheet PATH]
--sheet writes label | shipped | candidate | ground truth for four held-back pairs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from benchmarks.common import DATA, GRID_BAND, ROOT, WEIGHTS, emit, machine  # noqa: E402
from i2i.checkpoint import load_model  # noqa: E402
from i2i.data.datasets import load_pairs, to_tensor  # noqa: E402
from i2i.metrics import checkerboard_energy, grid_energy, high_frequency_energy  # noqa: E402

SHEET_PAIRS = (0, 5, 17, 30)  # indices into the held-back pairs


@dataclass(frozen=True)
class Scores:
    pairs: int
    l1: float
    sharpness: float
    sharpness_half: float
    checkerboard: float
    grid8: float


def held_back_pairs(model):
    t = model.info.training
    return load_pairs(DATA / "facades", t.get("direction", "BtoA"), t["holdout"], part="held")


@torch.inference_mode()
def translate(model, src):
    """PIL label map -> (1, 3, H, W) output in [0, 1]."""
    return model.task.from_net(model.module(model.task.to_net(to_tensor(src)[None]))).clamp(0, 1)


def sharpness_ratio(out: torch.Tensor, truth: torch.Tensor) -> float:
    return high_frequency_energy(out) / high_frequency_energy(truth)


def score(path: Path) -> Scores:
    """The measures above on the model's held-back pairs."""
    model = load_model(path)
    pairs = held_back_pairs(model)
    l1s, sharp, half, boards, grids = [], [], [], [], []
    for src, target in pairs:
        out, y = translate(model, src), to_tensor(target)[None]
        l1s.append((out - y).abs().mean().item())
        sharp.append(sharpness_ratio(out, y))
        half.append(sharpness_ratio(F.avg_pool2d(out, 2), F.avg_pool2d(y, 2)))
        boards.append(checkerboard_energy(out) / max(checkerboard_energy(y), 1e-12))
        grids.append(grid_energy(out, 8, GRID_BAND) / max(grid_energy(y, 8, GRID_BAND), 1e-12))
    mean, median = statistics.fmean, statistics.median
    return Scores(len(pairs), mean(l1s), mean(sharp), mean(half), median(boards), median(grids))


def comparison_sheet(path: Path, models: dict[str, str]) -> None:
    """label | each model | ground truth, for the SHEET_PAIRS held-back pairs."""
    sys.path.insert(0, str(ROOT / "examples"))
    from make_examples import labelled_row, stack  # noqa: PLC0415

    from i2i.gan.pictures import to_pil

    loaded = {name: load_model(p) for name, p in models.items()}
    pairs = held_back_pairs(next(iter(loaded.values())))
    rows = []
    for i in SHEET_PAIRS:
        src, truth = pairs[i]
        outs = [to_pil(translate(m, src)[0]) for m in loaded.values()]
        rows.append(labelled_row([src, *outs, truth], ["label map (held back)", *loaded, "ground truth"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    stack(rows).save(path)
    print(f"comparison sheet: {path}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=str(WEIGHTS / "facades-label2photo.safetensors"))
    parser.add_argument("--l1-only", default=str(ROOT / "runs/facades-l1/facades-l1only.safetensors"))
    parser.add_argument("--candidate", help="a retrained model to compare with the shipped one")
    parser.add_argument("--sheet", help="write a comparison sheet of the shipped model and the candidate here")
    args = parser.parse_args()
    print(f"# pix2pix facades quality on {machine()}")
    rows = [("shipped (L1 + cGAN)", "shipped", args.model, ">= 0.8"), ("L1 only", "L1-only", args.l1_only, "")]
    if args.candidate:
        rows.append(("candidate", "candidate", args.candidate, ">= 0.8"))
    for label, key, path, target in rows:
        if not Path(path).is_file():
            print(f"{label}: {path} not found (train it with the command in weights/README.md)")
            continue
        s = score(Path(path))
        print(
            f"{label:20} on {s.pairs} held-back pairs: L1 {s.l1:.4f}  sharpness ratio {s.sharpness:.3f}  "
            f"half-res sharpness {s.sharpness_half:.3f}  checkerboard ratio {s.checkerboard:.2f}  "
            f"8-px grid ratio {s.grid8:.2f}"
        )
        emit(f"pix2pix {key} L1 (held-back)", s.l1)
        emit(f"pix2pix {key} sharpness ratio", s.sharpness, "", target)
        emit(f"pix2pix {key} half-res sharpness ratio", s.sharpness_half, "")
        emit(f"pix2pix {key} checkerboard ratio (median)", s.checkerboard, "", "lower; 1 = ground truth's")
        emit(f"pix2pix {key} 8-px grid ratio (median)", s.grid8, "", "lower; 1 = ground truth's")
    if args.sheet:
        models = {"shipped": args.model, **({"candidate": args.candidate} if args.candidate else {})}
        comparison_sheet(Path(args.sheet), models)


if __name__ == "__main__":
    main()
