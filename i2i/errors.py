"""Typed errors. Each message is one line that names the thing and says what to do."""

from __future__ import annotations

import re


class I2IError(Exception):
    """Base class: anything the user can fix. The CLI prints the message, no traceback."""

    exit_code = 1


class UsageError(I2IError):
    """Bad options or arguments (exit code 2)."""

    exit_code = 2


class ImageError(I2IError):
    """One input image could not be read or written; other inputs still run."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(one_line(f"{self.path}: {problem}"))


class CheckpointError(I2IError):
    """A checkpoint is missing, unreadable, or of an unknown layout."""

    exit_code = 2


class DataError(I2IError):
    """A training data folder is empty, has the wrong layout, or holds bad files."""

    exit_code = 2


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal: Ctrl-C (SIGINT), SIGTERM or SIGHUP.

    A KeyboardInterrupt, so every place that already stops cleanly on Ctrl-C (temporary files
    removed, thread pools drained, a training checkpoint saved) does the same for the others,
    and per-input `except Exception` handlers never swallow it. The CLI exits with 128 + the
    signal number, the shell's convention (130, 143, 129).
    """

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(signum)


def one_line(message) -> str:
    """A message on one line: error lines are read line by line, so none may span two
    (exception texts such as torch's "Error(s) in loading state_dict" carry newlines)."""
    return re.sub(r"\s*[\r\n]+\s*", "; ", str(message)).strip("; ")
