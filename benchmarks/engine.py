"""Engine throughput and memory.

1. images/s of `translate` over a folder of 256x256 real photos with unet_256 and resnet_9blocks
   generators (reference sizes, random weights: speed does not depend on training), against a
   plain loop (batch 1, NCHW, torch.no_grad, PIL decode/encode in the same thread), as a ratio.
2. Peak RSS of `i2i upscale` (x4, tiled) on one large image, measured in a child process.

Run: python benchmarks/engine.py [--images 24] [--rss-size 6000x4000]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.common import DATA, WEIGHTS, emit, machine  # noqa: E402
from i2i.archs.registry import build  # noqa: E402
from i2i.checkpoint import ModelInfo, save_model  # noqa: E402
from i2i.data.datasets import list_images  # noqa: E402
from i2i.task import Task  # noqa: E402


def plain_loop(module, files, out_dir: Path) -> float:
    """What a user writes by hand: one image at a time, decode, run, encode, all in one thread."""
    start = time.perf_counter()
    with torch.no_grad():
        for f in files:
            x = torch.from_numpy(np.asarray(Image.open(f).convert("RGB"), dtype=np.float32) / 255)
            y = module(x.permute(2, 0, 1)[None] * 2 - 1)
            arr = ((y[0].permute(1, 2, 0).clamp(-1, 1) + 1) * 127.5 + 0.5).byte().numpy()
            Image.fromarray(arr).save(out_dir / (f.stem + ".png"))
    return len(files) / (time.perf_counter() - start)


def i2i_translate(model_path: Path, in_dir: Path, out_dir: Path, n: int) -> float:
    """The engine behind `i2i translate`, in process (start-up excluded, as for the plain loop)."""
    from i2i.checkpoint import load_model
    from i2i.engine.adapters import RGBAdapter
    from i2i.engine.engine import Engine
    from i2i.engine.inputs import OutputOptions, expand_inputs

    model = load_model(model_path)
    engine = Engine(model, RGBAdapter(task=model.task), device="cpu")
    jobs, _, _ = expand_inputs([str(in_dir)])
    start = time.perf_counter()
    results = list(engine.process(jobs, OutputOptions(out=str(out_dir), ext="png")))
    assert all(r.ok for r in results)
    return n / (time.perf_counter() - start)


def throughput(n_images: int, repeats: int = 3) -> None:
    files = list_images(DATA / "monet2photo/testB")[:n_images]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        for f in files:
            Image.open(f).save(tmp / "in" / f.name)
        for arch, options in (("unet", {}), ("resnet", {})):
            torch.manual_seed(0)
            module, cfg = build(arch, options)
            module.eval()
            path = tmp / f"{arch}.safetensors"
            save_model(path, module, ModelInfo(arch=arch, options=dataclasses.asdict(cfg), task=Task()))
            bases, oursl = [], []
            for r in range(repeats):  # alternated, so that a slow spell hits both
                (tmp / f"plain-{arch}-{r}").mkdir()
                bases.append(plain_loop(module, sorted((tmp / "in").iterdir()), tmp / f"plain-{arch}-{r}"))
                oursl.append(i2i_translate(path, tmp / "in", tmp / f"ours-{arch}-{r}", len(files)))
            base, ours = statistics.median(bases), statistics.median(oursl)
            name = {"unet": "unet_256", "resnet": "resnet_9blocks"}[arch]
            print(
                f"{name}: plain loop {base:.2f} img/s, i2i translate {ours:.2f} img/s "
                f"ratio {ours / base:.2f} on {len(files)} images (medians of {repeats} runs)"
            )
            emit(f"translate {name} images/s", ours, "img/s")
            emit(f"translate {name} ratio vs plain loop", ours / base, "x", ">= 1.5")


_RSS_WRAPPER = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def peak_rss(size: str) -> None:
    w, h = map(int, size.split("x"))
    model = WEIGHTS / "upscale-x4.safetensors"
    if not model.is_file():
        print("upscale-x4 not shipped yet: peak RSS not measured")
        return
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "big.png"
        photo = Image.open(list_images(DATA / "sr/train/BSD200")[0]).convert("RGB")
        photo.resize((w, h), Image.BICUBIC).save(src, compress_level=1)
        command = [sys.executable, "-m", "i2i", "upscale", str(src), "-o", str(Path(tmp) / "out.png"), "--quiet"]
        start = time.perf_counter()
        # A wrapper process whose only child is the upscale: its RUSAGE_CHILDREN is that child's peak.
        report = subprocess.run(
            [sys.executable, "-c", _RSS_WRAPPER, *command], check=True, capture_output=True, text=True
        )
        seconds = time.perf_counter() - start
        rss_gib = int(report.stdout.split()[-1]) / 2**20
        out_size = Image.open(Path(tmp) / "out.png").size
    assert out_size == (4 * w, 4 * h), out_size
    print(f"upscale x4 of {w}x{h}: peak RSS {rss_gib:.2f} GiB, {seconds:.0f} s")
    emit(f"upscale x4 {w}x{h} peak RSS", rss_gib, "GiB", "< 2 (for 6000x4000)")


def folder_scaling(n_images: int) -> None:
    """`torchrun -m i2i upscale` over one folder with 1 and 2 processes (threads split evenly)."""
    model = WEIGHTS / "upscale-x4.safetensors"
    if not model.is_file():
        return
    files = list_images(DATA / "monet2photo/testB")[:n_images]
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        for f in files:
            Image.open(f).resize((128, 128), Image.BICUBIC).save(tmp / "in" / (f.stem + ".png"))
        for n in (1, 2):
            cmd = [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--nproc_per_node",
                str(n),
                "-m",
                "i2i",
                "upscale",
                str(tmp / "in"),
                "-o",
                str(tmp / f"out{n}"),
                "--quiet",
            ]
            env = {**os.environ, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 2) // n))}
            start = time.perf_counter()
            subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
            rates[n] = len(files) / (time.perf_counter() - start)
            print(f"folder job, {len(files)} images 128->512 px, {n} process(es): {rates[n]:.2f} img/s (with start-up)")
            emit(f"torchrun upscale folder {n} proc images/s", rates[n], "img/s")
    emit("torchrun upscale folder 2 vs 1 proc ratio", rates[2] / rates[1], "x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--rss-size", default="6000x4000", help="image size for the peak-RSS upscale")
    args = parser.parse_args()
    print(f"# engine on {machine()}")
    throughput(args.images)
    folder_scaling(16)
    peak_rss(args.rss_size)


if __name__ == "__main__":
    main()
