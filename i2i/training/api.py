"""Library entry points for training: start a run, or resume one from its run directory."""
from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

from ..errors import UsageError
from .loop import Event, RunResult, Trainer, _noop
from .methods import method as registered_method
from .options import LoopOptions

LOOP_FIELDS = {f.name for f in fields(LoopOptions)}


def recipe_classes(method: str):
    """(options dataclass, recipe class) for a registered method (methods.py); the recipe is
    imported on demand (it imports torch). UsageError for an unknown method."""
    entry = registered_method(method)
    return entry.options, entry.recipe_class()


def train(method: str, options, loop: LoopOptions, run_dir, *, command: str = "",
          on_event: Event = _noop, resume: bool = False) -> RunResult:
    _, recipe_cls = recipe_classes(method)
    run_dir = Path(run_dir)
    if not resume and (run_dir / "checkpoints").exists() and any((run_dir / "checkpoints").iterdir()):
        raise UsageError(f"{run_dir}: already holds a run; pass --resume {run_dir} or another --run-dir")
    trainer = Trainer(recipe_cls(options), loop, run_dir, batch_size=options.batch_size,
                      command=command, on_event=on_event)
    return trainer.run(resume=resume)


def _tuple_fields(cls, values: dict) -> dict:
    for f in fields(cls):
        if isinstance(values.get(f.name), list):
            values[f.name] = tuple(values[f.name])
    return values


def resume(run_dir, *, max_minutes: float | None = None, steps: int | None = None,
           checkpoint_minutes: float | None = None, tensorboard: bool | None = None,
           command: str = "",
           on_event: Event = _noop) -> RunResult:
    """Continue a run exactly where its last checkpoint left it.

    steps extends (or shortens) the run to that many steps in all: weights, optimizers, pools
    and the data order carry on, and the learning-rate schedule is recomputed for the new
    total (a finished pix2pix run whose rate had decayed to zero warms up again). The
    extending command is appended to the run's recorded command so the export says how it was
    trained. max_minutes, checkpoint_minutes and tensorboard, when given, replace the recorded ones.
    Raises UsageError (naming run.json) for a directory that is not a readable run, and
    CheckpointError for a checkpoint that cannot be loaded safely.
    """
    run_dir = Path(run_dir)
    info_path = run_dir / "run.json"
    if not info_path.is_file():
        raise UsageError(f"{run_dir}: not a run directory (no run.json)")
    try:
        info = json.loads(info_path.read_text())
        options_cls, _ = recipe_classes(info["method"])
        options = options_cls(**_tuple_fields(options_cls, info["options"]))
        loop_values = {k: v for k, v in info["loop"].items() if k in LOOP_FIELDS}
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise UsageError(f"{info_path}: not a readable run description ({type(e).__name__}: {e})") from None
    for key, value in (("max_minutes", max_minutes), ("checkpoint_minutes", checkpoint_minutes),
                       ("tensorboard", tensorboard)):
        if value is not None:
            loop_values[key] = value
    recorded = info.get("command", "")
    if steps is not None and steps != loop_values.get("steps"):
        if steps < 1:
            raise UsageError(f"--steps must be at least 1, not {steps}")
        loop_values["steps"] = steps
        recorded = f"{recorded}; extended with: {command or f'--steps {steps}'}"
    loop = LoopOptions(**loop_values)
    return train(info["method"], options, loop, run_dir, command=recorded,
                 on_event=on_event, resume=True)
