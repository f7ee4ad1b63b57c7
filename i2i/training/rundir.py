"""A run directory's files, and keeping them consistent with the checkpoint a run goes on from.

A run directory holds only what the loop writes (README "Run directories"):

    run.json                 method, options, loop options, command (JSON)
    metrics.jsonl            one JSON object per log line: step, time, losses; "kind": "eval" rows
    samples.png              the latest sample grid; samples/step_NNNNNNN.png, one per refresh
    curves.png               loss and validation-metric curves (matplotlib)
    tensorboard/             TensorBoard event files (with --tensorboard)
    checkpoints/step_NNNNNNN.pt   resumable training state (the last few)
    NAME.safetensors         exported model(s)

Training state is read with `torch.load(weights_only=True)`: tensors, containers, plain
numbers and strings (and numpy arrays, allow-listed, from older checkpoints) only, so a crafted
checkpoint cannot run code when a run is resumed.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch

from ..errors import CheckpointError

STATE_KEYS = ("step", "recipe", "rng", "train_seconds", "records")


def checkpoint_path(run_dir: Path, step: int) -> Path:
    return run_dir / "checkpoints" / f"step_{step:07d}.pt"


def latest_checkpoint(run_dir: Path) -> Path | None:
    ckpts = sorted((run_dir / "checkpoints").glob("step_*.pt"))
    return ckpts[-1] if ckpts else None


def save_state(state: dict, path: Path, keep: int) -> None:
    """Write training state atomically (hidden .part, then rename); keep the newest `keep`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.part"
    torch.save(state, tmp)
    os.replace(tmp, path)
    for old in sorted(path.parent.glob("step_*.pt"))[:-keep]:
        old.unlink()


def load_state(path: Path) -> dict:
    """Training state saved by save_state, read without executing code.

    Raises CheckpointError naming the file when it is unreadable, holds anything but tensors,
    containers and plain values (a pickle that would run code), or lacks the expected keys.
    """
    try:
        with torch.serialization.safe_globals(_numpy_array_globals()):
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise CheckpointError(f"{path}: not a training checkpoint that loads without running code "
                              f"({first[:200]})") from None
    missing = [k for k in STATE_KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        raise CheckpointError(f"{path}: not an i2i training checkpoint (missing {', '.join(missing)})")
    return state


def _numpy_array_globals() -> list:
    """What a plain numpy array unpickles through, allow-listed: checkpoints written before the
    RNG state was stored as a tensor hold numpy's state as an array (data, not code)."""
    import numpy as np

    core = np._core if hasattr(np, "_core") else np.core  # numpy 2 renamed it
    reconstruct = core.multiarray._reconstruct
    return [np.ndarray, np.dtype, reconstruct, type(np.dtype(np.uint32))]


def agree_with_checkpoint(run_dir: Path, step: int, records: list[dict]) -> None:
    """Make every file the loop writes agree with training state at `step` (0: a fresh start).

    A run killed after its last checkpoint left metrics, sample grids and event files from
    steps it will now repeat, and perhaps a half-written checkpoint: rewrite or remove them.
    """
    for stale in (run_dir / "checkpoints").glob(".step_*.pt.part"):
        stale.unlink()
    with open(run_dir / "metrics.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in records)
    grids = sorted((run_dir / "samples").glob("step_*.png"))
    for grid in grids:
        if _step_of(grid) > step:
            grid.unlink()
    kept = [g for g in grids if _step_of(g) <= step]
    if kept:
        shutil.copyfile(kept[-1], run_dir / "samples.png")
    else:
        (run_dir / "samples.png").unlink(missing_ok=True)
    if step == 0:
        (run_dir / "curves.png").unlink(missing_ok=True)
        shutil.rmtree(run_dir / "tensorboard", ignore_errors=True)
    else:
        _remove_later_exports(run_dir, step)


def _step_of(path: Path) -> int:
    return int(path.stem.removeprefix("step_"))


def _remove_later_exports(run_dir: Path, step: int) -> None:
    """An exported model that records more steps than the checkpoint is from a lost future."""
    from ..checkpoint import read_info

    for model in run_dir.glob("*.safetensors"):
        try:
            steps = read_info(model).training.get("steps", 0)
        except Exception:
            continue  # not ours: leave it
        if isinstance(steps, int) and steps > step:
            model.unlink()
