"""Colorization on monet2photo/testB (never trained on): PSNR of the reconstructed RGB against
the original, and colourfulness (Hasler-Suesstrunk) of outputs / originals, for the shipped
model, the all-gray baseline, optionally the same recipe with L1 alone (--l1-only) and a candidate (a
retrained model: old vs new). Per model: mean and median PSNR, the mean per-image PSNR gain over
the gray answer, and the mean and median per-image colourfulness ratio (issue 19's bar: median
ratio >= 0.7 with PSNR >= gray + 0.2 dB; issue 35's: median ratio >= 0.85 with PSNR >= gray +
0.5 dB).

Hue check (issue 35): on the vegetation and skin-coloured pixels of the originals, the share whose
predicted hue falls in the true hue's 60-degree sector (within 30 degrees either way, HSV hue);
a predicted pixel nearly gray (HSV saturation < HUE_MIN_SATURATION) has no hue and misses.
Pixels are picked on the original (see vegetation_mask, skin_mask): vegetation is green-hued and
clearly coloured (hue 65-165 degrees, saturation >= 0.25, value >= 0.12); skin is the YCbCr skin
box of Chai & Ngan (1999; Cb 77-127, Cr 133-173, on 0-255) at value >= 0.2, which also takes in
tan earth, rock and wood: on landscapes read it as "skin-toned". Shares pool all picked pixels of
all photos. The check runs on testB and on the portraits of Set5/Set14 (PORTRAITS; sr/val, out
of every colorize training set), where the skin box picks mostly faces and arms.

The shipped model is measured as `i2i colorize` runs it by default: with its portrait model
(training.portrait_stage) blended in per photo as far as the photo's people score calls for
(engine/choice.py); the colorizer alone (`--portrait 0`) is a row of its own.

Writes a contact sheet (gray | ours [| candidate] | original) of testB photos to
benchmarks/colorize_sheet.png, or --sheet PATH, and the same for the portraits next to it
(NAME_portraits.png).

Run: python benchmarks/colorize_quality.py [--candidate PATH] [--l1-only PATH] [--sheet PATH]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from benchmarks.common import DATA, ROOT, WEIGHTS, emit, machine  # noqa: E402
from i2i.checkpoint import read_info  # noqa: E402
from i2i.data.datasets import list_images  # noqa: E402
from i2i.data.image_io import read_image  # noqa: E402
from i2i.engine.adapters import rgb_of  # noqa: E402
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


HUE_SECTOR = 60.0  # degrees: the true hue +- 30
HUE_MIN_SATURATION = 0.08  # HSV saturation below which a predicted pixel has no hue
# Set5's head is a crop of Set14's face, and Set14's man is nearly gray: both left out.
PORTRAITS = ["Set5/baby.png", "Set5/woman.png"] + [f"Set14/{n}.png" for n in ("barbara", "face", "foreman", "lenna")]


def hsv(rgb):
    """(1, 3, H, W) RGB in [0, 1] -> hue in degrees [0, 360), saturation, value, each (H, W)."""
    r, g, b = rgb[0]
    value, which = rgb[0].max(0)
    chroma = value - rgb[0].min(0).values
    c = chroma.clamp(min=1e-8)
    hue = torch.where(which == 0, ((g - b) / c) % 6, torch.where(which == 1, (b - r) / c + 2, (r - g) / c + 4))
    hue = torch.where(chroma > 0, hue * 60, torch.zeros_like(hue))
    saturation = torch.where(value > 0, chroma / value.clamp(min=1e-8), torch.zeros_like(value))
    return hue, saturation, value


def vegetation_mask(rgb):
    """Green-hued, clearly coloured pixels of an original: grass, leaves, trees."""
    hue, sat, val = hsv(rgb)
    return (hue >= 65) & (hue <= 165) & (sat >= 0.25) & (val >= 0.12)


def skin_mask(rgb):
    """Chai & Ngan's (1999) YCbCr skin box (ITU-R BT.601, 0-255), away from the darkest pixels."""
    r, g, b = rgb[0] * 255
    cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
    return (cb >= 77) & (cb <= 127) & (cr >= 133) & (cr <= 173) & (rgb[0].max(0).values >= 0.2)


def hue_hits(out, original):
    """{class: (pixels whose predicted hue is in the true hue's sector, pixels of that class)}."""
    true_hue, _, _ = hsv(original)
    hue, sat, _ = hsv(out)
    diff = (hue - true_hue).abs()
    hit = (torch.minimum(diff, 360 - diff) <= HUE_SECTOR / 2) & (sat >= HUE_MIN_SATURATION)
    return {
        name: (int((hit & mask).sum()), int(mask.sum()))
        for name, mask in (("vegetation", vegetation_mask(original)), ("skin", skin_mask(original)))
    }


def hue_shares(colorize, files):
    """{class: (share of hits, pixels)}, pooled over the files; also the outputs and originals."""
    totals = {"vegetation": [0, 0], "skin": [0, 0]}
    shown = []
    for f in files:
        img = read_image(f)
        original = rgb_of(img)[None]
        out = colorize(img)
        for name, (hits, pixels) in hue_hits(out, original).items():
            totals[name][0] += hits
            totals[name][1] += pixels
        shown.append((out[0], original[0]))
    return {k: (h / max(n, 1), n) for k, (h, n) in totals.items()}, shown


def figures(colorize, files, gray_psnrs, portraits, originals=None) -> dict:
    """One colorizer's figures on `files` (testB) and the portraits: gain (dB, the mean over images
    of its PSNR minus gray_psnrs'), psnr and psnr_median (dB), ratio and ratio_median (colourfulness
    ratios, mean and median), portraits_skin ((share, pixels) of the hue check), shown and
    portraits_shown (the outputs; the portraits' with their originals); with `originals` ((1, 3, H,
    W) per file) also vegetation and skin_toned, the hue check pooled over `files`."""
    psnrs, ratios, shown = per_image(colorize, files)
    faces, portraits_shown = hue_shares(colorize, portraits)
    out = {
        "gain": statistics.fmean(p - g for p, g in zip(psnrs, gray_psnrs)),
        "psnr": statistics.fmean(psnrs),
        "psnr_median": statistics.median(psnrs),
        "ratio": statistics.fmean(ratios),
        "ratio_median": statistics.median(ratios),
        "portraits_skin": faces["skin"],
        "shown": shown,
        "portraits_shown": portraits_shown,
    }
    if originals is not None:
        land = pooled([hue_hits(o[None], x) for o, x in zip(shown, originals)])
        out.update(vegetation=land["vegetation"], skin_toned=land["skin"])
    return out


def evaluate(colorize, files):
    """(mean PSNR, mean colourfulness ratio, outputs)."""
    psnrs, ratios, shown = per_image(colorize, files)
    return statistics.fmean(psnrs), statistics.fmean(ratios), shown


def engine_colorizer(path, portrait: str = "auto"):
    """ImageData -> (1, 3, H, W): what `i2i colorize --model PATH --portrait PORTRAIT` gives, on
    the CPU (with a colorizer that names a portrait model and "auto", each photo through the
    blend its people score calls for)."""
    from i2i.engine.commands import ColorizeOptions, build_engine, recipe_for

    engine = build_engine(recipe_for(ColorizeOptions(model=str(path), portrait=portrait)), device="cpu")
    return lambda img: rgb_of(engine.run_image(img))[None]


def gray(img):
    from i2i.data.color import lab_to_rgb, rgb_to_lab

    lab = rgb_to_lab(rgb_of(img)[None])
    return lab_to_rgb(torch.cat([lab[:, :1], torch.zeros_like(lab[:, 1:])], 1))


def pooled(hits_per_image):
    """[{class: (hits, pixels)}] -> {class: (share, pixels)}."""
    out = {}
    for name in ("vegetation", "skin"):
        hits = sum(h[name][0] for h in hits_per_image)
        pixels = sum(h[name][1] for h in hits_per_image)
        out[name] = (hits / max(pixels, 1), pixels)
    return out


def display(t, short: int = 256):
    """(3, H, W) -> the same with its short side at `short` pixels (the sheet's row height)."""
    import torch.nn.functional as F

    h, w = t.shape[-2:]
    size = (round(h * short / min(h, w)), round(w * short / min(h, w)))
    return F.interpolate(t[None], size=size, mode="area" if min(h, w) > short else "bilinear")[0].clamp(0, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=str(WEIGHTS / "colorize.safetensors"))
    parser.add_argument("--l1-only", help="the same recipe trained with L1 alone (the desaturated baseline), as a row")
    parser.add_argument("--candidate", help="a retrained model to compare with the shipped one")
    parser.add_argument(
        "--sheet", default=str(ROOT / "benchmarks/colorize_sheet.png"), help="where the contact sheet goes"
    )
    args = parser.parse_args()
    files = list_images(DATA / "monet2photo/testB")
    portraits = [DATA / "sr/val" / p for p in PORTRAITS]
    print(
        f"# colorization on {len(files)} photos of monet2photo/testB (+ {len(portraits)} portraits for the hue check), {machine()}"
    )
    models = [("gray baseline", gray, "")] + ([("L1 only", args.l1_only, "")] if args.l1_only else [])
    models.append(("shipped", args.model, "35"))
    if read_info(args.model).training.get("portrait_stage"):
        models.append(("colorizer alone", args.model, ""))  # --portrait 0: without the portrait blend
    if args.candidate:
        models.append(("candidate", args.candidate, "35"))
    bars = {"35": (">= 0.5", ">= 0.85")}
    rows, portrait_rows = {}, {}
    originals = [rgb_of(read_image(f))[None] for f in files]
    gray_psnrs, gray_ratios, rows["gray baseline"] = per_image(gray, files)
    for label, fn, issue in models:
        if label == "gray baseline":
            p, c, c_median, gain = statistics.fmean(gray_psnrs), statistics.fmean(gray_ratios), 0.0, 0.0
            psnr_median = statistics.median(gray_psnrs)
        else:
            if not Path(fn).is_file():
                print(f"{label}: {fn} not found")
                continue
            fn = engine_colorizer(fn, "0" if label == "colorizer alone" else "auto")
            r = figures(fn, files, gray_psnrs, portraits, originals)
            rows[label], portrait_rows[label] = r["shown"], r["portraits_shown"]
            p, c, c_median, gain, psnr_median = r["psnr"], r["ratio"], r["ratio_median"], r["gain"], r["psnr_median"]
        print(
            f"{label:20} PSNR {p:6.2f} dB (median {psnr_median:6.2f}, {gain:+.3f} vs gray)  "
            f"colourfulness ratio {c:.3f} (median {c_median:.3f})"
        )
        gain_bar, ratio_bar = bars.get(issue, ("", ""))
        emit(f"colorize {label} PSNR", p, "dB", ">= gray baseline" if issue else "")
        emit(f"colorize {label} colourfulness ratio", c, "", "")
        if label != "gray baseline":
            emit(f"colorize {label} PSNR - gray (mean per image)", gain, "dB", gain_bar)
            emit(f"colorize {label} colourfulness ratio (median)", c_median, "", ratio_bar)
            veg, skin, faces = r["vegetation"], r["skin_toned"], r["portraits_skin"]
            print(
                f"{'':20} hue in the true 60-degree sector: testB vegetation {veg[0]:.3f} "
                f"({veg[1]} px), testB skin-toned {skin[0]:.3f} ({skin[1]} px), "
                f"portraits skin {faces[0]:.3f} ({faces[1]} px)"
            )
            emit(f"colorize {label} hue share, testB vegetation", veg[0], "", "")
            emit(f"colorize {label} hue share, testB skin-toned", skin[0], "", "")
            emit(f"colorize {label} hue share, portraits skin", faces[0], "", "")
    if "shipped" in rows:
        from i2i.training.plots import save_grid

        shown = ["gray baseline", "shipped"] + (["candidate"] if "candidate" in rows else [])
        grid = [[rows[k][i] for k in shown] + [originals[i][0]] for i in range(8)]
        save_grid(grid, Path(args.sheet))
        models_shown = [k for k in shown if k in portrait_rows]
        faces = [
            [display(gray(read_image(f))[0])]
            + [display(portrait_rows[k][i][0]) for k in models_shown]
            + [display(portrait_rows[models_shown[0]][i][1])]
            for i, f in enumerate(portraits)
        ]
        sheet = Path(args.sheet)
        save_grid(faces, sheet.with_name(f"{sheet.stem}_portraits.png"))
        print(
            f"contact sheets: {args.sheet} and its _portraits twin "
            f"(gray | ours{' | candidate' if 'candidate' in rows else ''} | original)"
        )


if __name__ == "__main__":
    main()
