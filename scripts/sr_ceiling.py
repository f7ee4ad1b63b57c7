"""An experiment, not a recipe: `i2i train srgan --degradation real ...` with the training
degradation swapped for the benchmark's own (benchmarks/sr_real.py's FixedDegradation: blur
sigma 1.2, bicubic /4, noise sigma 5/255, JPEG 50), a fresh noise seed per patch. The model it
trains knows the exact degradation it is scored on, so its score is the ceiling of that
network on the benchmark: a blind (real-world) model of the same size should not beat it.

Run: python scripts/sr_ceiling.py train srgan --degradation real [the usual srgan options]
(weights/README.md, upscale-x4-real-psnr, has the command and what it measured.)
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from PIL import Image

from i2i.cli import main
from i2i.data import degradations

FIXED = degradations.FixedDegradation()


def benchmark_degradation(self, hr: torch.Tensor, scale: int, rng: np.random.Generator) -> torch.Tensor:
    """RealDegradation.__call__'s signature: (C, H, W) HR in [0, 1] -> 8-bit LR in [0, 1]."""
    arr = (hr.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    lr = FIXED(Image.fromarray(arr), scale, seed=int(rng.integers(0, 2**31)))
    return torch.from_numpy(np.asarray(lr, dtype=np.float32).transpose(2, 0, 1) / 255)


if __name__ == "__main__":
    degradations.RealDegradation.__call__ = benchmark_degradation  # the data workers fork after this
    sys.argv[0] = "i2i"
    main()
