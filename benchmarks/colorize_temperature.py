"""The annealed-mean temperature of a classification colorizer (`i2i train colorize --loss
classification`, Zhang et al. 2016): T = 1 answers the mean of the predicted ab distribution (what
PSNR favours), T -> 0 its mode (what colourfulness favours). The logits do not depend on T, so one
trained model gives a variant per T (the same tensors, another `temperature` in its metadata).

Per T, on the training run's held-out photos (--holdout: what chooses T) the recipe's own
measures, PSNR gain over gray (dB, mean) and median colourfulness ratio; on monet2photo/testB
(never trained on nor used to choose) colorize_quality.py's: PSNR gain over gray, median
colourfulness ratio, and the hue shares on vegetation, skin-toned pixels and portraits' skin.
T is chosen on the held-out figures as the recipe chooses checkpoints, with issue 35's bar: the
highest PSNR gain among the T whose median colourfulness ratio reaches 0.85, else the most
colourful. Each variant is written to --out-dir as NAME-T<T>.safetensors with the held-out
figures of every T in its metadata (training.temperature_sweep), the chosen one also as
NAME-chosen.safetensors.

Run: python benchmarks/colorize_temperature.py --model RUN/best/colorize.safetensors --run-dir RUN
     --out-dir DIR [--temperatures 1 0.6 0.38]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from benchmarks.colorize_quality import PORTRAITS, engine_colorizer, gray, hue_hits, hue_shares, per_image, pooled  # noqa: E402
from benchmarks.common import DATA, emit, machine  # noqa: E402
from i2i.checkpoint import load_model, save_model  # noqa: E402
from i2i.data.datasets import list_images  # noqa: E402
from i2i.data.image_io import read_image  # noqa: E402
from i2i.engine.adapters import rgb_of  # noqa: E402

COLOURFULNESS_BAR = 0.85  # issue 35


def held_out_recipe(run_dir: Path):
    """The colorize recipe of a training run with its photos loaded: its held-out split."""
    from i2i.training.colorize import ColorizeRecipe
    from i2i.training.options import ColorizeOptions

    run = json.loads((run_dir / "run.json").read_text())
    options = {**run["options"], "data": tuple(run["options"]["data"])}
    recipe = ColorizeRecipe(ColorizeOptions(**options))
    recipe.seed = run["loop"]["seed"]
    recipe.dataset()
    recipe.device, recipe.ema = torch.device("cpu"), None
    return recipe


def held_out_figures(recipe, model) -> dict:
    """{psnr_gain, colourfulness} of `model` on the recipe's held-out photos (its evaluate())."""
    recipe.g, recipe.g_config = model.module, model.config
    return recipe.evaluate()


def write_variant(model, temperature: float, path: Path, sweep: dict) -> None:
    """The model's tensors with another decode temperature (and the sweep's figures) in its metadata."""
    info = model.info
    description = re.sub(r"annealed mean at T = [0-9.]+", f"annealed mean at T = {temperature:g}", info.description)
    info = dataclasses.replace(
        info,
        options={**info.options, "temperature": temperature},
        description=description,
        training={**info.training, "temperature_sweep": sweep},
    )
    save_model(path, model.module, info)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, help="a checkpoint of `i2i train colorize --loss classification`")
    parser.add_argument("--run-dir", required=True, help="its training run (run.json: the held-out split)")
    parser.add_argument("--out-dir", required=True, help="where the variants go")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[1.0, 0.6, 0.38])
    args = parser.parse_args()
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = load_model(args.model)
    if not getattr(model.config, "bins", 0):
        sys.exit(f"{args.model}: not a classification colorizer (no ab classes)")
    name = Path(args.model).stem
    print(f"# annealed-mean temperature of {args.model}, {machine()}")

    recipe = held_out_recipe(Path(args.run_dir))
    held = {}
    for t in args.temperatures:
        model.module.temperature = t
        held[t] = held_out_figures(recipe, model)
        print(
            f"T = {t:<5g} held-out ({len(recipe.held)} photos): PSNR {held[t]['psnr_gain']:+.3f} dB vs gray, "
            f"colourfulness ratio median {held[t]['colourfulness']:.3f}"
        )
    chosen = max(
        args.temperatures, key=lambda t: (min(held[t]["colourfulness"], COLOURFULNESS_BAR), held[t]["psnr_gain"])
    )
    print(f"chosen on the held-out photos: T = {chosen:g}")
    sweep = {"held_out": {f"{t:g}": held[t] for t in args.temperatures}, "chosen": chosen}

    files = list_images(DATA / "monet2photo/testB")
    portraits = [DATA / "sr/val" / p for p in PORTRAITS]
    originals = [rgb_of(read_image(f))[None] for f in files]
    gray_psnrs, _, _ = per_image(gray, files)
    for t in args.temperatures:
        path = out_dir / f"{name}-T{t:g}.safetensors"
        write_variant(model, t, path, sweep)
        if t == chosen:
            write_variant(model, t, out_dir / f"{name}-chosen.safetensors", sweep)
        fn = engine_colorizer(path)
        psnrs, ratios, shown = per_image(fn, files)
        gain = statistics.fmean(p - g for p, g in zip(psnrs, gray_psnrs))
        land = pooled([hue_hits(o[None], x) for o, x in zip(shown, originals)])
        faces, _ = hue_shares(fn, portraits)
        print(
            f"T = {t:<5g} testB: PSNR {gain:+.3f} dB vs gray, colourfulness ratio median {statistics.median(ratios):.3f}; "
            f"hue share vegetation {land['vegetation'][0]:.3f}, skin-toned {land['skin'][0]:.3f}, "
            f"portraits skin {faces['skin'][0]:.3f}"
        )
        emit(f"colorize T={t:g} testB PSNR - gray (mean per image)", gain, "dB", ">= 0.5")
        emit(f"colorize T={t:g} testB colourfulness ratio (median)", statistics.median(ratios), "", ">= 0.85")
        emit(f"colorize T={t:g} hue share, testB vegetation", land["vegetation"][0], "", "")
        emit(f"colorize T={t:g} hue share, portraits skin", faces["skin"][0], "", "")


if __name__ == "__main__":
    main()
