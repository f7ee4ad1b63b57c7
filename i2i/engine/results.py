"""What a job reports for each input: one Result, whichever engine ran it.

Results cross process boundaries when a job runs on Ray (engine/ray_job.py): `to_row` makes one a
plain dict (str, int, float, None, lists and dicts of those) and `from_row` builds it back,
clip results (engine/video.py ClipResult) included.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass
class Result:
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

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_row(self) -> dict:
        """This result as a dict of plain values (sizes as lists); `kind` says which class."""
        row = dataclasses.asdict(self)
        row["kind"] = "clip" if hasattr(self, "frames") else "image"
        return row


def from_row(row: dict) -> Result:
    """The Result (or ClipResult) that Result.to_row made `row` from."""
    row = dict(row)
    kind = row.pop("kind", "image")
    for key in ("in_size", "out_size"):
        if row.get(key) is not None:
            row[key] = tuple(row[key])
    if kind == "clip":
        from .video import ClipResult

        return ClipResult(**row)
    return Result(**row)
