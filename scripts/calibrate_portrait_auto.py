"""Where `i2i colorize`'s portrait blend ramps (interpolation.PORTRAIT_SCORE_RAMP): the people
scores (data/people_estimate.py) of the colorizer's training photos, those with people
(retrain_shipped.PEOPLE) and the others, and the ramp they imply: from the others' 95th percentile
(a photo without people rarely scores higher) to the median of those with people. The photos the
colorizer is judged on (monet2photo/testB, the Set5/Set14 portraits) are scored too, for the
record: they do not set the ramp.

Run: python scripts/calibrate_portrait_auto.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from retrain_shipped import PEOPLE  # noqa: E402

from i2i.data.datasets import list_images  # noqa: E402
from i2i.data.people_estimate import people_score  # noqa: E402
from i2i.interpolation import PORTRAIT_SCORE_RAMP  # noqa: E402

TRAINING = ("sr/train/T91", "sr/train/BSD200", "monet2photo/trainB")
PORTRAITS = ["Set5/baby.png", "Set5/woman.png"] + [f"Set14/{n}.png" for n in ("barbara", "face", "foreman", "lenna")]


def scores(files) -> list[float]:
    out = []
    for f in files:
        with Image.open(f) as image:
            out.append(people_score(image))
    return out


def quantiles(values, points=(0.1, 0.5, 0.9, 0.95, 1.0)) -> str:
    return ", ".join(f"{p:g}: {np.quantile(values, p):.3f}" for p in points)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args(argv)
    people = {(args.data / p).resolve() for p in PEOPLE}
    training = [f for folder in TRAINING for f in list_images(args.data / folder)]
    with_people = scores(f for f in training if f.resolve() in people)
    others = scores(f for f in training if f.resolve() not in people)
    print(f"training photos with people ({len(with_people)}): {quantiles(with_people)}")
    print(f"training photos without ({len(others)}): {quantiles(others)}")
    print(
        f"ramp they imply: {np.quantile(others, 0.95):.2f} to {np.median(with_people):.2f} (shipped: {PORTRAIT_SCORE_RAMP})"
    )
    test = scores(list_images(args.data / "monet2photo/testB"))
    print(f"monet2photo/testB ({len(test)}): {quantiles(test)}")
    portraits = scores(args.data / "sr/val" / p for p in PORTRAITS)
    print("portraits: " + ", ".join(f"{Path(p).stem} {s:.3f}" for p, s in zip(PORTRAITS, portraits)))


if __name__ == "__main__":
    main()
