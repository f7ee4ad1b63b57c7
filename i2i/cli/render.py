"""Rich output on stderr: training progress and folder-job progress."""
from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

err = Console(stderr=True)


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
            (self.progress.console if self.progress else err).print(f"{kind}: step {data['step']} ({data['path']})")
        elif kind == "stopping":
            err.print(f"{data.get('signal', 'stop')}: stopping after this step (the same again aborts at once)")


def job_progress(total: int, quiet: bool):
    if quiet or not err.is_terminal:
        return None
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=err)
