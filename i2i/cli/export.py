"""`i2i export`: any checkpoint i2i can load -> a standalone ONNX file, verified against torch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from . import app
from .options import Overwrite
from .output import result


@app.command("export")
def export(
    model: Annotated[
        str, typer.Argument(metavar="NAME|FILE", help="A checkpoint (ours, or a peer's .pth) or a shipped model name.")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE", help="The .onnx file to write.")],
    image: Annotated[
        Path | None, typer.Option(metavar="FILE", help="Verify the export on this image (default: a bundled photo).")
    ] = None,
    overwrite: Overwrite = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verification and metadata as JSON.")] = False,
):
    """Export a model to ONNX (dynamic batch, height and width) with its task in metadata_props.

    The file is written only after ONNX Runtime's output on a real image matched torch's
    within one 8-bit level.

    Example: i2i export upscale-x4 -o upscale-x4.onnx
    """
    from ..checkpoint import load_model
    from ..data.image_io import read_image
    from ..engine.onnx_export import OPSET, export_file
    from ..errors import UsageError
    from ..models import resolve

    if output.suffix.lower() != ".onnx":
        raise UsageError(f"{output}: the output of i2i export is an .onnx file")
    if output.exists() and not overwrite:
        raise UsageError(f"{output}: exists (pass --overwrite)")
    loaded = load_model(resolve(model))
    report = export_file(loaded, output, read_image(image) if image is not None else None)
    if as_json:
        result(json.dumps({"output": str(output), "opset": OPSET, **report}, indent=2))
        return
    meta = report["metadata"]
    result(
        f"{output}: {meta['i2i.arch']} {meta['i2i.options']}, opset {OPSET}, "
        f"input (N, {report['input'][1]}, H, W) in [{meta['i2i.value_range']}], scale {meta['i2i.scale']}"
    )
    result(
        f"verified with {report['runtime']} on a {report['input'][3]}x{report['input'][2]} image, "
        f"batch of {report['input'][0]}: max difference to torch {report['max_diff']:.2e}, "
        f"mean {report['mean_diff']:.2e} (output range [0, 1])"
    )
