"""Where `i2i colorize`'s portrait blend ramps (interpolation.PORTRAIT_SCORE_RAMP): the people
scores (data/people_estimate.py) of the colorizer's training photos (its held-out split left
out), those with people (retrain_shipped.PEOPLE) and the others, and the ramp they imply: from
the others' 95th percentile (a photo without people rarely scores higher) to the median of those
with people. The held-out photos and the photos the colorizer is judged on (monet2photo/testB,
the Set5/Set14 portraits) are scored too, for the record: they do not set the ramp.

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
from retrain_shipped import PEOPLE  # noqa: E402

from i2i.data.datasets import list_images, spread_holdout  # noqa: E402
from i2i.data.image_io import read_image  # noqa: E402
from i2i.data.people_estimate import people_score  # noqa: E402
from i2i.interpolation import PORTRAIT_SCORE_RAMP  # noqa: E402

TRAINING = ("sr/train/T91", "sr/train/BSD200", "monet2photo/trainB")  # in the runs' --data order
HOLDOUT = 60  # the runs' --holdout
PORTRAITS = ["Set5/baby.png", "Set5/woman.png"] + [f"Set14/{n}.png" for n in ("barbara", "face", "foreman", "lenna")]


def scores(files) -> list[float]:
    return [people_score(read_image(f)) for f in files]


def quantiles(values, points=(0.1, 0.5, 0.9, 0.95, 1.0)) -> str:
    return ", ".join(f"{p:g}: {np.quantile(values, p):.3f}" for p in points)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args(argv)
    people = {(args.data / p).resolve() for p in PEOPLE}
    photos = [f.resolve() for folder in TRAINING for f in list_images(args.data / folder)]
    # The shipped colorizer's runs held these out (--holdout, datasets.PhotoCrops' split): they
    # check the ramp, so they do not set it.
    held = spread_holdout(photos, HOLDOUT)
    training = [f for f in photos if f not in held]
    with_people = scores(f for f in training if f.resolve() in people)
    others = scores(f for f in training if f.resolve() not in people)
    print(f"training photos with people ({len(with_people)}): {quantiles(with_people)}")
    print(f"training photos without ({len(others)}): {quantiles(others)}")
    print(
        f"ramp they imply: {np.quantile(others, 0.95):.2f} to {np.median(with_people):.2f} (shipped: {PORTRAIT_SCORE_RAMP})"
    )
    held_scores = {f: score for f, score in zip(sorted(held), scores(sorted(held)))}
    flagged = {f.name: round(v, 3) for f, v in held_scores.items() if v > PORTRAIT_SCORE_RAMP[0]}
    print(f"held-out photos ({len(held)}): {quantiles(list(held_scores.values()))}; above the ramp's start: {flagged}")
    test = scores(list_images(args.data / "monet2photo/testB"))
    print(f"monet2photo/testB ({len(test)}): {quantiles(test)}")
    portraits = scores(args.data / "sr/val" / p for p in PORTRAITS)
    print("portraits: " + ", ".join(f"{Path(p).stem} {s:.3f}" for p, s in zip(PORTRAITS, portraits)))


if __name__ == "__main__":
    main()
