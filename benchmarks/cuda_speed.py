"""On a CUDA device: `upscale` x4 of a 640x480 image (fp32 and fp16, median of 5 after a warm-up),
a folder of 640x480 PNGs through the whole engine (decode, batches, encode), and training it/s of
pix2pix and CycleGAN at 256x256 (batch 1 as the reference, and larger) in fp32 and with bf16
autocast.
Prints nothing measured where there is no CUDA device; not part of the default CPU run.

Run: python benchmarks/cuda_speed.py   (or: python -m benchmarks cuda_speed.py)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.common import WEIGHTS, emit, image_data, machine, median_seconds, photo_640x480  # noqa: E402
from benchmarks.train_speed import ours  # noqa: E402
from i2i.checkpoint import load_model  # noqa: E402
from i2i.engine.adapters import RGBAdapter  # noqa: E402
from i2i.engine.engine import Engine  # noqa: E402
from i2i.engine.inputs import OutputOptions, expand_inputs  # noqa: E402

FOLDER_IMAGES = 32


def upscale_single(pil: Image.Image) -> None:
    image = image_data(pil)
    model_path = WEIGHTS / "upscale-x4.safetensors"
    for precision in ("fp32", "fp16"):
        model = load_model(model_path)
        engine = Engine(model, RGBAdapter(task=model.task), device="cuda", precision=precision)
        seconds = median_seconds(lambda: engine.run_image(image))
        print(f"upscale-x4 {precision}: 640x480 -> x4 in {seconds * 1000:.1f} ms median")
        emit(f"cuda upscale-x4 640x480 {precision} seconds", seconds, "s")


def upscale_folder(pil: Image.Image, tmp: Path) -> None:
    folder = tmp / "in"
    folder.mkdir()
    for i in range(FOLDER_IMAGES):
        pil.rotate(180 * (i % 2)).save(folder / f"{i:03d}.png")
    model = load_model(WEIGHTS / "upscale-x4.safetensors")
    engine = Engine(model, RGBAdapter(task=model.task), device="cuda", precision="fp16")
    for attempt in ("warm-up", "timed"):
        out = OutputOptions(out=str(tmp / attempt), overwrite=True)
        started = time.perf_counter()
        jobs, _, _ = expand_inputs([str(folder)])
        results = list(engine.process(jobs, out))
        seconds = time.perf_counter() - started
        assert not any(r.error for r in results), [r.error for r in results if r.error]
    rate = FOLDER_IMAGES / seconds
    print(
        f"upscale-x4 fp16 folder of {FOLDER_IMAGES} 640x480 PNGs: {rate:.2f} images/s "
        f"(PNG encoding of 2560x1920 outputs included)"
    )
    emit("cuda upscale-x4 folder images/s (640x480 PNG in and out)", rate, "img/s")


def training(tmp: Path) -> None:
    for method, batch in (("pix2pix", 1), ("pix2pix", 16), ("cyclegan", 1), ("cyclegan", 8)):
        for precision in ("fp32", "bf16"):
            rate = ours(
                method,
                20,
                tmp / f"{method}-{batch}-{precision}",
                batch_size=batch,
                device="cuda",
                precision=precision,
                workers=4,
            )
            print(f"train {method} (batch {batch}, 256x256) {precision}: {rate:.2f} it/s")
            emit(f"cuda train {method} batch {batch} {precision} it/s", rate, "it/s")


def main() -> None:
    if not torch.cuda.is_available():
        print("# no CUDA device here: nothing measured")
        return
    print(f"# CUDA speed on {torch.cuda.get_device_name()}; host {machine()}")
    pil = photo_640x480()
    upscale_single(pil)
    with tempfile.TemporaryDirectory() as tmp:
        upscale_folder(pil, Path(tmp))
        training(Path(tmp))


if __name__ == "__main__":
    main()
