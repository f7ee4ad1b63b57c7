"""Typed option aliases shared by several commands."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

Device = Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N or mps (auto = CUDA when present).")]
Seed = Annotated[int, typer.Option(help="Random seed (weights, data order, augmentation).")]
Steps = Annotated[Optional[int], typer.Option(help="Total training steps (default: the method's); with --resume, extends the run to this many.")]
MaxMinutes = Annotated[Optional[float], typer.Option(help="Stop cleanly with a checkpoint after this many minutes.")]
RunDir = Annotated[Optional[Path], typer.Option(help="Run directory (default: runs/METHOD-DATE).")]
Resume = Annotated[Optional[Path], typer.Option(help="Continue the run in this directory exactly where it stopped.")]
CheckpointMinutes = Annotated[Optional[float], typer.Option(help="Minutes between resumable checkpoints (default 3; 0 = after every step); with --resume, replaces the run's.", min=0.0)]
TensorBoard = Annotated[Optional[bool], typer.Option("--tensorboard/--no-tensorboard", help="Also write TensorBoard event files to RUN_DIR/tensorboard (needs: pip install 'i2i[tensorboard]'); with --resume, default: as the run did.")]
Workers = Annotated[int, typer.Option(help="Data loading worker processes.")]
Threads = Annotated[int, typer.Option(help="CPU threads for torch (0 = torch's default).")]
BatchSize = Annotated[Optional[int], typer.Option(help="Batch size (default: the method's).", min=1)]
SampleEvery = Annotated[int, typer.Option(help="Steps between sample grids and curve refreshes.")]
EvalEvery = Annotated[int, typer.Option(help="Steps between validations (0 = at the end only).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")]
Inputs = Annotated[list[str], typer.Argument(help="Image files, folders (recursive), globs, or - for stdin. Without -o the last one is the output. In folders and globs, images are the files whose extension the installed Pillow reads (png, jpg, webp, avif, tif, bmp, gif, ...); hidden files and folders are skipped; a file named here is always tried.")]
Output = Annotated[Optional[str], typer.Option("--output", "-o", help="Output folder, a single file (a path with an image extension, for one input), or - for stdout.")]
Ext = Annotated[str, typer.Option(help="Output format: auto (keep the input's), png, jpg, webp, avif, tif, bmp, ...")]
Suffix = Annotated[str, typer.Option(help="Appended to each output file's stem.")]
QualityOpt = Annotated[int, typer.Option("--quality", help="JPEG/WebP quality.", min=1, max=100)]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace existing outputs.")]
SkipExisting = Annotated[bool, typer.Option("--skip-existing", help="Skip inputs whose output exists (finish an interrupted job); an output another job writes meanwhile counts too.")]
TrainPrecision = Annotated[str, typer.Option(help="auto (bf16 autocast on CUDA GPUs that have it, else fp32), fp32 or bf16.")]
Deterministic = Annotated[bool, typer.Option("--deterministic", help="Deterministic kernels (can be slower on CUDA): a resumed run repeats an uninterrupted one exactly.")]
Precision = Annotated[str, typer.Option(help="fp32; fp16 (CUDA); bf16 (CUDA, or a CPU with native bf16 through OpenVINO, where the output stays within tolerance); auto (bf16 where that holds, else fp32).")]
Backend = Annotated[str, typer.Option(help="What runs the network: auto (the fastest accurate one on this machine, measured once and remembered), torch, onnxruntime or openvino.")]
Tile = Annotated[Optional[int], typer.Option(help="Tile side in input pixels (0 = never tile; default: automatic above 1024x1024).", min=0)]
TileOverlap = Annotated[Optional[int], typer.Option(help="Overlap between tiles in input pixels.", min=0)]
JsonOut = Annotated[bool, typer.Option("--json", help="One JSON line per image on stdout.")]
MaxPixels = Annotated[int, typer.Option(help="Refuse input images with more pixels than this (decompression bombs).", min=1)]
MaxOutputPixels = Annotated[int, typer.Option(help="Refuse inputs whose output (or the network's) would have more pixels than this; checked before any work.", min=1)]
