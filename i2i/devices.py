"""Choosing the torch device: one answer for inference (engine) and training alike."""

from __future__ import annotations

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
