"""Turning command-line inputs (files, folders, globs, '-') into jobs, and planning their outputs.

Which files are images: in folders and globs, files whose extension the installed Pillow can
decode (i2i.data.image_io.readable_formats), and video files (i2i.data.media_types, run by
engine/video.py); hidden files and hidden folders are skipped. A file named on the command line
is always tried, whatever its name.

Every output path is decided before anything runs (plan_outputs): two inputs never share an
output, and files that are outputs of this very job are never taken as its inputs.
"""

from __future__ import annotations

import glob
import io
import os
import sys
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from ..data.image_io import ALPHA_FORMATS, EXT_BY_FORMAT, FORMAT_BY_EXT, is_image_path, readable_formats
from ..data.media_types import clip_suffix, is_media_path
from ..errors import UsageError
from ..files import is_url
from .options import OutputOptions  # noqa: F401  (declared with the other job options)

STDIO = "-"
STDIO_NAME = "stdin"  # the stem of an output made from stdin


def input_name(source: str) -> str:
    """How messages name an input: its path, or <stdin>."""
    return "<stdin>" if source == STDIO else source


@dataclass(frozen=True)
class Job:
    """One input and where its output goes (output None until planned: plan_outputs)."""

    source: str
    """A path, or '-' for stdin."""
    rel: Path
    """Relative output path (input stem and folder structure), before extension and suffix."""
    output: str | None = None
    """The planned output: a path, or '-' for stdout (None until plan_outputs)."""
    format: str | None = None
    """The planned output's Pillow format (None until plan_outputs)."""
    data: bytes | None = field(default=None, repr=False, compare=False)
    """stdin's bytes, read while planning (its format decides the output name)."""


@dataclass(frozen=True)
class Skipped:
    """An input left out or refused, and why (one line: a note or an error)."""

    source: str
    reason: str


def expand_inputs(inputs: list[str]) -> tuple[list[Job], list[Skipped], list[Skipped]]:
    """-> (jobs, skipped files and folders (notes), missing or unreadable inputs (errors))."""
    jobs, notes, missing = [], [], []
    for item in inputs:
        if item == STDIO:
            jobs.append(Job(STDIO, Path(STDIO_NAME)))
            continue
        if is_url(item):
            jobs += _expand_url(item, notes, missing)
            continue
        path = Path(item)
        try:
            path.stat()
        except FileNotFoundError:
            pass
        except OSError as e:  # a folder above it cannot be read: this input fails, not the run
            missing.append(Skipped(item, f"cannot access ({e.strerror or e})"))
            continue
        if path.is_dir():
            jobs += _walk_folder(path, notes, missing)
        elif path.is_file():
            jobs.append(Job(str(path), Path(path.name)))
        elif any(ch in item for ch in "*?["):
            found = sorted(Path(p) for p in glob.glob(item, recursive=True) if Path(p).is_file())
            if not found:
                missing.append(Skipped(item, "no file matches this pattern"))
            jobs += [Job(str(p), Path(p.name)) for p in found if is_media_path(p)]
        else:
            missing.append(Skipped(item, "no such file or directory"))
    return _unique(jobs, notes), notes, missing


def _walk_folder(root: Path, notes: list[Skipped], missing: list[Skipped]) -> list[Job]:
    """Image files under `root` (symbolic links followed, each folder once), sorted by path."""
    found: list[Path] = []
    seen: set[str] = set()

    def unreadable(e: OSError):
        missing.append(Skipped(e.filename or str(root), f"cannot list this folder ({e.strerror or e})"))

    for folder, subfolders, files in os.walk(root, onerror=unreadable, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:  # a link back to a folder already walked
            subfolders[:] = []
            continue
        seen.add(real)
        for name in sorted(subfolders):
            if name.startswith("."):
                notes.append(Skipped(os.path.join(folder, name) + os.sep, "skipped: hidden folder"))
        subfolders[:] = [d for d in subfolders if not d.startswith(".")]
        for name in files:
            f = Path(folder) / name
            if name.startswith("."):
                continue
            if not f.is_file():
                notes.append(Skipped(str(f), "skipped: not a regular file (a broken link?)"))
            elif is_media_path(f):
                found.append(f)
            else:
                notes.append(Skipped(str(f), "skipped: not an image file"))
    return [Job(str(f), f.relative_to(root)) for f in sorted(found)]


def read_source(source: str, max_pixels: int):
    """Decode one input: a local path, or an fsspec URL (s3://, gs://, ... need the user's
    filesystem package: s3fs, gcsfs, ...). Raises ImageError naming it, as read_image does."""
    from ..data.image_io import read_image
    from ..errors import ImageError

    if not is_url(source):
        return read_image(source, max_pixels=max_pixels)
    import fsspec

    try:
        with fsspec.open(source, "rb") as f:
            data = f.read()
    except ImportError as e:
        raise ImageError(source, f"cannot read ({e}; install the package of its file system)") from None
    except OSError as e:
        raise ImageError(source, f"cannot read ({e.strerror or e})") from None
    return read_image(data, name=source, max_pixels=max_pixels)


def _expand_url(url: str, notes: list[Skipped], missing: list[Skipped]) -> list[Job]:
    """The images under an fsspec URL (a folder's tree mirrored, hidden files and folders
    skipped), or the one file it names."""
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(url)
        if fs.isfile(root):
            return [Job(url, Path(PurePosixPath(root).name))]
        if not fs.isdir(root):
            missing.append(Skipped(url, "no such file or directory"))
            return []
        found = sorted(fs.find(root))
    except ImportError as e:
        missing.append(Skipped(url, f"cannot access ({e}; install the package of its file system)"))
        return []
    except Exception as e:  # noqa: BLE001  (credentials, network: this input fails, not the run)
        missing.append(Skipped(url, f"cannot access ({type(e).__name__}: {e})"))
        return []
    jobs = []
    for path in found:
        rel = PurePosixPath(path).relative_to(PurePosixPath(root.rstrip("/")))
        if any(part.startswith(".") for part in rel.parts):
            continue
        source = fs.unstrip_protocol(path)
        if is_media_path(rel):
            jobs.append(Job(source, Path(*rel.parts)))
        else:
            notes.append(Skipped(source, "skipped: not an image file"))
    return jobs


def _unique(jobs: list[Job], notes: list[Skipped]) -> list[Job]:
    """The same file reached twice (a folder and a file inside it) is one job."""
    seen, unique = set(), []
    for job in jobs:
        key = (job.source if job.source == STDIO else os.path.realpath(job.source), job.rel)
        if key in seen:
            notes.append(Skipped(job.source, "skipped: given twice"))
            continue
        seen.add(key)
        unique.append(job)
    return unique


def single_file_target(out: str, n_jobs: int) -> bool:
    """Whether `out` names one output file: a path with an image extension that is not an
    existing folder. Raises UsageError when that file cannot hold the job (several inputs, or a
    format i2i does not write)."""
    if out == STDIO or Path(out).is_dir():
        return False
    ext = Path(out).suffix.lower().lstrip(".")
    if ext not in FORMAT_BY_EXT and not is_image_path(out):
        return False
    if ext not in FORMAT_BY_EXT:
        raise UsageError(f"-o {out}: i2i does not write .{ext} files; use one of {', '.join(FORMAT_BY_EXT)}")
    if n_jobs > 1:
        raise UsageError(f"-o {out} names one file, but {n_jobs} images were given: name a folder")
    return True


def output_format(
    job: Job, source_format: str | None, has_alpha: bool, opts: OutputOptions, single_file: bool
) -> tuple[str, str]:
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
    if has_alpha and fmt not in ALPHA_FORMATS and not single_file:
        fmt, ext = "PNG", "png"  # never drop transparency silently (a named file is flattened)
    return fmt, ext


def output_path(job: Job, ext: str, opts: OutputOptions, single_file: bool, *, keep_source_ext: bool = False) -> Path:
    """The output path; keep_source_ext names it STEM.SOURCE-EXT.EXT (two inputs share a stem)."""
    if single_file:
        return Path(opts.out)
    stem = job.rel.stem + opts.suffix
    if keep_source_ext:
        stem += "." + (job.rel.suffix.lstrip(".") or "stdin")
    return Path(opts.out) / job.rel.with_name(stem + "." + ext)


def plan_outputs(jobs: list[Job], opts: OutputOptions) -> tuple[list[Job], list[Skipped], list[Skipped]]:
    """Decide every job's output path and format before anything runs.

    -> (planned jobs, notes, errors). Inputs whose output names clash (logo.png and logo.gif
    with --ext png) are named with their source extension (logo.png.png, logo.gif.png); an
    input that is itself an output of another input of this job (a_x2.png from a.png, with -o
    at the input folder) is left out with a note, so a rerun has nothing to do; a clash that
    remains is an error for the later inputs, reported before anything is written.
    """
    single = single_file_target(opts.out, len(jobs))
    looked = [_look(job, opts, single) for job in jobs]
    candidates = list(range(len(jobs)))
    notes: list[Skipped] = []
    while True:
        planned = _name_outputs([looked[i] for i in candidates], opts, single)
        owner = {_key(job.output): job.source for job in planned if job.output != STDIO}
        own_outputs = [j for j in planned if j.source != STDIO and owner.get(_key(j.source), j.source) != j.source]
        if not own_outputs:
            break
        for j in own_outputs:
            notes.append(Skipped(j.source, f"skipped: an output of this job (from {owner[_key(j.source)]})"))
        left_out = {j.source for j in own_outputs}
        candidates = [i for i in candidates if looked[i][0].source not in left_out]
    errors, claimed, result = [], {}, []
    for job in planned:
        key = _key(job.output) if job.output != STDIO else None
        if key is not None and key in claimed:
            errors.append(
                Skipped(job.source, f"its output {job.output} is also the output of {claimed[key]}; rename one of them")
            )
            continue
        if key is not None:
            claimed[key] = job.source
        result.append(job)
    return result, notes, errors


def read_stdin(job: Job) -> Job:
    """A stdin job with its bytes read whole; a clip on stdin (an animated image or a video) is
    named stdin.EXT by its content, so that it runs as a clip, every frame, not as one image."""
    data = job.data if job.data is not None else sys.stdin.buffer.read()
    suffix = clip_suffix(data)
    return replace(job, data=data, rel=Path(STDIO_NAME + suffix) if suffix else job.rel)


def _look(job: Job, opts: OutputOptions, single: bool) -> tuple[Job, str | None, bool]:
    """(job, source format, has alpha). The file's header is read only where the output's name
    depends on it: stdin (its format), and outputs in a format without alpha (a transparent
    image goes to PNG instead)."""
    guess = readable_formats().get(job.rel.suffix.lower())
    if job.source != STDIO and (single or output_format(job, guess, False, opts, single)[0] in ALPHA_FORMATS):
        return job, guess, False
    if job.source == STDIO and job.data is None:
        job = replace(job, data=sys.stdin.buffer.read())
    from PIL import Image

    try:
        with Image.open(io.BytesIO(job.data) if job.data is not None else job.source) as im:
            alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
            return job, im.format, alpha
    except Exception:  # noqa: BLE001  (unreadable: decoding reports it; named as if opaque)
        return job, guess, False


def _name_outputs(looked: list[tuple[Job, str | None, bool]], opts: OutputOptions, single: bool) -> list[Job]:
    """Planned jobs; inputs whose outputs would share a name keep their source extension in it."""
    first = []
    for job, source_format, alpha in looked:
        fmt, ext = output_format(job, source_format, alpha, opts, single)
        first.append((job, fmt, ext))
    if opts.out == STDIO:
        return [replace(job, output=STDIO, format=fmt) for job, fmt, _ in first]
    groups = defaultdict(list)
    for job, _, ext in first:
        groups[_key(output_path(job, ext, opts, single))].append(job.source)
    planned = []
    for job, fmt, ext in first:
        clash = len(groups[_key(output_path(job, ext, opts, single))]) > 1
        path = output_path(job, ext, opts, single, keep_source_ext=clash)
        planned.append(replace(job, output=str(path), format=fmt))
    return planned


def _key(path) -> str:
    """How a path is compared: resolved, and case-folded (macOS and Windows ignore case)."""
    return os.path.normcase(os.path.realpath(path)).casefold()
