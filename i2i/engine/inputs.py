"""Turning command-line inputs (files, folders, globs, '-') into jobs with output paths."""
from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

from ..data.image_io import EXT_BY_FORMAT, FORMAT_BY_EXT, is_image_path
from ..data.media_types import CLIP_SUFFIXES
from ..errors import UsageError

STDIO = "-"


@dataclass(frozen=True)
class Job:
    source: str
    """A path, or '-' for stdin."""
    rel: Path
    """Relative output path (input stem and folder structure), before extension and suffix."""


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str


def expand_inputs(inputs: list[str]) -> tuple[list[Job], list[Skipped], list[Skipped]]:
    """-> (jobs, skipped non-images (notes), missing inputs (errors))."""
    jobs, notes, missing = [], [], []
    for item in inputs:
        if item == STDIO:
            jobs.append(Job(STDIO, Path("stdin")))
            continue
        path = Path(item)
        if path.is_dir():
            for f in sorted(p for p in path.rglob("*") if p.is_file()):
                if f.name.startswith("."):
                    continue
                if is_image_path(f) or f.suffix.lower() in CLIP_SUFFIXES:
                    jobs.append(Job(str(f), f.relative_to(path)))
                else:
                    notes.append(Skipped(str(f), "skipped: not an image file"))
        elif path.is_file():
            jobs.append(Job(str(path), Path(path.name)))
        elif any(ch in item for ch in "*?["):
            found = sorted(Path(p) for p in glob.glob(item, recursive=True) if Path(p).is_file())
            if not found:
                missing.append(Skipped(item, "no file matches this pattern"))
            jobs += [Job(str(p), Path(p.name)) for p in found
                     if is_image_path(p) or p.suffix.lower() in CLIP_SUFFIXES]
        else:
            missing.append(Skipped(item, "no such file or directory"))
    return jobs, notes, missing


@dataclass(frozen=True, kw_only=True)
class OutputOptions:
    out: str
    """Output folder, a single output file, or '-' for stdout."""
    ext: str = "auto"
    """auto (keep the input's format), png, jpg or webp."""
    suffix: str = ""
    """Appended to each output stem."""
    quality: int = 95
    """JPEG/WebP quality."""
    overwrite: bool = False
    skip_existing: bool = False

    def __post_init__(self):
        if self.ext != "auto" and self.ext not in FORMAT_BY_EXT:
            raise UsageError(f"--ext must be auto, png, jpg or webp, not {self.ext!r}")
        if self.overwrite and self.skip_existing:
            raise UsageError("--overwrite and --skip-existing contradict each other")


def single_file_target(out: str, n_jobs: int) -> bool:
    """Whether `out` names one output file rather than a folder."""
    return n_jobs == 1 and out != STDIO and Path(out).suffix.lower().lstrip(".") in FORMAT_BY_EXT \
        and not Path(out).is_dir()


def output_format(job: Job, source_format: str | None, has_alpha: bool, opts: OutputOptions,
                  single_file: bool) -> tuple[str, str]:
    """-> (PIL format, extension) for one output."""
    if single_file:
        ext = Path(opts.out).suffix.lower().lstrip(".")
    elif opts.ext != "auto":
        ext = opts.ext
    elif job.source != STDIO and job.rel.suffix.lower().lstrip(".") in FORMAT_BY_EXT:
        ext = job.rel.suffix.lower().lstrip(".")
    else:
        ext = EXT_BY_FORMAT.get(source_format or "PNG", "png")
    if ext in ("tga", "gif", "pgm", "ppm") and opts.ext == "auto" and not single_file:
        ext = "png"
    fmt = FORMAT_BY_EXT[ext]
    if has_alpha and fmt not in ("PNG", "WEBP", "TIFF"):
        fmt, ext = "PNG", "png"  # never drop transparency silently
    return fmt, ext


def output_path(job: Job, ext: str, opts: OutputOptions, single_file: bool) -> Path:
    if single_file:
        return Path(opts.out)
    rel = job.rel.with_name(job.rel.stem + opts.suffix + "." + ext)
    return Path(opts.out) / rel
