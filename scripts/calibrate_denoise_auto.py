"""Calibrate `i2i upscale --denoise auto` (i2i/interpolation.py's thresholds) on photos that no
benchmark uses: HR crops of the SR training set, made into LR inputs by a range of degradations
(clean bicubic /4; JPEG at several qualities; Gaussian noise at several levels; noise then JPEG
90, as a phone photo in poor light), then upscaled by the blend of the shipped x4 models at each
real-world share (interpolation.auto_weights' split between the PSNR and GAN stages). Prints, per
degradation: the mean estimate (JPEG quality, noise), the share --denoise auto picks, and at each
share PSNR-Y and the perceptual distance of benchmarks/sr_real.py (EfficientNet-Lite2 features,
lower is better), the best of each marked, so the thresholds can be read off.

Run: python scripts/calibrate_denoise_auto.py [--images 16]
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

from benchmarks.common import DATA  # noqa: E402
from benchmarks.sr_real import Judge, to_image  # noqa: E402
from i2i.data.datasets import list_images, to_tensor  # noqa: E402
from i2i.data.degradation_estimate import estimate  # noqa: E402
from i2i.interpolation import AUTO_GAN_SHARE, SRBlends, auto_weights  # noqa: E402
from i2i.models import resolve  # noqa: E402

SHARES = [0.0, 0.25, 0.5, 0.75, 1.0]
"""The real-world models' share of the blend (the rest is the clean upscale-x4); quarters, which
interpolation.round_weights keeps as they are once split in halves."""
DEGRADATIONS = (
    [("clean", None, 0)]
    + [(f"jpeg{q}", q, 0) for q in (95, 90, 85, 80, 70, 60, 50, 40)]
    + [(f"noise{s}", None, s) for s in (2, 4, 6, 8, 10)]
    + [(f"n{s}+jpeg90", 90, s) for s in (4, 6, 8)]
)


def weights_at(share: float) -> tuple[float, float, float]:
    return (1 - share, share * (1 - AUTO_GAN_SHARE), share * AUTO_GAN_SHARE)


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
    args = parser.parse_args()
    torch.set_num_threads(1)
    blends, judge = SRBlends(resolve), Judge()
    files = list_images(DATA / "sr/train/BSD200")[-args.images :]
    hrs = [Image.open(f).convert("RGB").crop((0, 0, 320, 320)) for f in files]
    print(f"{len(hrs)} BSD200 photos (320 px HR crops); at each real-world share {SHARES}: PSNR-Y | perceptual")
    for name, quality, sigma in DEGRADATIONS:
        lrs = [make_lr(hr, quality, sigma, i) for i, hr in enumerate(hrs)]
        estimates = [estimate(lr) for lr in lrs]
        picked = statistics.fmean(1 - auto_weights(e)[0] for e in estimates)
        psnr, perceptual = [], []
        for share in SHARES:
            net = blends.model(weights_at(share)).module
            scores = []
            for i, (lr, hr) in enumerate(zip(lrs, hrs)):
                with torch.inference_mode():
                    sr = net(to_tensor(lr.convert("RGB"))[None]).clamp(0, 1)
                scores.append(judge.score(i, to_image(sr), hr, gray=False))
            psnr.append(statistics.fmean(r["psnr"] for r in scores))
            perceptual.append(statistics.fmean(r["perceptual"] for r in scores))
        best_psnr = max(range(len(SHARES)), key=psnr.__getitem__)
        best_perc = min(range(len(SHARES)), key=perceptual.__getitem__)
        q = [e.jpeg_quality for e in estimates if e.jpeg_quality is not None]
        noise = statistics.fmean(e.noise for e in estimates)
        shown = " ".join(
            f"{p:5.2f}{'*' if i == best_psnr else ' '}|{d:.4f}{'*' if i == best_perc else ' '}"
            for i, (p, d) in enumerate(zip(psnr, perceptual))
        )
        print(
            f"{name:10} q {statistics.fmean(q) if q else 0:5.1f} noise {noise:5.2f} auto {picked:5.3f} | {shown}",
            flush=True,
        )


if __name__ == "__main__":
    main()
