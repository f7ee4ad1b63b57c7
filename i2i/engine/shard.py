"""Splitting a folder job between torchrun processes: each input exactly once, deterministically."""

from __future__ import annotations

import os


def world() -> tuple[int, int]:
    """(rank, world size) from torchrun's environment; (0, 1) when run alone."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def shard(jobs: list, rank: int, size: int) -> list:
    """Round-robin over the sorted job list: stable across reruns, so --skip-existing resumes."""
    ordered = sorted(jobs, key=lambda j: (j.source, str(j.rel)))
    return ordered[rank::size]


def total_failures(local: int) -> int:
    """Sum of failures over all processes (gloo; torch.distributed is started on first use)."""
    rank, size = world()
    if size == 1:
        return local
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo")
    t = torch.tensor([local])
    dist.all_reduce(t)
    dist.destroy_process_group()
    return int(t.item())
