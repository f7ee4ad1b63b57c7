"""A batch job: command-line inputs -> planned jobs -> results, with its failures counted.

plan_job expands the inputs (files, folders, globs, '-'), plans every output before anything
runs (inputs.py; clips: video.py), and, under torchrun, gives this process its share (shard.py).
JobPlan.run then yields one Result per input: outputs that clash first (as errors), then the
images through Engine.process, then the clips through ClipProcessor. `failed` counts this
process's failed inputs; `failures_everywhere()` sums them over all processes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..data.media_types import split_clips
from ..errors import UsageError
from .choice import PerImageEngines
from .inputs import STDIO, Job, OutputOptions, Skipped, expand_inputs, plan_outputs, read_stdin
from .results import NoteRelay, Result, existing_output
from .shard import shard, total_failures, world

if TYPE_CHECKING:  # engine.py imports torch, which a Ray driver does without (engine/ray_job.py)
    from .engine import Engine


@runtime_checkable
class RunsWholePlan(Protocol):
    """An engine that runs a whole plan itself: RayEngine (engine/ray_job.py), which this module
    does not import (ray_job plans its jobs here)."""

    def run_plan(self, images: list[Job], clips: list[Job], out: OutputOptions, *, video=None) -> Iterator[Result]: ...


@dataclass
class JobPlan:
    """What one process will do for a job (its share, under torchrun)."""

    inputs: list[str]
    """The inputs as given."""
    images: list[Job]
    clips: list[Job]
    """Video files and animated images (engine/video.py)."""
    notes: list[Skipped]
    """Files and folders left out (hidden, not images, outputs of this job): notes, not errors."""
    missing: list[Skipped]
    """Inputs that do not exist or cannot be read: each a failure (reported by rank 0 only)."""
    clashes: list[Skipped]
    """Inputs whose planned output another input takes: each a failure (rank 0 only)."""
    rank: int = 0
    failed: int = field(default=0, init=False)
    """Failed inputs of this process so far: the missing ones, then each Result with an error."""

    def __post_init__(self):
        self.failed = len(self.missing)

    @property
    def total(self) -> int:
        """Inputs this process answers for (missing and clashing ones included)."""
        return len(self.images) + len(self.clips) + len(self.missing) + len(self.clashes)

    @property
    def found_nothing(self) -> bool:
        """No input at all: nothing to run, nothing missing or clashing."""
        return not (self.images or self.clips or self.missing or self.clashes)

    def run(
        self,
        engine: Engine | PerImageEngines | RunsWholePlan,
        out: OutputOptions,
        *,
        video=None,
        on_frames: Callable | None = None,
    ) -> Iterator[Result]:
        """One Result per planned input, counting failures; close it (contextlib.closing) to stop
        early: the engine's decode and encode pools are drained, no output is left half-written.
        engine: one Engine for every input, PerImageEngines (a model chosen per image; the
        Results carry the choice), or RayEngine (the whole job on a Ray cluster). Each Result
        carries the engine's notes that arose before it (Result.notes). video:
        VideoOptions for the clips; on_frames(job, done, total) reports a clip's frames."""
        # RayEngine's results come with notes: each actor relays its engine's.
        on_ray = isinstance(engine, RunsWholePlan)
        relay = NoteRelay(lambda: [] if on_ray else engine.notes)  # backend fallbacks and the like, once
        for clash in self.clashes:
            yield self._count(relay(Result(clash.source, error=f"{clash.source}: {clash.reason}")))
        # Existing outputs first, unlooked at: a rerun of a folder job runs (and a per-image choice
        # estimates, a Ray cluster is started for) only what is left.
        todo = []
        for job in self.images:
            kept = existing_output(job, out)
            if kept is None:
                todo.append(job)
            else:
                yield self._count(relay(kept))
        if on_ray:  # the images and clips on a Ray cluster (engine/ray_job.py)
            yield from map(self._count, engine.run_plan(todo, self.clips, out, video=video))
            return
        groups = engine.groups(todo) if isinstance(engine, PerImageEngines) else [(engine, todo, {})]
        for group_engine, jobs, choices in groups:
            with closing(group_engine.process(jobs, out)) as results:
                for r in results:
                    r.choice = choices.get(r.input)
                    yield self._count(relay(r))
        if self.clips:
            from .video import ClipProcessor

            clip_engine = engine.clip_engine if isinstance(engine, PerImageEngines) else engine
            for r in ClipProcessor(clip_engine, video).process(self.clips, out, on_progress=on_frames):
                yield self._count(relay(r))

    def _count(self, r: Result) -> Result:
        self.failed += bool(r.error)
        return r

    def failures_everywhere(self) -> int:
        """Failed inputs over all torchrun processes (this process's alone when run alone)."""
        return total_failures(self.failed)


def plan_job(inputs: list[str], out: OutputOptions) -> JobPlan:
    """Expand inputs and plan every output; under torchrun, keep this process's share.

    Raises UsageError when the output is stdout ('-') and the inputs are not exactly one image,
    and as plan_outputs does (an output file named for several inputs, an unwritable format).
    """
    jobs, notes, missing = expand_inputs(inputs)
    if out.out == STDIO and len(jobs) != 1:
        raise UsageError("-o - (stdout) takes exactly one input image")
    n_inputs = len(jobs)
    jobs = [read_stdin(job) if job.source == STDIO else job for job in jobs]
    images, clips = split_clips(jobs)
    images, left_out, clashes = plan_outputs(images, out)  # every rank plans all inputs alike
    notes += left_out
    if clips:
        from .video import plan_clips

        clips, clip_clashes = plan_clips(clips, images, out, n_inputs)
        clashes += clip_clashes
    rank, size = world()
    if size > 1:
        images, clips = shard(images, rank, size), shard(clips, rank, size)
        missing, clashes = (missing, clashes) if rank == 0 else ([], [])
    return JobPlan(inputs, images, clips, notes, missing, clashes, rank)
