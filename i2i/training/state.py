"""Resumable training state: what checkpoints/step_NNNNNNN.pt in a run directory holds.

A state is a dict with the keys STATE_KEYS: the global step, the recipe's state_dict()
(weights, optimizers, schedulers, pools), every RNG the loop and recipes draw from, the
training seconds so far and the logged records. It is read with `torch.load(weights_only=True)`:
tensors, containers, plain numbers and strings (and numpy arrays, allow-listed, from older
checkpoints) only, so a crafted checkpoint cannot run code when a run is resumed.

(Exported models, the other kind of file called a checkpoint, are i2i/checkpoint.py's.)
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from ..errors import CheckpointError
from ..files import atomic_output

STATE_KEYS = ("step", "recipe", "rng", "train_seconds", "records")


def state_path(run_dir: Path, step: int) -> Path:
    return run_dir / "checkpoints" / f"step_{step:07d}.pt"


def latest_state(run_dir: Path) -> Path | None:
    saved = sorted((run_dir / "checkpoints").glob("step_*.pt"))
    return saved[-1] if saved else None


def save_state(state: dict, path: Path, keep: int) -> None:
    """Write training state atomically (files.atomic_output); keep the newest `keep`."""
    with atomic_output(path) as f:
        torch.save(state, f)
    for old in sorted(path.parent.glob("step_*.pt"))[:-keep]:
        old.unlink()


def load_state(path: Path) -> dict:
    """Training state saved by save_state, read without executing code.

    Raises CheckpointError naming the file when it is unreadable, holds anything but tensors,
    containers and plain values (a pickle that would run code), or lacks the expected keys.
    """
    try:
        with torch.serialization.safe_globals(_numpy_array_globals()):
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise CheckpointError(
            f"{path}: not a training checkpoint that loads without running code ({first[:200]})"
        ) from None
    missing = [k for k in STATE_KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        raise CheckpointError(f"{path}: not an i2i training checkpoint (missing {', '.join(missing)})")
    return state


def _numpy_array_globals() -> list:
    """What a plain numpy array unpickles through, allow-listed: checkpoints written before the
    RNG state was stored as a tensor hold numpy's state as an array (data, not code)."""
    import numpy as np

    core = np._core if hasattr(np, "_core") else np.core  # numpy 2 renamed it
    reconstruct = core.multiarray._reconstruct
    return [np.ndarray, np.dtype, reconstruct, type(np.dtype(np.uint32))]


def capture(step: int, recipe, train_seconds: float, records: list[dict]) -> dict:
    """The state to save after `step` steps of `recipe` (a training.recipe.Recipe)."""
    return {
        "step": step,
        "recipe": recipe.state_dict(),
        "rng": rng_state(),
        "train_seconds": train_seconds,
        "records": records,
    }


def restore(state: dict, recipe, path: Path) -> None:
    """Load a saved state's recipe part and RNGs; CheckpointError naming `path` when the
    recipe's networks or optimizers do not fit it (another method, other options)."""
    try:
        recipe.load_state_dict(state["recipe"])
        set_rng_state(state["rng"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        first = (str(e).strip().splitlines() or [""])[0][:200]
        raise CheckpointError(
            f"{path}: does not fit this run's {recipe.method} recipe ({type(e).__name__}: {first})"
        ) from None


def rng_state() -> dict:
    """Every RNG the loop and recipes draw from, as tensors and plain values (weights_only)."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Put back what rng_state() returned (CUDA generators only where CUDA is present)."""
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    name, keys, pos, has_gauss, gauss = state["numpy"]
    keys = keys.numpy() if isinstance(keys, torch.Tensor) else keys  # older checkpoints: an array
    np.random.set_state((name, keys.astype(np.uint32), pos, has_gauss, gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
