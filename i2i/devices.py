"""Choosing the torch device (one answer for inference and training alike), and the CPU
threads of loops of many small steps."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from .errors import UsageError


def resolve_device(name: str) -> torch.device:
    """A device name as the CLI takes it (auto, cpu, cuda, cuda:N, mps) -> torch.device.

    auto means CUDA when a CUDA device is present, else the CPU (MPS only when asked for).
    Raises UsageError for a name torch does not know, or a device this machine does not have.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available here; use --device cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UsageError("--device mps: MPS is not available here; use --device cpu")
    return device


class StepThreads:
    """Chooses torch's CPU thread count for a loop of many small steps (GAN inversion: hundreds
    of Adam steps on a few 64 px images) by timing the loop's own steps, as a busy machine has
    it now: a few steps with one thread, a few with `most`, then the faster for the rest.

    Why: every parallel region waits for its slowest thread. On a machine whose cores are taken
    by other processes, a thread that the scheduler has set aside holds the others up for a time
    slice at every one of a step's hundreds of small operations, and the loop collapses (300
    inversion steps with 2 threads beside two busy processes on 2 cores: 796 s; with one: 85 s).
    On an idle machine with many cores, more threads win, and the timing says so.

    The steps timed are real steps, so a trial costs only the slowness of the losing count: a
    step with `most` threads that takes 3x as long as one thread's (collapse) ends the trial at
    once. restart() times again (a new image, a new batch size). most <= 1 never times.
    """

    WARMUP = 1  # steps after a change of thread count not timed (the pool wakes up)
    TRIAL = 3  # steps timed for each count
    COLLAPSE = 3.0  # a step this many times one thread's ends the trial of `most`
    MARGIN = 0.9  # `most` must take under this share of one thread's time to be chosen

    def __init__(self, most: int | None = None):
        self.most = most or torch.get_num_threads()
        self.chosen: int | None = None
        """The count chosen for the steps since the last restart (None while timing)."""
        self.restart()

    def restart(self) -> None:
        """Time again from the next step; until a count is chosen, torch runs on one thread (the
        trial's first count, and the safe one for whatever runs between steps)."""
        self.chosen = None
        torch.set_num_threads(1)
        per_count = self.WARMUP + self.TRIAL
        self._plan = [1] * per_count + [self.most] * per_count if self.most > 1 else []
        self._seconds: dict[int, list[float]] = {1: [], self.most: []}
        self._steps = {1: 0, self.most: 0}
        if not self._plan:
            self._choose(self.most)

    @contextmanager
    def timing(self) -> Iterator[None]:
        """Run one step inside this block."""
        if not self._plan:
            yield
            return
        threads = self._plan.pop(0)
        torch.set_num_threads(threads)
        started = time.perf_counter()
        yield
        seconds = time.perf_counter() - started
        self._steps[threads] += 1
        if self._steps[threads] > self.WARMUP:
            self._seconds[threads].append(seconds)
        one = statistics.median(self._seconds[1]) if self._seconds[1] else None
        if threads == self.most and one is not None and seconds > self.COLLAPSE * one:
            self._plan = []  # collapsed: no need to see more of it
            self._choose(1)
        elif not self._plan:
            many = statistics.median(self._seconds[self.most])
            self._choose(self.most if many < self.MARGIN * one else 1)

    def _choose(self, threads: int) -> None:
        self.chosen = threads
        torch.set_num_threads(threads)
