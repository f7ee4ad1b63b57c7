"""Calibrate `i2i upscale --denoise auto` (i2i/interpolation.py's thresholds) on photos that no
benchmark uses: HR crops of the SR training set, made into LR inputs by a range of degradations
(clean bicubic /4; JPEG at several qualities; Gaussian noise at several levels; noise then JPEG
90, as a phone photo in poor light), then upscaled by the blend of the shipped x4 models at each
real-world share (interpolation.auto_weights' split between the PSNR and GAN stages). Prints, per
degradation: the mean estimate (JPEG quality, noise), the share --denoise auto picks, and at each
share PSNR-Y and the perceptual distance of benchmarks/sr_real.py (EfficientNet-Lite2 features,
lower is better), the best of each marked, and the share chosen by CHOICE_RULE, so the thresholds
can be read off.

With --readings it prints instead the table behind the noise estimate of JPEG files
(data/degradation_estimate.py's JPEG_READINGS): the finest band's noise reading (median over
BSD200 photos at two sizes) after Gaussian noise of each sigma and JPEG at each quality.

Run: python scripts/calibrate_denoise_auto.py [--images 16] [--readings]
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
from i2i.data.degradation_estimate import estimate, noise_sigma  # noqa: E402
from i2i.interpolation import AUTO_GAN_SHARE, ModelBlends, auto_weights  # noqa: E402
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


def make_lr(hr: Image.Image, quality, sigma, seed: int, scale: int = 4) -> Image.Image:
    lr = hr.resize((hr.width // scale, hr.height // scale), Image.BICUBIC) if scale > 1 else hr
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


PSNR_GIVE = 0.1
"""CHOICE_RULE's allowance, dB."""
CHOICE_RULE = f"the least perceptual distance among the shares within {PSNR_GIVE} dB PSNR-Y of the best"


def chosen_share(psnr: list[float], perceptual: list[float]) -> float:
    """CHOICE_RULE over SHARES, from each share's mean PSNR-Y and perceptual distance."""
    near = [i for i, p in enumerate(psnr) if p >= max(psnr) - PSNR_GIVE]
    return SHARES[min(near, key=perceptual.__getitem__)]


READING_SIGMAS = (0, 2, 4, 6, 8, 10, 12, 16)
"""Per-channel Gaussian noise of the --readings table, in 8-bit levels (luma: 0.67 of it)."""
READING_QUALITIES = (None, 98, 95, 92, 90, 87, 85, 80)


def finest_band_reading(image: Image.Image) -> float:
    return noise_sigma(np.asarray(image.convert("L"), dtype=np.float64))


def print_jpeg_readings() -> None:
    """The finest band's noise reading (median over BSD200 photos shrunk to 1/4 and 1/2) after
    noise of each READING_SIGMAS and JPEG at each READING_QUALITIES, as Python literals."""
    photos = [Image.open(f).convert("RGB") for f in list_images(DATA / "sr/train/BSD200")]
    small = [p.resize((p.width // d, p.height // d), Image.BICUBIC) for p in photos for d in (4, 2)]
    print(f"# {len(small)} BSD200 photos at 1/4 and 1/2 size; columns: per-channel sigma {READING_SIGMAS}")
    for quality in READING_QUALITIES:
        row = [
            statistics.median(finest_band_reading(make_lr(p, quality, sigma, i, scale=1)) for i, p in enumerate(small))
            for sigma in READING_SIGMAS
        ]
        print(f"{quality}: ({', '.join(f'{r:.2f}' for r in row)}),", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--readings", action="store_true", help="Print the JPEG noise readings table instead.")
    args = parser.parse_args()
    if args.readings:
        return print_jpeg_readings()
    torch.set_num_threads(1)
    blends, judge = ModelBlends(resolve), Judge()
    files = list_images(DATA / "sr/train/BSD200")[-args.images :]
    hrs = [Image.open(f).convert("RGB").crop((0, 0, 320, 320)) for f in files]
    print(f"{len(hrs)} BSD200 photos (320 px HR crops); at each real-world share {SHARES}: PSNR-Y | perceptual")
    print(f"chosen: {CHOICE_RULE}")
    uncompressed = []  # (noise reading, PSNR-Y per share, perceptual per share) of each PNG input
    for name, quality, sigma in DEGRADATIONS:
        lrs = [make_lr(hr, quality, sigma, i) for i, hr in enumerate(hrs)]
        estimates = [estimate(lr) for lr in lrs]
        picked = statistics.fmean(1 - auto_weights(e)[0] for e in estimates)
        psnr, perceptual, per_image = [], [], []
        for share in SHARES:
            net = blends.model(weights_at(share)).module
            scores = []
            for i, (lr, hr) in enumerate(zip(lrs, hrs)):
                with torch.inference_mode():
                    sr = net(to_tensor(lr.convert("RGB"))[None]).clamp(0, 1)
                scores.append(judge.score(i, to_image(sr), hr, gray=False))
            psnr.append(statistics.fmean(r["psnr"] for r in scores))
            perceptual.append(statistics.fmean(r["perceptual"] for r in scores))
            per_image.append(scores)
        best_psnr = max(range(len(SHARES)), key=psnr.__getitem__)
        best_perc = min(range(len(SHARES)), key=perceptual.__getitem__)
        q = [e.jpeg_quality for e in estimates if e.jpeg_quality is not None]
        noise = statistics.fmean(e.noise for e in estimates)
        shown = " ".join(
            f"{p:5.2f}{'*' if i == best_psnr else ' '}|{d:.4f}{'*' if i == best_perc else ' '}"
            for i, (p, d) in enumerate(zip(psnr, perceptual))
        )
        print(
            f"{name:10} q {statistics.fmean(q) if q else 0:5.1f} noise {noise:5.2f} auto {picked:5.3f} | {shown}"
            f" | chosen {chosen_share(psnr, perceptual):.2f}",
            flush=True,
        )
        if quality is None:
            for i, e in enumerate(estimates):
                uncompressed.append(
                    (e.noise, [s[i]["psnr"] for s in per_image], [s[i]["perceptual"] for s in per_image])
                )
    print_by_reading(uncompressed)


READING_BINS = (0, 2, 3, 4, 5, 6, 7, 8, 10, 14, 99)


def print_by_reading(records) -> None:
    """The noise term's calibration photo by photo: the uncompressed inputs (clean and noisy) grouped
    by their own noise reading, whatever noise was added, and CHOICE_RULE over each group's means,
    so that a textured clean photo and a flat noisy one reading alike count together."""
    print("uncompressed inputs by noise reading: photos, mean PSNR-Y | perceptual per share, chosen")
    for low, high in zip(READING_BINS, READING_BINS[1:]):
        group = [(p, d) for noise, p, d in records if low <= noise < high]
        if not group:
            continue
        psnr = [statistics.fmean(p[k] for p, _ in group) for k in range(len(SHARES))]
        perceptual = [statistics.fmean(d[k] for _, d in group) for k in range(len(SHARES))]
        shown = " ".join(f"{p:5.2f}|{d:.4f}" for p, d in zip(psnr, perceptual))
        print(
            f"reading {low:2}-{high:<2} {len(group):3} | {shown} | chosen {chosen_share(psnr, perceptual):.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
