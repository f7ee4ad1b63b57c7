"""Finding models: shipped names in weights/, or any checkpoint path."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import CheckpointError

DEFAULTS = {"upscale": "upscale-x4", "stylize": "style-starry-night", "colorize": "colorize"}


def weights_dir() -> Path:
    return Path(os.environ.get("I2I_WEIGHTS", Path(__file__).resolve().parent.parent / "weights"))


def shipped() -> dict[str, Path]:
    folder = weights_dir()
    return {p.stem: p for p in sorted(folder.glob("*.safetensors"))} if folder.is_dir() else {}


def resolve(name_or_path: str, *, prefix: str = "") -> Path:
    """A file path as is; otherwise a shipped model by name (with or without `prefix`)."""
    path = Path(name_or_path)
    if path.suffix in (".safetensors", ".pth", ".pt") or path.exists():
        if not path.is_file():
            raise CheckpointError(f"{path}: no such checkpoint file")
        return path
    models = shipped()
    for candidate in (name_or_path, prefix + name_or_path):
        if candidate in models:
            return models[candidate]
    known = ", ".join(n.removeprefix(prefix) for n in models if n.startswith(prefix)) or "none yet"
    raise CheckpointError(f"no shipped model named {name_or_path!r} in {weights_dir()} "
                          f"(available: {known}); pass a checkpoint file instead")
