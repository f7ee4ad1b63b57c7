"""Calibrate `i2i upscale --denoise auto` (i2i/interpolation.py's thresholds) on photos that no
benchmark uses: HR crops of the SR training set, made into LR inputs by a range of single
degradations (clean bicubic /4; JPEG at several qualities; Gaussian noise at several levels),
then upscaled at every position of the model chain (upscale-x4 -> upscale-x4-real-psnr ->
upscale-x4-real). Prints, per degradation: the mean estimate (JPEG quality, noise), the
position --denoise auto picks, and PSNR-Y at each position (the best marked), so the thresholds
can be read off.

Run: python scripts/calibrate_denoise_auto.py [--images 16] [--chain a b c]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.common import DATA, WEIGHTS  # noqa: E402
from i2i.data.datasets import list_images, to_tensor  # noqa: E402
from i2i.data.degradation_estimate import estimate  # noqa: E402
from i2i.interpolation import SR_CHAIN, ModelChain, auto_position  # noqa: E402
from i2i.metrics import psnr_y  # noqa: E402

POSITIONS = [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]
DEGRADATIONS = (
    [("clean", None, 0)]
    + [(f"jpeg{q}", q, 0) for q in (95, 90, 85, 80, 70, 60, 50, 40)]
    + [(f"noise{s}", None, s) for s in (2, 4, 6, 10)]
)


def make_lr(hr: Image.Image, quality, sigma, seed: int) -> Image.Image:
    lr = hr.resize((hr.width // 4, hr.height // 4), Image.BICUBIC)
    if sigma:
        arr = np.asarray(lr, dtype=np.float32)
        arr = arr + np.random.default_rng(seed).standard_normal(arr.shape) * sigma
        lr = Image.fromarray(np.clip(np.round(arr), 0, 255).astype(np.uint8))
    if quality:
        buf = io.BytesIO()
        lr.save(buf, "JPEG", quality=quality)
        lr = Image.open(buf)
        lr.load()
    return lr


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--chain", nargs=3, default=[str(WEIGHTS / f"{n}.safetensors") for n in SR_CHAIN])
    args = parser.parse_args()
    torch.set_num_threads(1)
    chain = ModelChain(tuple(args.chain), find=lambda p: p)
    files = list_images(DATA / "sr/train/BSD200")[-args.images :]
    hrs = [Image.open(f).convert("RGB").crop((0, 0, 320, 320)) for f in files]
    print(f"{len(hrs)} BSD200 photos (320 px HR crops), PSNR-Y at each chain position {POSITIONS}")
    for name, quality, sigma in DEGRADATIONS:
        lrs = [make_lr(hr, quality, sigma, i) for i, hr in enumerate(hrs)]
        estimates = [estimate(lr) for lr in lrs]
        picked = statistics.fmean(auto_position(e) for e in estimates)
        rows = []
        for p in POSITIONS:
            net = chain.at(p).module
            with torch.inference_mode():
                rows.append(
                    statistics.fmean(
                        psnr_y(net(to_tensor(lr.convert("RGB"))[None]).clamp(0, 1), to_tensor(hr)[None], 4)
                        for lr, hr in zip(lrs, hrs)
                    )
                )
        best = max(range(len(rows)), key=rows.__getitem__)
        q = [e.jpeg_quality for e in estimates if e.jpeg_quality is not None]
        noise = statistics.fmean(e.noise for e in estimates)
        shown = " ".join(f"{v:6.2f}{'*' if i == best else ' '}" for i, v in enumerate(rows))
        print(
            f"{name:8} q {statistics.fmean(q) if q else 0:5.1f} noise {noise:5.2f} auto {picked:4.2f} | {shown}",
            flush=True,
        )


if __name__ == "__main__":
    main()
