"""Pieces several recipes share: EMA, schedules, optimiser state moves, exports."""

from __future__ import annotations

import copy
import math

import torch


class EMA:
    """Exponential moving average of a module's weights (what SR exports)."""

    def __init__(self, module: torch.nn.Module, decay: float):
        self.decay = decay
        self.module = copy.deepcopy(module).eval().requires_grad_(False)
        self.updates = 0

    @torch.no_grad()
    def update(self, module: torch.nn.Module) -> None:
        # Warm-up: a plain 0.999 average of a short run would still hold much of the random init.
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        src = module.module if hasattr(module, "module") else module
        for e, p in zip(self.module.state_dict().values(), src.state_dict().values()):
            if e.is_floating_point():
                e.lerp_(p.detach(), 1 - decay)
            else:
                e.copy_(p)

    def state_dict(self) -> dict:
        """The averaged weights (the count of updates is `updates`, saved beside them)."""
        return self.module.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state)


def adam(params, lr: float, betas: tuple[float, float] = (0.9, 0.999)) -> torch.optim.Adam:
    """Adam with PyTorch's fused kernel: one pass over all parameters instead of a dozen
    elementwise ops per tensor. For unet_256's 54M parameters on this project's 2-core CPU that
    was 52 instead of 252 ms per step (a one-off timing, median of 5, 2 threads;
    benchmarks/train_speed.py prints the whole loop's gain)."""
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)


def cosine_lambda(total: int, warmup: int = 0, floor: float = 0.01):
    """Multiplier: linear warm-up, then cosine decay to `floor`."""

    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        t = min(1.0, (step - warmup) / max(1, total - warmup))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))

    return f


def constant_then_linear(total: int, decay_fraction: float = 0.5):
    """pix2pix/CycleGAN schedule: constant, then linear to zero over the last fraction."""
    start = int(total * (1 - decay_fraction))

    def f(step: int) -> float:
        if step < start:
            return 1.0
        return max(0.0, 1 - (step - start) / max(1, total - start))

    return f


def unwrap(module):
    return module.module if hasattr(module, "module") else module


def warm_start(net, arch: str, config, path: str) -> None:
    """Load an exported generator's weights into `net` (built from `config`) for --init: the same
    architecture and options, or (where the architecture can grow, ArchSpec.grow) a smaller one,
    loaded so that `net` starts as the same function."""
    from ..checkpoint import load_model
    from ..errors import UsageError

    init = load_model(path)
    mismatch = UsageError(
        f"--init {path}: a {init.info.arch} {init.config} does not match this run's generator {config}"
    )
    if init.info.arch != arch:
        raise mismatch
    if init.config == config:
        net.load_state_dict(init.module.state_dict())
        return
    if init.spec.grow is None:  # a larger network of the same kind can start from a smaller one
        raise mismatch
    try:
        init.spec.grow(net, config, init.module.state_dict(), init.config)
    except ValueError as e:
        raise UsageError(f"--init {path}: {e}") from None
