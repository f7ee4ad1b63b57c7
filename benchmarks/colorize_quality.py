"""Colorization on monet2photo/testB (never trained on): PSNR of the reconstructed RGB against
the original, and colourfulness (Hasler-Suesstrunk) of outputs / originals, for the shipped
model, the same recipe with L1 alone, and the all-gray baseline. Writes a contact sheet
(gray | ours | original) to benchmarks/colorize_sheet.png.

Run: python benchmarks/colorize_quality.py
"""
from __future__ import annotations

import argparse
import math
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
from i2i.metrics import colourfulness  # noqa: E402


def psnr(a, b) -> float:
    mse = torch.mean((a - b) ** 2).item()
    return 10 * math.log10(1 / max(mse, 1e-12))


def evaluate(colorize, files):
    psnrs, ratios, shown = [], [], []
    for f in files:
        img = read_image(f)
        original = rgb_of(img)[None]
        out = colorize(img)
        psnrs.append(psnr(out, original))
        ratios.append(colourfulness(out) / max(colourfulness(original), 1e-6))
        shown.append(out[0])
    return sum(psnrs) / len(psnrs), sum(ratios) / len(ratios), shown


def engine_colorizer(path):
    model = load_model(path)
    engine = Engine(model, ColorizeAdapter(task=model.task, multiple=model.spec.size_multiple(model.config)),
                    device="cpu")
    return lambda img: rgb_of(engine.run_image(img))[None]


def gray(img):
    from i2i.data.color import lab_to_rgb, rgb_to_lab

    lab = rgb_to_lab(rgb_of(img)[None])
    return lab_to_rgb(torch.cat([lab[:, :1], torch.zeros_like(lab[:, 1:])], 1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=str(WEIGHTS / "colorize.safetensors"))
    parser.add_argument("--l1-only", default=str(ROOT / "runs/colorize-l1/colorize-l1only.safetensors"))
    args = parser.parse_args()
    files = list_images(DATA / "monet2photo/testB")
    print(f"# colorization on {len(files)} photos of monet2photo/testB, {machine()}")
    rows = {}
    for label, fn, target in (("gray baseline", gray, ""),
                              ("L1 only", args.l1_only, ""),
                              ("shipped (L1 + cGAN)", args.model, ">= 0.6")):
        if isinstance(fn, str):
            if not Path(fn).is_file():
                print(f"{label}: {fn} not found")
                continue
            fn = engine_colorizer(fn)
        p, c, shown = evaluate(fn, files)
        rows[label] = shown
        print(f"{label:20} PSNR {p:6.2f} dB  colourfulness ratio {c:.3f}")
        emit(f"colorize {label} PSNR", p, "dB", ">= gray baseline" if target else "")
        emit(f"colorize {label} colourfulness ratio", c, "", target)
    if "shipped (L1 + cGAN)" in rows:
        from i2i.training.plots import save_grid

        originals = [rgb_of(read_image(f)) for f in files[:8]]
        grid = [[rows["gray baseline"][i], rows["shipped (L1 + cGAN)"][i], originals[i]] for i in range(len(originals))]
        save_grid(grid, ROOT / "benchmarks/colorize_sheet.png")
        print("contact sheet: benchmarks/colorize_sheet.png (gray | ours | original)")


if __name__ == "__main__":
    main()
