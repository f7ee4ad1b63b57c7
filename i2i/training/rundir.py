"""A run directory's files, and keeping them consistent with the training state a run goes on from.

A run directory holds only what the loop writes (README "Run directories"):

    run.json                 method, options, loop options, command (JSON)
    metrics.jsonl            one JSON object per log line: step, time, losses; "kind": "eval" rows
    samples.png              the latest sample grid; samples/step_NNNNNNN.png, one per refresh
    curves.png               loss and validation-metric curves (matplotlib)
    tensorboard/             TensorBoard event files (with --tensorboard)
    checkpoints/step_NNNNNNN.pt   resumable training state (the last few)
    NAME.safetensors         exported model(s)

The resumable training state in checkpoints/ is written and read by state.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def agree_with_state(run_dir: Path, step: int, records: list[dict]) -> None:
    """Make every file the loop writes agree with training state at `step` (0: a fresh start).

    A run killed after its last checkpoint left metrics, sample grids and event files from
    steps it will now repeat, and perhaps a half-written checkpoint: rewrite or remove them.
    """
    for stale in (run_dir / "checkpoints").glob(".step_*.part"):  # files.atomic_output's, and older runs' .pt.part
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
