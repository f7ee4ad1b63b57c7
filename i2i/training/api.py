"""Library entry points for training: start a run, or resume one from its run directory."""

from __future__ import annotations

import json
import os
import typing
from dataclasses import fields
from pathlib import Path

from ..errors import UsageError
from ..files import absolute_path
from .loop import Event, RunResult, Trainer, _noop
from .methods import method as registered_method
from .options import LoopOptions

LOOP_FIELDS = {f.name for f in fields(LoopOptions)}


def recipe_classes(method: str):
    """(options dataclass, recipe class) for a registered method (methods.py); the recipe is
    imported on demand (it imports torch). UsageError for an unknown method."""
    entry = registered_method(method)
    return entry.options, entry.recipe_class()


def train(
    method: str,
    options,
    loop: LoopOptions,
    run_dir,
    *,
    command: str = "",
    on_event: Event = _noop,
    resume: bool = False,
) -> RunResult:
    """Train a registered method (training/methods.py: pix2pix, cyclegan, srgan, style,
    colorize, dcgan, dcgan-encoder) in `run_dir`, then export its model(s) there.

    options: the method's options dataclass (training/options.py, e.g. Pix2PixOptions(data=...));
    METHODS[method].loop_options() gives LoopOptions with the method's default steps and
    intervals. run_dir: a new or empty folder; it receives run.json, metrics.jsonl, samples.png,
    curves.png, checkpoints/ (resumable state) and NAME.safetensors (README "Run directories").
    command: recorded in run.json and the exported model's provenance. on_event(kind, data):
    called with "log", "checkpoint", "resume", "stopping" and "done" events (for a display).
    resume=True continues from the latest checkpoint in run_dir (use resume() instead).

    Returns a RunResult: run_dir, the step reached, whether all steps finished, the exported
    paths, final metrics, and why an unfinished run stopped (a signal name or "max_minutes";
    SIGINT/SIGTERM/SIGHUP stop after the current step with a checkpoint and an export).
    Raises UsageError for an unknown method or a run_dir that already holds a run, and for
    options the loop cannot honour (device, precision); DataError for unusable training data.
    """
    _, recipe_cls = recipe_classes(method)
    run_dir = Path(run_dir)
    if not resume and (run_dir / "checkpoints").exists() and any((run_dir / "checkpoints").iterdir()):
        raise UsageError(f"{run_dir}: already holds a run; pass --resume {run_dir} or another --run-dir")
    trainer = Trainer(
        recipe_cls(options), loop, run_dir, batch_size=options.batch_size, command=command, on_event=on_event
    )
    return trainer.run(resume=resume)


def _tuple_fields(cls, values: dict) -> dict:
    for f in fields(cls):
        if isinstance(values.get(f.name), list):
            values[f.name] = tuple(values[f.name])
    return values


def _paths_from(cls, values: dict, folder: str | None) -> dict:
    """values with their relative paths (path options, repeatable folder options) made absolute
    against `folder`, the folder the run started in (run.json's "cwd"), when this process runs
    elsewhere: a run resumed from another folder finds its data."""
    if not folder or os.path.realpath(folder) == os.path.realpath(os.getcwd()):
        return values
    for f in fields(cls):
        value = values.get(f.name)
        if f.metadata.get("path") and isinstance(value, str):
            values[f.name] = absolute_path(value, folder)
        elif typing.get_origin(f.type) is tuple and typing.get_args(f.type)[0] is str and value:
            values[f.name] = tuple(absolute_path(p, folder) for p in value)  # a repeatable str option holds paths
    return values


def resume(
    run_dir,
    *,
    max_minutes: float | None = None,
    steps: int | None = None,
    checkpoint_minutes: float | None = None,
    tensorboard: bool | None = None,
    command: str = "",
    on_event: Event = _noop,
) -> RunResult:
    """Continue a run exactly where its last checkpoint left it.

    steps extends (or shortens) the run to that many steps in all: weights, optimizers, pools
    and the data order carry on, and the learning-rate schedule is recomputed for the new
    total (a finished pix2pix run whose rate had decayed to zero warms up again). The
    extending command is appended to the run's recorded command so the export says how it was
    trained. max_minutes, checkpoint_minutes and tensorboard, when given, replace the recorded ones.
    command and on_event: as for train().

    Returns a RunResult as train() does. Raises UsageError (naming run.json) for a directory
    that is not a readable run or a steps below 1, and CheckpointError (naming the file) for a
    checkpoint that cannot be loaded safely or does not fit the run's recipe.
    """
    run_dir = Path(run_dir)
    info_path = run_dir / "run.json"
    if not info_path.is_file():
        raise UsageError(f"{run_dir}: not a run directory (no run.json)")
    try:
        info = json.loads(info_path.read_text())
        options_cls, _ = recipe_classes(info["method"])
        options = options_cls(**_paths_from(options_cls, _tuple_fields(options_cls, info["options"]), info.get("cwd")))
        loop_values = {k: v for k, v in info["loop"].items() if k in LOOP_FIELDS}
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise UsageError(f"{info_path}: not a readable run description ({type(e).__name__}: {e})") from None
    for key, value in (
        ("max_minutes", max_minutes),
        ("checkpoint_minutes", checkpoint_minutes),
        ("tensorboard", tensorboard),
    ):
        if value is not None:
            loop_values[key] = value
    recorded = info.get("command", "")
    if steps is not None and steps != loop_values.get("steps"):
        if steps < 1:
            raise UsageError(f"--steps must be at least 1, not {steps}")
        loop_values["steps"] = steps
        recorded = f"{recorded}; extended with: {command or f'--steps {steps}'}"
    loop = LoopOptions(**loop_values)
    return train(info["method"], options, loop, run_dir, command=recorded, on_event=on_event, resume=True)
