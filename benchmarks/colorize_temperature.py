"""The annealed-mean temperature and the prior correction of a classification colorizer (`i2i
train colorize --loss classification`, Zhang et al. 2016): T = 1 answers the mean of the predicted
ab distribution (what PSNR favours), T -> 0 its mode (what colourfulness favours); a prior
correction of strength s adds -s log p(ab class) to the logits first, p the training photos' ab
distribution (logit adjustment, Menon et al. 2021: rare saturated colours gain on common dull
ones). The logits do not depend on either, so one trained model gives a variant per (T, s): the
same tensors but for the classifier's last bias, another `temperature` in its metadata.

Per variant, on the training run's held-out photos (--holdout: what chooses) the recipe's own
measures, PSNR gain over gray (dB, mean) and median colourfulness ratio; on monet2photo/testB
(never trained on) colorize_quality.py's: PSNR gain over gray, median colourfulness ratio, and the
hue shares on vegetation, skin-toned pixels and portraits' skin. The variant is chosen on the
held-out figures as the recipe chooses checkpoints, with issue 35's bar: the highest PSNR gain
among those whose median colourfulness ratio reaches 0.85, else the most colourful. Each variant
is written to --out-dir as NAME-T<T>[-P<s>].safetensors with the held-out figures of every variant
in its metadata (training.temperature_sweep), the chosen one also as NAME-chosen.safetensors.

Run: python benchmarks/colorize_temperature.py --model RUN/best/colorize.safetensors --run-dir RUN
     --out-dir DIR [--temperatures 1 0.6 0.38] [--prior-corrections 0 0.15]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from benchmarks.colorize_quality import PORTRAITS, engine_colorizer, figures, gray, per_image  # noqa: E402
from benchmarks.common import DATA, emit, machine  # noqa: E402
from i2i.checkpoint import load_model, save_model  # noqa: E402
from i2i.data.datasets import list_images  # noqa: E402
from i2i.data.image_io import read_image  # noqa: E402
from i2i.engine.adapters import rgb_of  # noqa: E402
from i2i.training.colorize import with_decoding  # noqa: E402

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


def write_variant(variant, path: Path, sweep: dict) -> None:
    """A with_decoding variant written to `path`, the sweep's figures in its metadata
    (training.temperature_sweep)."""
    info = dataclasses.replace(variant.info, training={**variant.info.training, "temperature_sweep": sweep})
    save_model(path, variant.module, info)


def variant_name(temperature: float, correction: float) -> str:
    """T<T>[-P<s>], s the total correction (a model given already corrected adds its own)."""
    return f"T{temperature:g}" + (f"-P{correction:g}" if correction else "")


def training_prior(recipe, model):
    """(Q,) p(class) of the training photos over `model`'s ab classes, from its run's recipe."""
    from i2i.training.colorize import model_ab_classes

    if not torch.equal(model_ab_classes(model.module), getattr(recipe, "ab_classes", None)):
        sys.exit("the model's ab classes are not its run's: give the run that trained it")
    return recipe.class_prior


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, help="a checkpoint of `i2i train colorize --loss classification`")
    parser.add_argument("--run-dir", required=True, help="its training run (run.json: the held-out split, the prior)")
    parser.add_argument("--out-dir", required=True, help="where the variants go")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[1.0, 0.6, 0.38])
    parser.add_argument("--prior-corrections", type=float, nargs="+", default=[0.0])
    args = parser.parse_args()
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = load_model(args.model)
    if not getattr(model.config, "bins", 0):
        sys.exit(f"{args.model}: not a classification colorizer (no ab classes)")
    name = Path(args.model).stem
    print(f"# annealed-mean temperature and prior correction of {args.model}, {machine()}")

    recipe = held_out_recipe(Path(args.run_dir))
    prior = training_prior(recipe, model)
    variants = [(t, c) for c in args.prior_corrections for t in args.temperatures]
    already = model.info.training.get("prior_correction", 0.0)
    paths = {v: out_dir / f"{name}-{variant_name(v[0], already + v[1])}.safetensors" for v in variants}
    decoded = {v: with_decoding(model, v[0], v[1], prior) for v in variants}
    held = {}
    for v in variants:
        held[v] = held_out_figures(recipe, decoded[v])
        print(
            f"{variant_name(*v):10s} held-out ({len(recipe.held)} photos): PSNR {held[v]['psnr_gain']:+.3f} dB vs gray, "
            f"colourfulness ratio median {held[v]['colourfulness']:.3f}"
        )
    chosen = max(variants, key=lambda v: (min(held[v]["colourfulness"], COLOURFULNESS_BAR), held[v]["psnr_gain"]))
    print(f"chosen on the held-out photos: {variant_name(*chosen)}")
    sweep = {"held_out": {variant_name(*v): held[v] for v in variants}, "chosen": variant_name(*chosen)}

    files = list_images(DATA / "monet2photo/testB")
    portraits = [DATA / "sr/val" / p for p in PORTRAITS]
    originals = [rgb_of(read_image(f))[None] for f in files]
    gray_psnrs, _, _ = per_image(gray, files)
    for v in variants:
        write_variant(decoded[v], paths[v], sweep)
        if v == chosen:
            write_variant(decoded[v], out_dir / f"{name}-chosen.safetensors", sweep)
        r = figures(engine_colorizer(paths[v]), files, gray_psnrs, portraits, originals)
        gain, ratio = r["gain"], r["ratio_median"]
        label = variant_name(*v)
        print(
            f"{label:10s} testB: PSNR {gain:+.3f} dB vs gray, colourfulness ratio median {ratio:.3f}; "
            f"hue share vegetation {r['vegetation'][0]:.3f}, skin-toned {r['skin_toned'][0]:.3f}, "
            f"portraits skin {r['portraits_skin'][0]:.3f}"
        )
        emit(f"colorize {label} testB PSNR - gray (mean per image)", gain, "dB", ">= 0.5")
        emit(f"colorize {label} testB colourfulness ratio (median)", ratio, "", ">= 0.85")
        emit(f"colorize {label} hue share, testB vegetation", r["vegetation"][0], "", "")
        emit(f"colorize {label} hue share, portraits skin", r["portraits_skin"][0], "", "")


if __name__ == "__main__":
    main()
