"""`i2i info` and `i2i convert`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from . import app


@app.command("info")
def info(checkpoint: Annotated[Path, typer.Argument(help="A .safetensors (or peer .pth) checkpoint.")],
         as_json: Annotated[bool, typer.Option("--json", help="Print the metadata as JSON.")] = False):
    """Show what a checkpoint is: architecture, options, task, training command and metrics.

    Example: i2i info weights/upscale-x4.safetensors
    """
    from ..checkpoint import ModelInfo, load_model, read_info

    if checkpoint.suffix == ".safetensors":
        try:
            meta: ModelInfo = read_info(checkpoint)
        except Exception:
            meta = load_model(checkpoint).info
    else:
        meta = load_model(checkpoint).info
    data = {"file": str(checkpoint), "name": meta.name, "description": meta.description,
            "arch": meta.arch, "options": meta.options, "task": meta.task.to_dict(),
            "training": meta.training, "backends": _backends(checkpoint)}
    if as_json:
        print(json.dumps(data, indent=2))
        return
    for key, value in data.items():
        if key == "backends":
            _print_backends(value)
        elif isinstance(value, dict):
            print(f"{key}:")
            for k, v in value.items():
                print(f"  {k}: {json.dumps(v) if isinstance(v, (dict, list)) else v}")
        else:
            print(f"{key}: {value}")


def _backends(checkpoint: Path) -> dict:
    """Installed runtimes, and what the engine measured and ran for this file on this machine."""
    from ..engine.cache import file_sha256
    from ..engine.selection import installed, remembered

    return {"installed": installed(), "ran": remembered(file_sha256(checkpoint))}


def _print_backends(backends: dict) -> None:
    print("backends: " + ", ".join(f"{k} {v}" for k, v in backends["installed"].items()))
    if not backends["ran"]:
        print("  not run on this machine yet (the first run measures and remembers the fastest)")
    for r in backends["ran"]:
        times = ", ".join(f"{name} {s:.3f} s" for name, s in sorted(r["seconds"].items(), key=lambda kv: kv[1]))
        print(f"  {r['size_class']} inputs, --backend/--precision {r['request']}, {r['threads']} threads: "
              f"ran {r['chosen']} (on a {r['crop'][1]}x{r['crop'][0]} crop: {times})")


@app.command("convert")
def convert(src: Annotated[Path, typer.Argument(help="Peer checkpoint (.pth/.pt/.safetensors).")],
            dst: Annotated[Path, typer.Argument(help="Output .safetensors file.")],
            half: Annotated[bool, typer.Option("--half", help="Store weights as fp16.")] = False):
    """Convert a peer's checkpoint (pix2pix/CycleGAN, fast_neural_style, BasicSR) to ours.

    Example: i2i convert latest_net_G.pth horse2zebra.safetensors
    """
    from ..checkpoint import convert as convert_checkpoint

    meta = convert_checkpoint(src, dst, half=half)
    print(f"{dst}: {meta.arch} {json.dumps(meta.options)}")
