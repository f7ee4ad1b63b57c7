"""Tile size and overlap for large inputs, measured: seconds, peak memory and seam error per choice.

For each model (the shipped upscale-x4 or any shipped model by name, and the community models
users bring, in RealESRGAN_x4plus's RRDB and realesr-general-x4v3's SRVGGNetCompact shapes, built
with spandrel's code and seeded random weights as in benchmarks/backends.py), a real photo (Set14
pepper, resized to --size) through i2i's engine with its defaults (backend auto, precision auto), once
untiled and once per tile size (input pixels per side, at the engine's default overlap) and per
overlap (at the default 512-pixel tile). Each choice runs in a fresh process, so its peak
resident memory (ru_maxrss) is its own; seconds are the median of --rounds runs after a warm-up
run (which compiles the runtime's graph for the tile's shape). The seam error is the tiled
output's difference to the untiled one in 8-bit levels before rounding (mean, and the largest,
where a seam shows first; below 0.5 no 8-bit file shows it). Random weights are no model's trained receptive field: for the community
rows the error says whether the overlap covers the network's reach, not what a user would see;
the shipped model's row is a trained one. For styles with instance norm the error is mostly not
seams but the statistics of the downscaled copy every tile shares (README's stylize), spread
evenly over the image.

The engine's defaults (engine/runner.py): tiles of 512 input pixels above 1024x1024 pixels,
overlap max(32, 2 x the architecture's receptive margin).

Run: python benchmarks/tiling.py [--models upscale-x4,srvgg,rrdb] [--size 1280x960] [--rounds 3]
     [--tiles 0,256,384,512,768] [--overlaps 16,32,64,128] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from benchmarks.common import DATA, WEIGHTS, emit, image_data, machine  # noqa: E402

DEFAULT_TILE = 512


def model_file(name: str, tmp: Path) -> Path:
    """The checkpoint a model name stands for: a community .pth (rrdb, srvgg: random weights), or a
    shipped model's file (upscale-x4, style-starry-night, ...)."""
    community = {"rrdb": "RealESRGAN_x4plus.pth", "srvgg": "realesr-general-x4v3.pth"}
    if name not in community:
        return WEIGHTS / f"{name}.safetensors"
    from benchmarks.backends import community_models

    wanted = community[name]
    return next(path for _, path, _ in community_models(tmp) if path.name == wanted)


def photo(size: tuple[int, int]):
    from PIL import Image

    return Image.open(DATA / "sr/val/Set14/pepper.png").convert("RGB").resize(size, Image.BICUBIC)


def run_one(args) -> None:
    """Child process: one tile choice; prints a JSON line, saves the output (float32, 0-1)."""
    import torch

    from i2i.checkpoint import load_model
    from i2i.engine.adapters import RGBAdapter
    from i2i.engine.engine import Engine

    torch.set_num_threads(args.threads)
    model = load_model(Path(args.file))
    engine = Engine(
        model, RGBAdapter(task=model.task), device="cpu", precision="auto", tile=args.tile, tile_overlap=args.overlap
    )
    image = image_data(photo(args.size))
    start = time.perf_counter()
    out = engine.run_image(image).pixels  # warm-up: the first use of this shape compiles
    first = time.perf_counter() - start
    seconds = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        out = engine.run_image(image).pixels
        seconds.append(time.perf_counter() - start)
    np.save(args.save, np.asarray(out, dtype=np.float32))
    print(
        json.dumps(
            {
                "seconds": statistics.median(seconds),
                "first": first,
                "backend": engine.runner.last_backend,
                "overlap": engine.runner.overlap,
                "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def measure(args, file: Path, tile: int, overlap: int | None, save: Path) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--one",
        "--file",
        str(file),
        "--tile",
        str(tile),
        "--save",
        str(save),
        "--size",
        f"{args.size[0]}x{args.size[1]}",
        "--rounds",
        str(args.rounds),
        "--threads",
        str(args.threads),
    ]
    if overlap is not None:
        cmd += ["--overlap", str(overlap)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"tile {tile} overlap {overlap} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def seam_error(tiled: Path, whole: Path) -> tuple[float, float]:
    """Mean and largest difference of the tiled output to the untiled one, in 8-bit levels (before
    rounding: a difference below half a level never shows in an 8-bit file)."""
    d = np.abs(np.load(tiled) - np.load(whole)) * 255
    return float(d.mean()), float(d.max())


def sweep(args, name: str, tmp: Path) -> None:
    file = model_file(name, tmp)
    choices = (
        [(0, None)]
        + [(t, None) for t in args.tiles if t]
        + [(DEFAULT_TILE, o) for o in args.overlaps if o < DEFAULT_TILE]
    )
    w, h = args.size
    print(f"\n## {name} ({file.name}), on {w}x{h}")
    print(
        f"{'tile':>6} {'overlap':>8} {'seconds':>8} {'vs untiled':>10} {'peak MB':>8} {'seam mean':>10} "
        f"{'seam max':>10}  backend"
    )
    whole = tmp / f"{name}-whole.npy"
    base = None
    for tile, overlap in choices:
        save = whole if tile == 0 else tmp / f"{name}-{tile}-{overlap}.npy"
        r = measure(args, file, tile, overlap, save)
        base = base or r["seconds"]
        mean, worst = seam_error(save, whole)
        shown = "-" if tile == 0 else str(r["overlap"])
        print(
            f"{tile or 'none':>6} {shown:>8} {r['seconds']:8.2f} {r['seconds'] / base:9.2f}x "
            f"{r['rss_mb']:8.0f} {mean:10.4f} {worst:10.3f}  {r['backend']}",
            flush=True,
        )
        label = f"tiling {name} {w}x{h} tile {tile or 'none'} overlap {shown}"
        emit(f"{label} seconds", r["seconds"], "s")
        emit(f"{label} peak memory", r["rss_mb"], "MB")
        if tile:
            emit(f"{label} largest seam error", worst, "/255")


def size(text: str) -> tuple[int, int]:
    w, h = text.lower().split("x")
    return int(w), int(h)


def ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="upscale-x4,srvgg,rrdb")
    parser.add_argument("--size", type=size, default=(1280, 960))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tiles", type=ints, default=[256, 384, 512, 768, 1024])
    parser.add_argument("--overlaps", type=ints, default=[16, 32, 64, 128])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--tile", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--overlap", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--save", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return run_one(args)
    import torch

    torch.set_num_threads(args.threads)
    print(f"# tiling of large inputs on {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            sweep(args, name, Path(tmp))


if __name__ == "__main__":
    main()
