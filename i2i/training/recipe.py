"""The contract between the one training loop and each method's recipe."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any


class Recipe(ABC):
    """A method: its networks, losses, optimizers, one training step, samples and export.

    The loop owns device, data loading, logging, checkpoints, resume and the time budget.
    """

    method: str = ""
    seed: int = 0  # set by the loop before dataset() and setup()
    options: Any  # the method's frozen options dataclass

    def __init__(self, options):
        self.options = options

    # --- data ---
    @abstractmethod
    def dataset(self):
        """A map-style dataset whose item k (a global sample index) is deterministic."""

    # --- networks ---
    @abstractmethod
    def setup(self, device, total_steps: int) -> None:
        """Build networks, optimizers and schedulers on `device`."""

    @abstractmethod
    def train_step(self, batch, step: int) -> dict[str, float]:
        """One optimisation step; returns named scalar losses."""

    @abstractmethod
    def state_dict(self) -> dict:
        """Everything needed to resume exactly (weights, optimizers, schedulers, pools)."""

    @abstractmethod
    def load_state_dict(self, state: dict) -> None:
        """Restore what state_dict() returned."""

    # --- evidence ---
    @abstractmethod
    def sample_grid(self, batch):
        """(3, H, W) in [0, 1]: rows of input | output | target for a fixed batch."""

    def evaluate(self) -> dict[str, float]:
        """Validation metrics (optional)."""
        return {}

    def selection_key(self, metrics: dict[str, float]) -> tuple | None:
        """For recipes that choose their model on validation: a sortable key of evaluate()'s figures,
        higher is better (the loop keeps the best evaluation's export in RUN/best/). None: no choice."""
        return None

    @abstractmethod
    def export(self, run_dir: Path, provenance: dict) -> list[Path]:
        """Write the trained generator(s) as self-describing checkpoints."""

    def wrap_distributed(self, wrap) -> None:  # noqa: B027 (an optional hook: nothing to wrap by default)
        """Replace trained networks with `wrap(module)` (synchronized batch norm on CUDA)."""

    def networks(self) -> list:
        """Every network the recipe holds; the loop makes them identical across processes."""
        import torch

        return [v for v in vars(self).values() if isinstance(v, torch.nn.Module)]

    def optimizer_step(self, optimizer) -> None:
        """Average gradients across processes (torch.distributed), then step.

        Averaging here rather than wrapping in DistributedDataParallel keeps GAN steps simple:
        a discriminator used with frozen weights in the generator step needs no special care.
        """
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            world = dist.get_world_size()
            for group in optimizer.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        dist.all_reduce(p.grad)
                        p.grad /= world
        optimizer.step()
