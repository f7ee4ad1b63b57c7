"""Stylize speed: one 1024x768 image (median of 5 after a warm-up), and images/s over a folder
of 512 px photos through `i2i stylize`.

Run: python benchmarks/style_speed.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.common import DATA, WEIGHTS, emit, machine, median_seconds  # noqa: E402
from i2i.checkpoint import load_model  # noqa: E402
from i2i.data.datasets import list_images  # noqa: E402
from i2i.data.image_io import read_image  # noqa: E402
from i2i.engine.adapters import RGBAdapter  # noqa: E402
from i2i.engine.engine import Engine  # noqa: E402


def main() -> None:
    styles = sorted(WEIGHTS.glob("style-*.safetensors"))
    if not styles:
        print("no shipped style yet")
        return
    path = styles[0]
    print(f"# stylize speed ({path.stem}) on {machine()}")
    src = read_image(DATA / "sr/val/Set14/lenna.png")
    pil = Image.fromarray((src.pixels * 255).astype(np.uint8)).resize((1024, 768), Image.BICUBIC)
    image = src.with_pixels(np.asarray(pil, dtype=np.float32) / 255)
    model = load_model(path)
    engine = Engine(model, RGBAdapter(task=model.task), device="cpu")
    seconds = median_seconds(lambda: engine.run_image(image))
    print(f"1024x768: {seconds:.3f} s median")
    emit("stylize 1024x768 seconds", seconds, "s", "<= 1.5")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        files = list_images(DATA / "monet2photo/testB")[:16]
        for f in files:
            Image.open(f).resize((512, 512), Image.BICUBIC).save(tmp / "in" / f.name)
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "i2i",
                "stylize",
                "--style",
                str(path),
                str(tmp / "in"),
                "-o",
                str(tmp / "out"),
                "--quiet",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        rate = len(files) / (time.perf_counter() - start)
    print(f"folder of {len(files)} 512x512 photos: {rate:.2f} images/s (including start-up)")
    emit("stylize 512px folder images/s", rate, "img/s")


if __name__ == "__main__":
    main()
