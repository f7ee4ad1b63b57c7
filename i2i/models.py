"""Finding models: by name in the shipped weights/ and the user's models folder, or by path.

A name is a file stem: `--model RealESRGAN_x4plus` finds `RealESRGAN_x4plus.pth` in the user
models folder ($I2I_MODELS, default the platform's user data folder + i2i/models, e.g.
~/.local/share/i2i/models on Linux). Shipped models come first. Nothing is ever downloaded.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path

from .checkpoint import MODEL_SUFFIXES
from .errors import CheckpointError


def weights_dir() -> Path:
    return Path(os.environ.get("I2I_WEIGHTS", Path(__file__).resolve().parent.parent / "weights"))


def user_models_dir() -> Path:
    """$I2I_MODELS, else the platform's per-user data folder (platformdirs) + models."""
    if os.environ.get("I2I_MODELS"):
        return Path(os.environ["I2I_MODELS"]).expanduser()
    from platformdirs import user_data_path

    return user_data_path("i2i", appauthor=False) / "models"


@dataclass(frozen=True)
class ModelFile:
    name: str
    """File stem: what --model takes."""
    path: Path
    source: str
    """"shipped" (weights/) or "user" (the user models folder)."""


def shipped() -> dict[str, Path]:
    folder = weights_dir()
    return {p.stem: p for p in sorted(folder.glob("*.safetensors"))} if folder.is_dir() else {}


def user_models() -> dict[str, Path]:
    """Model files in the user folder and its subfolders by stem (hidden ones skipped); where
    two files share a stem, .safetensors is taken before .pth, .pt and .ckpt."""
    folder = user_models_dir()
    if not folder.is_dir():
        return {}
    found: dict[str, Path] = {}
    files = [
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in MODEL_SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]
    for p in sorted(files, key=lambda p: (MODEL_SUFFIXES.index(p.suffix.lower()), str(p))):
        found.setdefault(p.stem, p)
    return dict(sorted(found.items()))


def all_models() -> list[ModelFile]:
    """Every model reachable by name, shipped first; a user file named like a shipped one is
    listed too, though its name resolves to the shipped model."""
    return [ModelFile(n, p, "shipped") for n, p in shipped().items()] + [
        ModelFile(n, p, "user") for n, p in user_models().items()
    ]


def resolve(name_or_path: str, *, prefix: str = "") -> Path:
    """A file path as is; otherwise a model by name (with or without `prefix`, e.g. "upscale-"):
    shipped first, then the user folder; a unique case-insensitive match is accepted.

    CheckpointError naming the close matches when nothing matches (or, with no close match, the
    names that carry `prefix`: the styles for `stylize --style`).
    """
    path = Path(name_or_path).expanduser()
    if path.suffix.lower() in MODEL_SUFFIXES or path.exists() or os.sep in name_or_path:
        if not path.is_file():
            raise CheckpointError(f"{path}: no such checkpoint file")
        return path
    models = {**user_models(), **shipped()}  # shipped wins a shared name
    for candidate in (name_or_path, prefix + name_or_path):
        if candidate in models:
            return models[candidate]
    folded = {n.lower(): [m for m in models if m.lower() == n.lower()] for n in models}
    for candidate in (name_or_path, prefix + name_or_path):
        hits = folded.get(candidate.lower(), [])
        if len(hits) == 1:
            return models[hits[0]]
    raise CheckpointError(
        f"no model named {name_or_path!r} in {weights_dir()} or "
        f"{user_models_dir()}; {_suggestions(name_or_path, list(models), prefix)}"
    )


def _suggestions(name: str, names: list[str], prefix: str) -> str:
    short = {n.removeprefix(prefix) if prefix else n: n for n in names}
    lowered = {n.lower(): n for n in short}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=5, cutoff=0.5)
    if close:
        return f"did you mean: {', '.join(lowered[c] for c in close)}? (`i2i models` lists all)"
    family = [n.removeprefix(prefix) for n in names if prefix and n.startswith(prefix)]
    if family:  # e.g. `stylize --style van-gogh`: name the styles there are
        return f"there are: {', '.join(sorted(family))} (`i2i models` lists all)"
    if names:
        return "`i2i models` lists the models there, or pass a checkpoint file"
    return "pass a checkpoint file, or put model files in the models folder"
