"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("I2I_SHARED", ROOT.parent / "shared")) / "data"
WEIGHTS = ROOT / "weights"
# cycles/pixel around each grid frequency that style_quality.py's and pix2pix_quality.py's grid
# ratios count: a periodic grid is a sharp peak; a wider band adds the image's own texture
GRID_BAND = 1 / 256


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), torch {torch.__version__}, {torch.get_num_threads()} threads"


def median_seconds(fn, repeats: int = 5, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def emit(name: str, value, unit: str = "", target: str = "") -> None:
    """One figure per line, machine-readable for benchmarks/__main__.py: FIGURE|name|value|unit|target."""
    shown = f"{value:.4g}" if isinstance(value, float) else str(value)
    print(f"FIGURE|{name}|{shown}|{unit}|{target}", flush=True)


def photo_640x480():
    """The speed benchmarks' input: a real photo (Set14 comic) resized to 640x480, as PIL."""
    from PIL import Image

    return Image.open(DATA / "sr/val/Set14/comic.png").convert("RGB").resize((640, 480), Image.BICUBIC)


def image_data(pil):
    """PIL RGB image -> the engine's ImageData."""
    import numpy as np

    from i2i.data.image_io import ImageData

    return ImageData(np.asarray(pil, dtype=np.float32) / 255)
