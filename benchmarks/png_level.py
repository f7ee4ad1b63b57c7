"""Why PNG outputs use zlib level 1: encode time and size of a 2560x1920 photo (an x4 upscale of
640x480) at levels 1 and 6 (Pillow's default), median of 3.

Run: python benchmarks/png_level.py
"""

from __future__ import annotations

import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image  # noqa: E402

from benchmarks.common import emit, machine, photo_640x480  # noqa: E402


def main() -> None:
    print(f"# PNG encoding on {machine()}")
    image = photo_640x480().resize((2560, 1920), Image.BICUBIC)
    for level in (1, 6):
        times, size = [], 0
        for _ in range(3):
            buf = io.BytesIO()
            started = time.perf_counter()
            image.save(buf, format="PNG", compress_level=level)
            times.append(time.perf_counter() - started)
            size = len(buf.getvalue())
        seconds = statistics.median(times)
        print(f"level {level}: {seconds:.3f} s, {size / 1e6:.2f} MB")
        emit(f"PNG 2560x1920 level {level} seconds", seconds, "s")
        emit(f"PNG 2560x1920 level {level} size", size / 1e6, "MB")


if __name__ == "__main__":
    main()
