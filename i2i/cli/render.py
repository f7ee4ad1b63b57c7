"""Rich output on stderr: training progress and folder-job progress."""
from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

# soft_wrap: a message is one line however long, never broken at the console's width (80
# columns when stderr is a file or a pipe): error lines are read line by line.
err = Console(stderr=True, soft_wrap=True)


def say(message: str, progress=None) -> None:
    """One plain line on stderr (above the progress bar when one is shown): no markup, so a
    file name such as photo[b].png prints as it is, and no wrapping."""
    (progress.console if progress else err).print(message, markup=False, highlight=False, soft_wrap=True)


class TrainingDisplay:
    """Shows step, losses, it/s and ETA; one line per log when stderr is not a terminal."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.progress = None
        self.task = None

    def __enter__(self):
        if not self.quiet and err.is_terminal:
            self.progress = Progress(TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[losses]}"), TextColumn("{task.fields[rate]}"),
                                     TimeRemainingColumn(), console=err)
            self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self.progress:
            self.progress.__exit__(*exc)

    def __call__(self, kind: str, data: dict) -> None:
        if self.quiet:
            return
        if kind == "log":
            losses = " ".join(f"{k}={v:.4g}" for k, v in data.items()
                              if k not in ("step", "time", "rate", "total", "kind") and isinstance(v, float))
            rate = f"{data['rate']:.2f} it/s" if data.get("rate") else ""
            if self.progress:
                if self.task is None:
                    self.task = self.progress.add_task("train", total=data["total"], losses="", rate="")
                self.progress.update(self.task, completed=data["step"], losses=losses, rate=rate)
            else:
                print(f"step {data['step']}/{data['total']} {losses} {rate}", file=sys.stderr, flush=True)
        elif kind in ("checkpoint", "resume"):
            say(f"{kind}: step {data['step']} ({data['path']})", self.progress)
        elif kind == "stopping":
            say("stopping after this step (Ctrl-C again to abort)", self.progress)


def job_progress(total: int, quiet: bool):
    if quiet or not err.is_terminal:
        return None
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=err)
