"""The web page's jobs: uploads in, results out, one model run at a time.

A Workspace owns a temporary folder (removed by close(), at exit) and runs each job as the
command line does: the command's Recipe (engine/commands.py) built into an engine, the uploads
planned and run by engine/jobs.py into the job's own folder, outputs in the input's format,
each failed file one line naming it (as `i2i upscale photo.jpg -o out/` run beside the file
would print it). On top of that:

- one model run at a time, in the order asked (a FIFO turn): two browser tabs cannot run two
  networks at once on a machine whose cores one network already fills;
- models loaded once and kept (the last MAX_ENGINES engines, with their exported graphs);
- limits: the command line's max_pixels and max_output_pixels, and a size cap per uploaded file;
- progress: progress(fraction 0..1, text) after each image and each batch of a clip's frames.

No web framework here: page.py puts this behind Gradio; tests/test_serve.py drives it directly.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import shutil
import tempfile
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from ..data.image_io import DEFAULT_MAX_OUTPUT_PIXELS, DEFAULT_MAX_PIXELS
from ..engine.commands import CommandOptions, build_engine, recipe_for
from ..engine.options import EngineOptions
from ..errors import I2IError, one_line

DEFAULT_MAX_FILE_MB = 100
"""Uploads larger than this are refused (a photo is a few MB; a short clip tens)."""
MAX_ENGINES = 8
"""Engines (loaded models) kept between jobs; the least recently used beyond this are dropped."""
PREVIEW_SIDE = 1280
"""Long side of the before/after preview pictures (the download is full resolution)."""

Progress = Callable[[float, str], None]


@dataclass(frozen=True, kw_only=True)
class Limits:
    """What a job may take, as the command line's options of the same names."""

    max_pixels: int = DEFAULT_MAX_PIXELS
    """Input images with more pixels are refused (decompression bombs)."""
    max_output_pixels: int = DEFAULT_MAX_OUTPUT_PIXELS
    """Inputs whose output (or the network's) would have more pixels are refused before any work."""
    max_file_bytes: int = DEFAULT_MAX_FILE_MB * 1_000_000
    """Uploaded files larger than this are refused."""


@dataclass(frozen=True, kw_only=True)
class GenerateOptions:
    """`i2i generate`'s samples: n images from latents seeded by `seed`."""

    model: str = "dcgan-landscapes"
    n: int = 16
    seed: int = 0
    truncation: float | None = None


@dataclass(frozen=True, kw_only=True)
class Request:
    """One job from the page: a command's options and the engine's, typed as the command line's
    (engine/options.py EngineOptions: backend, precision, tile, device, ...; its max_pixels and
    max_output_pixels are replaced by the Workspace's Limits)."""

    options: CommandOptions | GenerateOptions
    engine: EngineOptions = EngineOptions()
    """Hashable: engines are kept by them."""
    video: object = None
    """engine.video.VideoOptions for clips (None: VideoOptions(), as a command run without clip options)."""

    @classmethod
    def of(cls, options, video=None, **engine) -> Request:
        """A request with EngineOptions(**engine): the command line's defaults for those left out."""
        return cls(options=options, engine=EngineOptions(**engine), video=video)

    @property
    def command(self) -> str:
        """upscale, stylize, colorize, translate or generate."""
        return "generate" if isinstance(self.options, GenerateOptions) else recipe_command(self.options)


def recipe_command(options) -> str:
    """The command whose options `options` are (engine/commands.py COMMANDS)."""
    from ..engine.commands import COMMANDS

    return next(name for name, kind in COMMANDS.items() if isinstance(options, kind))


@dataclass
class Output:
    """One input's outcome (or one generated image)."""

    name: str
    """The input as uploaded (its file name), or the generated image's."""
    path: Path | None = None
    """The full-resolution result, in the input's format (None when it failed)."""
    error: str | None = None
    """One line naming the file, as the command line prints it."""
    before: Path | None = None
    after: Path | None = None
    """Same-size previews (at most PREVIEW_SIDE a side) for a before/after comparison; None for videos."""
    clip: bool = False
    """A video or an animation."""
    size: tuple[int, int] | None = None
    """The result's size in pixels (width, height)."""


@dataclass
class JobResult:
    """One job's outcome: an Output per input (or generated image), or what stopped it."""

    id: int
    outputs: list[Output] = field(default_factory=list)
    error: str | None = None
    """What stopped the whole job (a model that cannot load, a backend this machine lacks)."""

    @property
    def errors(self) -> list[str]:
        """Every error line: the job's, then each failed input's."""
        return ([self.error] if self.error else []) + [o.error for o in self.outputs if o.error]

    @property
    def files(self) -> list[Path]:
        """The results written, in order."""
        return [o.path for o in self.outputs if o.path is not None]


class Turns:
    """A lock taken in the order asked for (first come, first served), that says how many are
    ahead of a waiter: the page's queue of model runs."""

    def __init__(self):
        self._cond = threading.Condition()
        self._next = 0
        self._serving = 0

    def wait(self, on_wait: Callable[[int], None] | None = None) -> int:
        """Block until it is this caller's turn; on_wait(jobs ahead) while waiting. -> the ticket."""
        with self._cond:
            ticket, self._next = self._next, self._next + 1
            while ticket != self._serving:
                if on_wait:
                    on_wait(ticket - self._serving)
                self._cond.wait(timeout=1.0)
            return ticket

    def done(self) -> None:
        """End the current turn: the next waiter goes."""
        with self._cond:
            self._serving += 1
            self._cond.notify_all()

    @property
    def waiting(self) -> int:
        """Callers holding or waiting for a turn."""
        with self._cond:
            return self._next - self._serving


class Workspace:
    """Runs the page's jobs in a temporary folder of its own (removed by close(); use it as a
    context manager). root: where that folder is made (default: the system's temporary folder)."""

    def __init__(self, limits: Limits | None = None, root: str | os.PathLike | None = None):
        self.limits = limits or Limits()
        self.folder = Path(tempfile.mkdtemp(prefix="i2i-serve-", dir=root))
        # Removed at exit too, however the process ends short of a kill (an error, a signal
        # turned into an exception by cli.main).
        self._remove = weakref.finalize(self, shutil.rmtree, self.folder, ignore_errors=True)
        self._turns = Turns()
        self._ids = itertools.count(1)
        self._engines: OrderedDict = OrderedDict()
        self.runs = 0
        """Model runs so far (each job is one)."""
        self.loads = 0
        """Engines built so far: a model loaded once and kept is built once."""

    def close(self) -> None:
        """Remove the workspace's folder (every job's uploads and results)."""
        self._remove()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- a job ----
    def run(self, request: Request, files: list[str | os.PathLike] = (), progress: Progress | None = None) -> JobResult:
        """Run one job over uploaded files (paths; their names are what the user uploaded), or
        none for generate. Waits for its turn. Never raises for a file's or a model's failure:
        those are the result's errors (I2IError's one line); KeyboardInterrupt passes."""
        job = JobResult(next(self._ids))
        folder = self.folder / f"job-{job.id:04d}"
        inputs, refused = self._take_uploads(files, folder / "in")
        report = progress or (lambda fraction, text: None)
        self._turns.wait(lambda ahead: report(0.0, f"waiting: {ahead} job(s) ahead"))
        try:
            self.runs += 1
            if isinstance(request.options, GenerateOptions):
                job.outputs = self._generate(request, folder / "out")
            else:
                job.outputs = self._translate(request, inputs, folder, report)
        except I2IError as e:
            job.error = one_line(str(e))
        except Exception as e:  # noqa: BLE001  (the page stays up; the job says what happened)
            job.error = one_line(f"internal error: {type(e).__name__}: {e}")
        finally:
            self._turns.done()
        job.outputs = refused + job.outputs
        return job

    def _take_uploads(self, files, folder: Path) -> tuple[list[Path], list[Output]]:
        """Uploads moved under the job's folder by their own names (a repeated name numbered);
        files above the size cap refused with one line each."""
        folder.mkdir(parents=True, exist_ok=True)
        taken, refused, names = [], [], set()
        for f in files:
            source = Path(f)
            name = _unique_name(source.name, names)
            size = source.stat().st_size
            if size > self.limits.max_file_bytes:
                refused.append(
                    Output(
                        name,
                        error=f"{name}: the file is {size / 1e6:.1f} MB, above the limit of "
                        f"{self.limits.max_file_bytes / 1e6:g} MB (raise it with i2i serve --max-file-mb)",
                    )
                )
                continue
            target = folder / name
            try:
                os.link(source, target)  # uploads and jobs share the workspace: no copy
            except OSError:
                shutil.copyfile(source, target)
            taken.append(target)
        return taken, refused

    def engine(self, request: Request):
        """The request's engine, built once and kept (the least recently used beyond MAX_ENGINES dropped)."""
        limits = {"max_pixels": self.limits.max_pixels, "max_output_pixels": self.limits.max_output_pixels}
        engine = dataclasses.replace(request.engine, **limits)
        return self._kept((request.options, engine), lambda: build_engine(recipe_for(request.options), engine))

    def _kept(self, key, build: Callable):
        if key in self._engines:
            self._engines.move_to_end(key)
            return self._engines[key]
        built = build()
        self.loads += 1
        self._engines[key] = built
        while len(self._engines) > MAX_ENGINES:
            self._engines.popitem(last=False)
        return built

    def _translate(self, request: Request, inputs: list[Path], folder: Path, report: Progress) -> list[Output]:
        from ..engine.inputs import OutputOptions
        from ..engine.jobs import plan_job
        from ..engine.video import VideoOptions

        if not inputs:
            return []
        engine = self.engine(request)
        out = OutputOptions(out=str(folder / "out"), suffix=f"_{request.command}")
        plan = plan_job([str(p) for p in inputs], out)
        names = _Names(folder)
        total = max(plan.total, 1)
        outputs = [Output(names(m.source), error=names.line(f"{m.source}: {m.reason}")) for m in plan.missing]
        report(0.0, f"0/{plan.total} files")

        def on_frames(job, done, expected):
            within = done / expected if expected else 0.0
            report(min(len(outputs) + within, total) / total, f"{names(job.source)}: frame {done}")

        video = request.video or VideoOptions()
        with closing(plan.run(engine, out, video=video, on_frames=on_frames)) as results:
            for r in results:
                outputs.append(self._output(r, names, folder / "preview"))
                report(len(outputs) / total, f"{len(outputs)}/{plan.total} files")
        return outputs

    def _output(self, r, names: _Names, previews: Path) -> Output:
        from ..data.media_types import VIDEO_SUFFIXES

        if r.error:
            return Output(names(r.input), error=names.line(r.error))
        path = Path(r.output)
        result = Output(names(r.input), path=path, clip=hasattr(r, "frames"), size=r.out_size)
        if path.suffix.lower() not in VIDEO_SUFFIXES:  # an animation's first frame, not a video's
            result.before, result.after = _previews(Path(r.input), path, previews)
        return result

    def _generate(self, request: Request, folder: Path) -> list[Output]:
        from ..gan.api import LatentSource
        from ..gan.generator import LatentGenerator
        from ..gan.pictures import grid, save_png, to_pil

        options: GenerateOptions = request.options
        device = request.engine.device
        gen = self._kept((options.model, device), lambda: LatentGenerator.load(options.model, device=device))
        z = LatentSource(n=options.n, seed=options.seed, truncation=options.truncation).latents_for(gen.z_dim)
        images = gen(z)
        folder.mkdir(parents=True, exist_ok=True)
        outputs = []
        sheet = folder / f"{gen.name}_seed{options.seed}_grid.png"
        save_png(grid(images), sheet)
        outputs.append(Output(sheet.name, path=sheet, after=sheet))
        for i, image in enumerate(images):
            path = folder / f"{gen.name}_seed{options.seed}_{i:04d}.png"
            save_png(to_pil(image), path)
            outputs.append(Output(path.name, path=path, after=path))
        return outputs


class _Names:
    """Messages name an upload by its own name, not by its place in the workspace."""

    def __init__(self, folder: Path):
        self.prefixes = [str(folder / "in") + os.sep, str(folder / "out") + os.sep]

    def line(self, message: str) -> str:
        for prefix in self.prefixes:
            message = message.replace(prefix, "")
        return one_line(message)

    def __call__(self, path: str) -> str:
        return self.line(str(path))


def _unique_name(name: str, taken: set[str]) -> str:
    stem, suffix = os.path.splitext(name or "upload")
    candidate, n = name or "upload", 1
    while candidate in taken or candidate.startswith("."):
        candidate = f"{stem.lstrip('.') or 'upload'}-{n}{suffix}"
        n += 1
    taken.add(candidate)
    return candidate


def _previews(source: Path, output: Path, folder: Path) -> tuple[Path | None, Path | None]:
    """The output fitted in PREVIEW_SIDE and the input resized to the same size (a fair
    comparison: what plain resizing gives beside what the model gives); WebP, first frame of a
    clip. (None, None) when either cannot be read as a picture."""
    from PIL import Image, ImageOps

    try:
        with Image.open(output) as after, Image.open(source) as before:
            after = _eight_bit(ImageOps.exif_transpose(after))
            after.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.LANCZOS)
            before = _eight_bit(ImageOps.exif_transpose(before)).convert(after.mode).resize(after.size, Image.BICUBIC)
            folder.mkdir(parents=True, exist_ok=True)
            paths = folder / f"{output.stem}.before.webp", folder / f"{output.stem}.after.webp"
            before.save(paths[0], quality=90)
            after.save(paths[1], quality=90)
            return paths
    except Exception:  # noqa: BLE001  (a preview is a courtesy: the result itself stands)
        return None, None


def _eight_bit(image):
    """RGB or RGBA with 8-bit samples (16-bit gray scaled, not clipped, as the writer does)."""
    import numpy as np
    from PIL import Image

    if image.mode in ("I", "I;16", "I;16B", "I;16L"):
        image = Image.fromarray((np.asarray(image, dtype=np.uint32) >> 8).astype(np.uint8))
    return image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB")
