"""`upscale` x4 speed on a 640x480 image (median of 5, after a warm-up), in seconds and MPix/s.

Then the same for untrained x4 SRResNets of other sizes (speed does not depend on the weights):
which widths and depths fit a time budget on this machine.

Run: python benchmarks/sr_speed.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import WEIGHTS, emit, image_data, machine, median_seconds, photo_640x480  # noqa: E402
from i2i.archs.registry import build  # noqa: E402
from i2i.checkpoint import LoadedModel, load_model  # noqa: E402
from i2i.engine.adapters import RGBAdapter  # noqa: E402
from i2i.engine.engine import Engine  # noqa: E402

# (channels, blocks): the shipped x4 sizes and smaller ones
SIZES = [(48, 8), (32, 6), (32, 4), (28, 4), (32, 3)]


def seconds_per_image(model, image) -> float:
    engine = Engine(model, RGBAdapter(task=model.task, keep_gray=True), device="cpu")
    return median_seconds(lambda: engine.run_image(image))


def untrained_x4(channels: int, blocks: int, like: LoadedModel) -> LoadedModel:
    """A fresh x4 SRResNet of this size, with `like`'s task (RGB in and out, scale 4)."""
    module, cfg = build("srresnet", {"scale": 4, "channels": channels, "blocks": blocks, "upsampler": "direct"})
    return LoadedModel(module=module.eval().requires_grad_(False), info=like.info, spec=like.spec, config=cfg)


def main() -> None:
    print(f"# SR speed on {machine()}")
    image = image_data(photo_640x480())
    shipped_x4 = None
    for path in sorted(WEIGHTS.glob("upscale-x*.safetensors")):
        model = load_model(path)
        if path.stem == "upscale-x4":
            shipped_x4 = model
        seconds = seconds_per_image(model, image)
        out_mpix = 640 * 480 * model.task.scale**2 / 1e6
        print(
            f"{path.stem}: 640x480 -> x{model.task.scale} in {seconds:.3f} s median "
            f"({out_mpix / seconds:.2f} output MPix/s)"
        )
        target = "<= 1.0 s" if path.stem == "upscale-x4" else ""
        emit(f"{path.stem} 640x480 seconds", seconds, "s", target)
        emit(f"{path.stem} output MPix/s", out_mpix / seconds, "MPix/s")
    for channels, blocks in SIZES if shipped_x4 else []:
        model = untrained_x4(channels, blocks, shipped_x4)
        params = sum(p.numel() for p in model.module.parameters())
        seconds = seconds_per_image(model, image)
        print(
            f"srresnet x4 {channels} ch {blocks} blocks ({params / 1e3:.0f}k params, untrained): "
            f"640x480 in {seconds:.3f} s median"
        )
        emit(f"srresnet x4 {channels}ch {blocks}b 640x480 seconds", seconds, "s")


if __name__ == "__main__":
    main()
