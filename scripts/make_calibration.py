"""Make the int8 calibration crops in i2i/engine/calibration/ (see the README there).

Each crop is a fixed SIDE x SIDE window of an image from ../shared/data that no evaluation uses
(training images only: not Set5/Set14, the monet2photo test split, or the held-back facades),
chosen for variety: a face, fur, foliage, architecture, sky and water, a label map, a painting.

Run: python scripts/make_calibration.py  (I2I_SHARED names the shared folder; default ../shared)
"""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("I2I_SHARED", ROOT.parent / "shared")) / "data"
OUT = ROOT / "i2i" / "engine" / "calibration"
SIDE = 96
CROPS = [  # (source under data/, name, box left/top in source pixels, source box side before resizing)
    ("sr/train/BSD200/12003.png", "bsd-12003", (100, 60), 192),
    ("sr/train/BSD200/118035.png", "bsd-118035", (150, 80), 192),
    ("sr/train/BSD200/135069.png", "bsd-135069", (200, 100), 192),
    ("sr/train/T91/tt2.png", "t91-tt2", (100, 80), 192),
    ("monet2photo/trainB/000910d219.jpg", "photo-000910d219", (40, 40), 192),
    ("monet2photo/trainA/000c1e3bff.jpg", "monet-000c1e3bff", (40, 40), 192),
    ("facades/train/100.jpg", "facade-labels-100", (256 + 64, 64), 128),
]


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for source, name, (left, top), side in CROPS:
        with Image.open(DATA / source) as image:
            crop = image.convert("RGB").crop((left, top, left + side, top + side))
        crop.resize((SIDE, SIDE), Image.BICUBIC).save(OUT / f"{name}.png", optimize=True)
        print(f"{name}.png <- data/{source} box ({left}, {top}, {left + side}, {top + side})")


if __name__ == "__main__":
    main()
