"""The command line's one output channel. Everything a command prints goes through here:

    stdout   results, one line each (a written file, or a JSON object with --json): result()
    stderr   notes ("note: ..."), errors ("i2i: error: ..."), progress bars and training lines

Each message is one line, never wrapped, whatever its length (error lines are read line by line),
and printed as it is: no markup, so a file name such as photo[b].png prints unchanged.

File names are printed as the OS gave them: Python decodes a name that is not valid in the file
system encoding with surrogateescape (the byte 0xE9 of a Latin-1 `caf\\xe9.png` becomes U+DCE9),
and both streams write those characters back as the original bytes (keep_os_names), so a name
never stops a run and a script reading the lines gets the real path. JSON lines stay ASCII: such a
name appears as its escape `\\udce9`, which `os.fsencode(json.loads(line)["output"])` turns back
into the bytes.
"""

from __future__ import annotations

import codecs
import json
import os
import sys
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

# soft_wrap: a message is one line however long, never broken at the console's width (80
# columns when stderr is a file or a pipe): error lines are read line by line.
err = Console(stderr=True, soft_wrap=True)


ERROR = "i2i: error: "  # the prefix of every error line, whichever command prints it

OS_NAMES = "i2i-os-names"  # the encode error handler of stdout and stderr (keep_os_names)


def _os_bytes(e: UnicodeEncodeError) -> tuple[bytes, int]:
    """Encode error handler: a surrogateescape character (U+DC80..U+DCFF, an undecodable byte of
    a file name) goes out as its byte; any other character the stream's encoding lacks as a
    backslash escape (what Python does on stderr)."""
    out = b""
    for ch in e.object[e.start : e.end]:
        if "\udc80" <= ch <= "\udcff":
            out += bytes([ord(ch) - 0xDC00])
        else:
            out += ch.encode("ascii", "backslashreplace")
    return out, e.end


codecs.register_error(OS_NAMES, _os_bytes)


def keep_os_names() -> None:
    """Make stdout and stderr write file names as the OS gave them (see the module docstring);
    without this, stdout refuses such a name (UnicodeEncodeError) and stderr escapes it."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors=OS_NAMES)
        except (AttributeError, ValueError):  # not a text file (replaced by a caller), or closed
            pass


def _encode_line(line: str) -> bytes:
    """A stdout line as bytes, names as the OS gave them."""
    return (line + "\n").encode(sys.stdout.encoding or "utf-8", OS_NAMES)


def say(message: str, progress=None) -> None:
    """One plain line on stderr (above the progress bar when one is shown)."""
    try:
        (progress.console if progress else err).print(message, markup=False, highlight=False, soft_wrap=True)
    except OSError:
        pass  # no terminal any more (SIGHUP): the exit code still tells


def error(message: str, progress=None) -> None:
    """An error line on stderr: `i2i: error: MESSAGE`."""
    say(ERROR + message, progress)


def note(message: str, progress=None) -> None:
    """A note on stderr: `note: MESSAGE` (skipped files, backend fallbacks, ...)."""
    say(f"note: {message}", progress)


def result(line: str) -> None:
    """A result line on stdout (a written file, a table row, a JSON object)."""
    print(line, flush=True)


class Results:
    """Result lines on stdout, each written whole (the byte count is checked: under
    PYTHONUNBUFFERED a pipe may take part of a write). A reader that goes away (`| head -1`)
    ends the printing, not the job: `lost` then says why, and the command's exit code says so."""

    def __init__(self):
        self.lost: str | None = None

    def print(self, line: str) -> None:
        """Write one line (a str without its newline), whole, unless stdout was lost."""
        from ..files import write_all

        if self.lost:
            return
        try:
            sys.stdout.flush()
            write_all(sys.stdout.buffer, _encode_line(line))
        except OSError as e:
            self.lost = e.strerror or str(e)

    def json(self, row: dict) -> None:
        """Write one JSON object (a dict of plain values) as a line."""
        self.print(json.dumps(row))


class TrainingDisplay:
    """Shows step, losses, it/s and ETA; one line per log when stderr is not a terminal."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.progress = None
        self.task = None

    def __enter__(self):
        if not self.quiet and err.is_terminal:
            self.progress = Progress(
                TextColumn("[bold]train"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[losses]}"),
                TextColumn("{task.fields[rate]}"),
                TimeRemainingColumn(),
                console=err,
            )
            self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self.progress:
            self.progress.__exit__(*exc)

    def __call__(self, kind: str, data: dict) -> None:
        if self.quiet:
            return
        if kind == "log":
            losses = " ".join(
                f"{k}={v:.4g}"
                for k, v in data.items()
                if k not in ("step", "time", "rate", "total", "kind") and isinstance(v, float)
            )
            rate = f"{data['rate']:.2f} it/s" if data.get("rate") else ""
            if self.progress:
                if self.task is None:
                    self.task = self.progress.add_task("train", total=data["total"], losses="", rate="")
                self.progress.update(self.task, completed=data["step"], losses=losses, rate=rate)
            else:
                say(f"step {data['step']}/{data['total']} {losses} {rate}")
        elif kind in ("checkpoint", "resume"):
            say(f"{kind}: step {data['step']} ({data['path']})", self.progress)
        elif kind == "stopping":
            say(
                f"{data.get('signal', 'stop')}: stopping after this step (the same again aborts at once)", self.progress
            )


class JobDisplay:
    """An inference job on the terminal: the plan's notes and errors (at once), a progress bar
    (PlainProgress lines on a log; none with --quiet or --json), and for each Result its notes
    (each said once in a job), errors, kept-output note and result line on stdout (its path, or
    with --json its Result.to_json()).

        with JobDisplay(plan, options) as display:
            for r in plan.run(engine, out, on_frames=display.frames):
                display.show(r)
        failed = display.failed(plan)   # then the exit code

    plan: engine/jobs.py JobPlan (its notes, missing, rank, totals). options: cli/options.py
    DisplayOptions. verbose: a note per input on a per-input model choice (upscale -v, colorize -v).
    """

    def __init__(self, plan, options, *, verbose: bool = False):
        self.options, self.verbose = options, verbose
        self.quiet = options.quiet or options.as_json
        self.stdout = Results()
        self.shown: set[str] = set()
        self._plan_notes(plan)
        self.total = len(plan.images) + len(plan.clips) + len(plan.clashes)
        self.progress = job_progress(self.total, self.quiet)
        self.frames = FrameProgress(self.progress)
        """on_frames for JobPlan.run: a clip's frames under the bar."""
        self.done, self.started, self.task = 0, 0.0, None

    def _plan_notes(self, plan) -> None:
        for skipped in plan.notes:
            if not self.quiet:
                note(f"{skipped.source}: {skipped.reason}")
        if plan.found_nothing and not self.quiet and plan.rank == 0:
            note(f"no images found in {' '.join(plan.inputs)}")
        for m in plan.missing:
            error(f"{m.source}: {m.reason}")

    def __enter__(self) -> JobDisplay:
        self.started = time.perf_counter()
        if self.progress:
            self.task = self.progress.add_task("images", total=self.total, rate="")
            self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.progress:
            self.progress.stop()

    def show(self, r) -> None:
        """One Result (engine/results.py): its notes, errors and line, then the bar moves on."""
        self.done += 1
        self._notes(r)
        if self.options.as_json:
            self.stdout.print(r.to_json())
        elif r.ok and r.output and r.output != "-" and not r.skipped:
            self.stdout.print(r.output)
        if self.progress:
            rate = self.done / max(time.perf_counter() - self.started, 1e-9)
            self.progress.update(self.task, completed=self.done, rate=f"{rate:.2f} img/s")

    def _notes(self, r) -> None:
        new = [m for m in dict.fromkeys(r.notes) if m not in self.shown]  # backend fallbacks, each said once
        self.shown.update(new)
        if self.quiet:
            new = []
        for message in new:
            note(message, self.progress)
        if self.verbose and r.choice and not self.quiet:
            note(f"{r.input}: {describe_choice(r.choice)}", self.progress)
        if r.error:
            error(r.error, self.progress)
        elif r.skipped and not self.options.quiet_skips and not self.quiet:
            note_kept(r, self.progress)

    def failed(self, plan) -> bool:
        """Whether the job failed anywhere (under torchrun: in any process) or lost result lines;
        says so on stderr."""
        failures = plan.failures_everywhere()
        if self.stdout.lost:
            error(f"stdout was closed early ({self.stdout.lost}); result lines were lost")
        if failures and not self.options.as_json and plan.rank == 0:
            say(f"{failures} of {plan.total} input(s) failed")
        return bool(failures or self.stdout.lost)


def note_kept(r, progress=None) -> None:
    """The note for an input skipped because its output exists (kept: never replaced without --overwrite)."""
    note(f"{r.input}: skipped: {r.output} exists (--overwrite replaces it)", progress)


def job_progress(total: int, quiet: bool):
    """A progress display on stderr: a bar on a terminal, PlainProgress lines on a file or a
    pipe, None with --quiet."""
    if quiet:
        return None
    if not err.is_terminal:
        return PlainProgress()
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
    )


class PlainProgress:
    """Progress for a stderr that is not a terminal (a log file, a pipe), as pip's and tqdm's
    non-terminal modes do: one plain line per task at most every I2I_PROGRESS_SECONDS seconds
    (default 10; the first after that long), and a last one when a task that printed completes.
    It takes the calls the commands make on a rich Progress (add_task, update, reset)."""

    def __init__(self):
        self.console = err
        self.every = float(os.environ.get("I2I_PROGRESS_SECONDS", "10"))
        self.tasks: dict[int, dict] = {}

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def add_task(self, description: str, total: float | None = None, **fields) -> int:
        """A new task (description, total or None); -> its id for update and reset."""
        self.tasks[len(self.tasks)] = {"description": description, "total": total, "fields": fields}
        self.reset(len(self.tasks) - 1, total=total)
        return len(self.tasks) - 1

    def reset(self, task_id: int, total: float | None = None, **fields) -> None:
        """Start the task over: nothing done, its clock from now, total and fields replaced."""
        now = time.perf_counter()
        task = self.tasks[task_id]
        task.update(total=total, completed=0, started=now, printed=None, ended=False)
        task["fields"].update(fields)

    def update(self, task_id: int, completed: float | None = None, total: float | None = None, **fields) -> None:
        """Record progress; print a line when one is due (see the class doc)."""
        task, now = self.tasks[task_id], time.perf_counter()
        task["fields"].update(fields)
        if total is not None:
            task["total"] = total
        if completed is not None:
            task["completed"] = completed
        finished = bool(task["total"]) and task["completed"] >= task["total"]
        since = now - (task["printed"] if task["printed"] is not None else task["started"])
        if task.get("ended") or not (since >= self.every or (finished and task["printed"] is not None)):
            return
        task["printed"], task["ended"] = now, finished
        say(self._line(task, now))

    @staticmethod
    def _line(task: dict, now: float) -> str:
        done, total, elapsed = task["completed"], task["total"], now - task["started"]
        words = [task["description"], f"{done:g}/{total:g}" if total else f"{done:g}"]
        words += [str(v) for v in task["fields"].values() if v]
        words.append(f"{_clock(elapsed)} elapsed")
        if total and 0 < done < total:
            words.append(f"about {_clock(elapsed * (total - done) / done)} left")
        return " ".join(words)


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class FrameProgress:
    """A 'frames' line under the job's progress bar: frames done of the clip's, fps, ETA."""

    def __init__(self, progress):
        self.progress, self.task, self.job, self.started = progress, None, None, 0.0

    def __call__(self, job, done: int, total: int | None):
        if self.progress is None:
            return
        if job is not self.job:
            self.job, self.started = job, time.perf_counter()
            if self.task is None:
                self.task = self.progress.add_task("frames", total=total, rate="")
            self.progress.reset(self.task, total=total)
        rate = done / max(time.perf_counter() - self.started, 1e-9)
        self.progress.update(self.task, completed=done, total=max(total or 0, done) or None, rate=f"{rate:.2f} fps")


def describe_choice(choice: dict) -> str:
    """A per-input model choice (engine/choice.py) in words: the estimate, then the blend."""
    if "people_score" in choice:
        facts = [f"people score {choice['people_score']:g}"]
    else:
        found = choice.get("estimate") or {}
        quality = found.get("jpeg_quality")
        facts = [f"JPEG quality {quality:g}" if quality is not None else "not a JPEG"]
        if "noise" in found:
            facts.append(f"noise {found['noise']:g} levels")
    blend = " + ".join(f"{name} {share:g}" for name, share in (choice.get("blend") or {}).items())
    return f"{', '.join(facts)} -> {blend}"
