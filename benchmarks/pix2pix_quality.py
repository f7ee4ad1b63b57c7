"""pix2pix on held-back facades: mean L1 to the ground truth and a sharpness ratio
(high-frequency energy of the output / that of the ground truth), for the shipped model and for
the same recipe trained with L1 alone.

The held-back images are the last N of facades/train in natural order (N = the model's recorded
--holdout); neither model trained on them.

Run: python benchmarks/pix2pix_quality.py [--l1-only PATH]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from benchmarks.common import DATA, ROOT, WEIGHTS, emit, machine  # noqa: E402
from i2i.checkpoint import load_model  # noqa: E402
from i2i.data.datasets import load_pairs, to_tensor  # noqa: E402
from i2i.metrics import high_frequency_energy  # noqa: E402


@torch.inference_mode()
def score(path: Path):
    model = load_model(path)
    t = model.info.training
    pairs = load_pairs(DATA / "facades", t.get("direction", "BtoA"), t["holdout"], part="held")
    l1s, ratios = [], []
    for src, target in pairs:
        x, y = to_tensor(src)[None], to_tensor(target)[None]
        out = model.task.from_net(model.module(model.task.to_net(x))).clamp(0, 1)
        l1s.append((out - y).abs().mean().item())
        ratios.append(high_frequency_energy(out) / high_frequency_energy(y))
    return len(pairs), sum(l1s) / len(l1s), sum(ratios) / len(ratios)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=str(WEIGHTS / "facades-label2photo.safetensors"))
    parser.add_argument("--l1-only", default=str(ROOT / "runs/facades-l1/facades-l1only.safetensors"))
    args = parser.parse_args()
    print(f"# pix2pix facades quality on {machine()}")
    for label, path, target in (("shipped (L1 + cGAN)", args.model, ">= 0.8"),
                                ("L1 only", args.l1_only, "")):
        if not Path(path).is_file():
            print(f"{label}: {path} not found (train it with the command in weights/README.md)")
            continue
        n, l1, sharp = score(Path(path))
        print(f"{label:20} on {n} held-back pairs: L1 {l1:.4f}  sharpness ratio {sharp:.3f}")
        key = "shipped" if "shipped" in label else "L1-only"
        emit(f"pix2pix {key} L1 (held-back)", l1)
        emit(f"pix2pix {key} sharpness ratio", sharp, "", target)


if __name__ == "__main__":
    main()
