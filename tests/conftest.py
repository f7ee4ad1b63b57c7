"""Shared fixtures: the real data beside the repo, and running the real CLI."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

# A bare `pytest` from a Python without i2i's dependencies would fail at collection with one
# ImportError per test file; say once what to run instead (README: `make test` builds .venv).
_missing = [name for name in ("torch", "PIL", "typer") if importlib.util.find_spec(name) is None]
if _missing:
    pytest.exit(
        f"{sys.executable} lacks {', '.join(_missing)}: run the tests with `make test` "
        "(it creates .venv with i2i and its test extras, then runs pytest there)",
        returncode=4,
    )

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tests import benchmarks/ helpers (the figures they guard)
SHARED = Path(os.environ.get("I2I_SHARED", ROOT.parent / "shared")) / "data"
# Exported graphs and backend measurements of test models stay out of the user's cache folder
# (and persist between test runs: the test models are seeded, so their keys repeat).
os.environ.setdefault("I2I_CACHE_DIR", str(ROOT / ".pytest_cache" / "i2i-cache"))


@pytest.fixture(scope="session")
def data() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"real data not found at {SHARED}")
    return SHARED


def run_cli(*args, input: bytes | None = None, cwd=None, env=None) -> subprocess.CompletedProcess:
    """Run `python -m i2i ARGS` as a user would; returns the completed process (bytes out)."""
    full_env = {**os.environ, "OMP_NUM_THREADS": "2", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "i2i", *map(str, args)],
        input=input,
        capture_output=True,
        cwd=cwd,
        env=full_env,
        timeout=600,
    )


@pytest.fixture
def cli():
    return run_cli


def start_cli(*args, env=None) -> subprocess.Popen:
    """Like run_cli, but not waited for (one thread each): CLI runs whose time is mostly
    start-up can go side by side. Collect with .communicate()."""
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "i2i", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env
    )


@pytest.fixture(scope="session")
def sr_model(tmp_path_factory):
    """A small untrained x2 SR checkpoint: what the engine, CLI and video tests check does not
    depend on training."""
    import dataclasses

    import torch

    from i2i.archs.registry import build
    from i2i.checkpoint import ModelInfo, save_model
    from i2i.task import Task

    torch.manual_seed(0)
    module, cfg = build("srresnet", {"scale": 2, "channels": 8, "blocks": 1})
    path = tmp_path_factory.mktemp("models") / "x2.safetensors"
    task = Task(kind="upscale", value_range="0,1", scale=2)
    save_model(path, module, ModelInfo(arch="srresnet", options=dataclasses.asdict(cfg), task=task))
    return path
