"""The scripts (scripts/) and benchmarks (benchmarks/) that no fast test runs still load."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "path", sorted([*(ROOT / "scripts").glob("*.py"), *(ROOT / "benchmarks").glob("*.py")]), ids=lambda p: p.name
)
def test_every_script_and_benchmark_imports(path, monkeypatch):
    """Their module-level imports resolve: scripts/calibrate_denoise_auto.py imported names that a
    refactor of i2i/interpolation.py had removed, and nothing noticed until it was run."""
    name = f"_checked_{path.parent.name}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
