"""`upscale` x4 speed on a 640x480 image (median of 5, after a warm-up), in seconds and MPix/s.

Run: python benchmarks/sr_speed.py
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import WEIGHTS, emit, image_data, machine, median_seconds, photo_640x480  # noqa: E402
from i2i.checkpoint import load_model  # noqa: E402
from i2i.engine.adapters import RGBAdapter  # noqa: E402
from i2i.engine.engine import Engine  # noqa: E402


def main() -> None:
    print(f"# SR speed on {machine()}")
    image = image_data(photo_640x480())
    for path in sorted(WEIGHTS.glob("upscale-x*.safetensors")):
        model = load_model(path)
        engine = Engine(model, RGBAdapter(task=model.task, keep_gray=True), device="cpu")
        seconds = median_seconds(lambda: engine.run_image(image))
        out_mpix = 640 * 480 * model.task.scale ** 2 / 1e6
        print(f"{path.stem}: 640x480 -> x{model.task.scale} in {seconds:.3f} s median "
              f"({out_mpix / seconds:.2f} output MPix/s)")
        target = "<= 1.0 s" if path.stem == "upscale-x4" else ""
        emit(f"{path.stem} 640x480 seconds", seconds, "s", target)
        emit(f"{path.stem} output MPix/s", out_mpix / seconds, "MPix/s")


if __name__ == "__main__":
    main()
