"""What a job reports for each input: one Result, whichever engine ran it.

A Result carries its own notes: one-line remarks about its input (a clip's streams left out) and
the engine's that arose while it ran (backend fallbacks, measurements: NoteRelay hands each on
once), so a front end shows a result without asking the engine for anything.

Results cross process boundaries when a job runs on Ray (engine/ray_job.py): `to_row` makes one a
plain dict (str, int, float, None, lists and dicts of those) and `from_row` builds it back,
clip results (ClipResult) included. `to_json` is the command line's --json line.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Result:
    """One input's outcome: written (output, sizes as (width, height), seconds), skipped, or failed (error: one line naming the file)."""

    input: str
    output: str | None = None
    in_size: tuple[int, int] | None = None
    out_size: tuple[int, int] | None = None
    seconds: float = 0.0
    error: str | None = None
    skipped: str | None = None
    backend: str | None = None
    """What ran the network: torch, onnxruntime, openvino, with the precision when not fp32
    ("openvino bf16", "onnxruntime int8")."""
    choice: dict | None = None
    """Why this input ran the model it ran, when the model is chosen per input (engine/choice.py)."""
    worker: str | None = None
    """HOST:PID of the process that ran it, when that is not this one (a Ray actor)."""
    notes: list[str] = field(default_factory=list)
    """One-line notes, in order: the engine's that arose up to this result (each said once in a
    job: NoteRelay), then this input's own (a clip's streams left out, and the like)."""

    @property
    def ok(self) -> bool:
        """No error (a skipped input is ok)."""
        return self.error is None

    def to_row(self) -> dict:
        """This result as a dict of plain values (sizes as lists); `kind` says which class."""
        row = dataclasses.asdict(self)
        row["kind"] = "clip" if hasattr(self, "frames") else "image"
        return row

    def json_row(self) -> dict:
        """The command line's --json object: input, output, size (width, height of the output),
        seconds, error, skipped, backend and precision (None when nothing ran), then choice and
        worker where there are, and frames for a clip. Notes are not in it (they go to stderr)."""
        return {
            "input": self.input,
            "output": self.output,
            "size": self.out_size,
            "seconds": self.seconds,
            "error": self.error,
            "skipped": self.skipped,
            "backend": self.backend,
            "precision": precision_of(self.backend),
            **({"choice": self.choice} if self.choice else {}),
            **({"worker": self.worker} if self.worker else {}),
            **({"frames": self.frames} if hasattr(self, "frames") else {}),
        }

    def to_json(self) -> str:
        """json_row() as one line of JSON (ASCII: see cli/output.py on file names)."""
        return json.dumps(self.json_row())


@dataclass
class ClipResult(Result):
    """A clip's Result (engine/video.py): frames written, and (in notes) the streams converted or left out."""

    frames: int = 0


def from_row(row: dict) -> Result:
    """The Result (or ClipResult) that Result.to_row made `row` from."""
    row = dict(row)
    kind = row.pop("kind", "image")
    for key in ("in_size", "out_size"):
        if row.get(key) is not None:
            row[key] = tuple(row[key])
    if kind == "clip":
        return ClipResult(**row)
    return Result(**row)


class NoteRelay:
    """Hands each of an engine's notes on once, to the first result made after it arose (first
    in that result's notes). notes() -> the engine's notes so far (Engine.notes,
    PerImageEngines.notes): a list that only grows."""

    def __init__(self, notes: Callable[[], list[str]]):
        self.notes, self.passed = notes, set()

    def __call__(self, r: Result) -> Result:
        new = [n for n in self.notes() if n not in self.passed]
        self.passed.update(new)
        r.notes[:0] = new
        return r


def existing_output(job, out) -> Result | None:
    """The Result of a job (inputs.Job, with out its OutputOptions) whose output exists before it runs (skipped, or an error without
    --overwrite or --skip-existing); None when it is to run."""
    from .inputs import STDIO

    if job.output == STDIO or not os.path.lexists(job.output):
        return None
    if out.skip_existing:
        return Result(job.source, output=job.output, skipped="exists")
    if not out.overwrite:
        return Result(job.source, error=f"{job.output}: output exists (pass --overwrite or --skip-existing)")
    return None


def precision_of(backend_label: str | None) -> str | None:
    """The precision a label names: 'openvino int8' -> int8, 'onnxruntime' -> fp32; None -> None."""
    if not backend_label:
        return None
    last = backend_label.split()[-1]
    return last if last in ("fp16", "bf16", "int8") else "fp32"
