"""Colorization on monet2photo/testB (never trained on): PSNR of the reconstructed RGB against
the original, and colourfulness (Hasler-Suesstrunk) of outputs / originals, for the shipped
model, the same recipe with L1 alone, the all-gray baseline and optionally a candidate (a
retrained model: old vs new). Per model: mean and median PSNR, the mean per-image PSNR gain over
the gray answer, and the mean and median per-image colourfulness ratio (issue 19's bar: median
ratio >= 0.7 with PSNR >= gray + 0.2 dB). Writes a contact sheet (gray | ours [| candidate] |
original) to benchmarks/colorize_sheet.png, or --sheet PATH.

Run: python benchmarks/colorize_quality.py [--candidate PATH] [--sheet PATH]
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
from i2i.data.datasets import list_images  # noqa: E402
from i2i.data.image_io import read_image  # noqa: E402
from i2i.engine.adapters import ColorizeAdapter, rgb_of  # noqa: E402
from i2i.engine.engine import Engine  # noqa: E402
from i2i.metrics import colourfulness, psnr  # noqa: E402


def per_image(colorize, files):
    """(PSNRs in dB, colourfulness ratios, outputs (3, H, W)), one per file."""
    psnrs, ratios, shown = [], [], []
    for f in files:
        img = read_image(f)
        original = rgb_of(img)[None]
        out = colorize(img)
        psnrs.append(psnr(out, original))
        ratios.append(colourfulness(out) / max(colourfulness(original), 1e-6))
        shown.append(out[0])
    return psnrs, ratios, shown


def evaluate(colorize, files):
    """(mean PSNR, mean colourfulness ratio, outputs)."""
    psnrs, ratios, shown = per_image(colorize, files)
    return statistics.fmean(psnrs), statistics.fmean(ratios), shown


def engine_colorizer(path):
    model = load_model(path)
    engine = Engine(
        model, ColorizeAdapter(task=model.task, multiple=model.spec.size_multiple(model.config)), device="cpu"
    )
    return lambda img: rgb_of(engine.run_image(img))[None]


def gray(img):
    from i2i.data.color import lab_to_rgb, rgb_to_lab

    lab = rgb_to_lab(rgb_of(img)[None])
    return lab_to_rgb(torch.cat([lab[:, :1], torch.zeros_like(lab[:, 1:])], 1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=str(WEIGHTS / "colorize.safetensors"))
    parser.add_argument("--l1-only", default=str(ROOT / "runs/colorize-l1/colorize-l1only.safetensors"))
    parser.add_argument("--candidate", help="a retrained model to compare with the shipped one")
    parser.add_argument(
        "--sheet", default=str(ROOT / "benchmarks/colorize_sheet.png"), help="where the contact sheet goes"
    )
    args = parser.parse_args()
    files = list_images(DATA / "monet2photo/testB")
    print(f"# colorization on {len(files)} photos of monet2photo/testB, {machine()}")
    models = [("gray baseline", gray, ""), ("L1 only", args.l1_only, ""), ("shipped", args.model, ">= 0.6")]
    if args.candidate:
        models.append(("candidate", args.candidate, ">= 0.6"))
    rows, gray_psnrs = {}, None
    for label, fn, target in models:
        if isinstance(fn, str):
            if not Path(fn).is_file():
                print(f"{label}: {fn} not found")
                continue
            fn = engine_colorizer(fn)
        psnrs, ratios, shown = per_image(fn, files)
        gray_psnrs = gray_psnrs or psnrs  # the gray baseline comes first
        gain = statistics.fmean(p - g for p, g in zip(psnrs, gray_psnrs))
        p, c, c_median = statistics.fmean(psnrs), statistics.fmean(ratios), statistics.median(ratios)
        rows[label] = shown
        print(
            f"{label:20} PSNR {p:6.2f} dB (median {statistics.median(psnrs):6.2f}, {gain:+.3f} vs gray)  "
            f"colourfulness ratio {c:.3f} (median {c_median:.3f})"
        )
        emit(f"colorize {label} PSNR", p, "dB", ">= gray baseline" if target else "")
        emit(f"colorize {label} colourfulness ratio", c, "", target)
        if label != "gray baseline":
            emit(f"colorize {label} PSNR - gray (mean per image)", gain, "dB", ">= 0.2" if target else "")
            emit(f"colorize {label} colourfulness ratio (median)", c_median, "", ">= 0.7" if target else "")
    if "shipped" in rows:
        from i2i.training.plots import save_grid

        originals = [rgb_of(read_image(f)) for f in files[:8]]
        shown = ["gray baseline", "shipped"] + (["candidate"] if "candidate" in rows else [])
        grid = [[rows[k][i] for k in shown] + [originals[i]] for i in range(len(originals))]
        save_grid(grid, Path(args.sheet))
        print(f"contact sheet: {args.sheet} (gray | ours{' | candidate' if 'candidate' in rows else ''} | original)")


if __name__ == "__main__":
    main()
