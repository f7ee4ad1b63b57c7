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
    state_attributes: tuple[str, ...] = ()
    """What a resume restores, by attribute name, each saved under its own name: networks (their
    weights, unwrapped from a distributed wrapper), optimizers, schedulers, pools, averages:
    anything with state_dict()/load_state_dict(). A dotted name reaches into one (ema.updates)
    and is saved with an underscore for the dot (ema_updates); a plain value (a count) is
    saved as it is, and keeps its current value when an older state lacks it. An attribute
    that is None or absent (a part the options leave out) is skipped both ways."""

    def __init__(self, options):
        self.options = options

    # --- data ---
    @abstractmethod
    def dataset(self):
        """A map-style dataset whose item k (a global sample index) is deterministic, with
        fixed_items(n): up to n items without randomness, the batch sample_grid is shown."""

    # --- networks ---
    @abstractmethod
    def setup(self, device, total_steps: int) -> None:
        """Build networks, optimizers and schedulers on `device`."""

    @abstractmethod
    def train_step(self, batch, step: int) -> dict[str, float]:
        """One optimisation step; returns named scalar losses."""

    def state_dict(self) -> dict:
        """Everything needed to resume exactly: {name: state} for each of state_attributes."""
        state = {}
        for name in self.state_attributes:
            value = self._attribute(name)
            if value is not None:
                state[name.replace(".", "_")] = value.state_dict() if _stateful(value) else value
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore what state_dict() returned (KeyError when a part the options hold is missing)."""
        for name in self.state_attributes:
            value, key = self._attribute(name), name.replace(".", "_")
            if value is None:
                continue
            if _stateful(value):
                value.load_state_dict(state[key])
            elif key in state:
                owner, _, last = name.rpartition(".")
                setattr(self._attribute(owner) if owner else self, last, state[key])

    def _attribute(self, name: str):
        """The object a state_attributes name reaches (a network unwrapped), or None."""
        import torch

        value = self
        for part in name.split("."):
            value = getattr(value, part, None)
            if value is None:
                return None
        if isinstance(value, torch.nn.Module) and hasattr(value, "module"):  # DistributedDataParallel
            value = value.module
        return value

    # --- evidence ---
    @abstractmethod
    def sample_grid(self, batch):
        """The picture of progress on `batch` (the dataset's fixed_items, collated), as rows: a
        list of rows, each a list of (3, H, W) RGB float tensors in [0, 1] (any device; cells may
        differ in size), laid side by side by plots.save_grid into samples/step_N.png. A row per
        item for the image-to-image methods (input | output | target, or the method's own, as
        each recipe's docstring says); dcgan shows its fixed latents instead of the batch."""

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


def _stateful(value) -> bool:
    return hasattr(value, "state_dict") and hasattr(value, "load_state_dict")
