"""The Python front door: README's "Python" example runs as written, with `from i2i import` only."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def readme_python_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Python\n", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_python_example_imports_only_from_i2i():
    code = readme_python_example()
    imports = [line.strip() for line in code.splitlines() if re.match(r"\s*(from|import)\s", line)]
    assert imports and all(line.startswith("from i2i import ") for line in imports), imports
    import i2i

    for line in imports:
        for name in line.removeprefix("from i2i import ").split(","):
            assert name.strip() in i2i.__all__ and getattr(i2i, name.strip()) is not None


def test_readme_python_example_runs_on_a_real_photo(tmp_path, data):
    """The example, extracted from README.md, run in a fresh interpreter beside a real photo
    (cropped small to keep it quick): the upscaled image is 4x the photo, in [0, 1], and the
    ONNX export is written."""
    photo = next(iter(sorted((data / "sr/val/Set5").glob("*.png"))), None)
    if photo is None:
        pytest.skip("no Set5 photo")
    Image.open(photo).convert("RGB").crop((0, 0, 48, 40)).save(tmp_path / "photo.png")
    (tmp_path / "weights").symlink_to(ROOT / "weights")
    script = readme_python_example() + (
        "\nimport numpy\nprint('SIZE', big.pixels.shape, float(big.pixels.min()), float(big.pixels.max()))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "2"},
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    size = re.search(r"SIZE \((\d+), (\d+), (\d+)\) (\S+) (\S+)", r.stdout)
    assert size and tuple(map(int, size.groups()[:3])) == (160, 192, 3)
    assert 0.0 <= float(size.group(4)) <= float(size.group(5)) <= 1.0
    assert (tmp_path / "upscale-x4.onnx").stat().st_size > 10_000
    assert r.stdout.split()[0] in ("torch", "onnxruntime", "openvino")  # print(engine.runner.last_backend)
