"""`i2i models`: every model reachable by name, with its task, scale and folder."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from . import app
from .output import error, result, say


@app.command("models")
def models(as_json: Annotated[bool, typer.Option("--json", help="One JSON line per model.")] = False):
    """List the models --model NAME finds: shipped ones (weights/), then the user models folder
    ($I2I_MODELS, default ~/.local/share/i2i/models or the platform's equivalent), by file stem.
    Nothing is downloaded: put .safetensors/.pth/.pt/.ckpt files in that folder.

    Example: i2i models ; i2i upscale --model RealESRGAN_x4plus photo.jpg -o big.png
    """
    from ..checkpoint import model_info
    from ..errors import I2IError
    from ..models import all_models, user_models_dir, weights_dir

    found = all_models()
    failures = 0
    if not as_json:
        say(f"# shipped: {weights_dir()}")
        say(f"# user:    {user_models_dir()}")
    for entry in found:
        row = {"name": entry.name, "source": entry.source, "path": str(entry.path)}
        try:
            meta = model_info(entry.path, check_tensors=False)  # the header alone: no torch for ours
        except I2IError as e:
            failures += 1
            error(str(e))
            row["error"] = str(e)
        else:
            arch = meta.options.get("arch", "") if meta.arch == "spandrel" else meta.arch
            row.update(
                task=meta.task.kind,
                scale=meta.task.scale,
                arch=arch,
                channels=f"{meta.task.in_space}->{meta.task.out_space}",
            )
        if as_json:
            result(json.dumps(row))
        elif "error" not in row:
            result(
                f"{row['name']:28} {row['task']:9} x{row['scale']:<3} {row['arch']:16} "
                f"{row['channels']:10} {row['source']:8} {row['path']}"
            )
    if not found and not as_json:
        say("no models found")
    if failures:
        raise typer.Exit(1)
