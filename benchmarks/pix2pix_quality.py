"""pix2pix on held-back facades: mean L1 to the ground truth, a sharpness ratio (high-frequency
energy of the output / that of the ground truth) and a checkerboard ratio (spectral power at
the 2-pixel period of the output / that of the ground truth: the transposed convolutions'
artifact, Odena et al. 2016; 1.0 is the truth's own), for the shipped model, the same recipe
trained with L1 alone, and optionally a candidate (a retrained model: old vs new).

The held-back images are the last N of facades/train in natural order (N = the model's recorded
--holdout); none of the models trained on them.

Run: python benchmarks/pix2pix_quality.py [--l1-only PATH] [--candidate PATH]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from benchmarks.common import DATA, ROOT, WEIGHTS, emit, machine  # noqa: E402
from i2i.checkpoint import load_model  # noqa: E402
from i2i.data.datasets import load_pairs, to_tensor  # noqa: E402
from i2i.metrics import checkerboard_energy, high_frequency_energy  # noqa: E402


@torch.inference_mode()
def score(path: Path, *, checkerboard: bool = False):
    """(pairs, mean L1, mean sharpness ratio) on the model's held-back pairs, and with
    checkerboard=True also the median checkerboard ratio (output / ground truth) as a 4th value."""
    model = load_model(path)
    t = model.info.training
    pairs = load_pairs(DATA / "facades", t.get("direction", "BtoA"), t["holdout"], part="held")
    l1s, ratios, boards = [], [], []
    for src, target in pairs:
        x, y = to_tensor(src)[None], to_tensor(target)[None]
        out = model.task.from_net(model.module(model.task.to_net(x))).clamp(0, 1)
        l1s.append((out - y).abs().mean().item())
        ratios.append(high_frequency_energy(out) / high_frequency_energy(y))
        if checkerboard:
            boards.append(checkerboard_energy(out) / max(checkerboard_energy(y), 1e-12))
    found = len(pairs), sum(l1s) / len(l1s), sum(ratios) / len(ratios)
    return (*found, statistics.median(boards)) if checkerboard else found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=str(WEIGHTS / "facades-label2photo.safetensors"))
    parser.add_argument("--l1-only", default=str(ROOT / "runs/facades-l1/facades-l1only.safetensors"))
    parser.add_argument("--candidate", help="a retrained model to compare with the shipped one")
    args = parser.parse_args()
    print(f"# pix2pix facades quality on {machine()}")
    rows = [("shipped (L1 + cGAN)", "shipped", args.model, ">= 0.8"), ("L1 only", "L1-only", args.l1_only, "")]
    if args.candidate:
        rows.append(("candidate", "candidate", args.candidate, ">= 0.8"))
    for label, key, path, target in rows:
        if not Path(path).is_file():
            print(f"{label}: {path} not found (train it with the command in weights/README.md)")
            continue
        n, l1, sharp, board = score(Path(path), checkerboard=True)
        print(
            f"{label:20} on {n} held-back pairs: L1 {l1:.4f}  sharpness ratio {sharp:.3f}  "
            f"checkerboard ratio {board:.2f}"
        )
        emit(f"pix2pix {key} L1 (held-back)", l1)
        emit(f"pix2pix {key} sharpness ratio", sharp, "", target)
        emit(f"pix2pix {key} checkerboard ratio (median)", board, "", "lower; 1 = ground truth's")


if __name__ == "__main__":
    main()
