"""Typed errors. Each message is one line that names the thing and says what to do."""


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
        super().__init__(f"{self.path}: {problem}")


class CheckpointError(I2IError):
    """A checkpoint is missing, unreadable, or of an unknown layout."""

    exit_code = 2


class DataError(I2IError):
    """A training data folder is empty, has the wrong layout, or holds bad files."""

    exit_code = 2
