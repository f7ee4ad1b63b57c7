"""File safety for every writer in i2i: outputs written under a temporary name and given
their name only once whole (atomic), the temporary files of killed runs removed, and streams
written to the last byte.

Temporary files are .NAME.HOST-PID.RANDOM.part beside the file they become, so that a later run
on the same host can tell a dead writer's leftovers (remove_stale_parts) from a live one's.
"""

from __future__ import annotations

import errno
import os
import re
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

# zlib level for PNG outputs. Level 1 encodes a 2560x1920 photo about four times faster than
# Pillow's default 6 for files about a fifth larger (benchmarks/png_level.py): large upscaled PNGs
# were encode-bound.
PNG_COMPRESS_LEVEL = 1


_HOST = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:24] or "host"
_PART = re.compile(r"^\..*\.(?P<host>[A-Za-z0-9]+)-(?P<pid>\d+)\.[a-z0-9_]+\.part$")
"""Our temporary files: .NAME.HOST-PID.RANDOM.part beside the output they become."""


def is_url(path: str) -> bool:
    """Whether a path names a file system by its protocol (s3://, gs://, file://, ...): fsspec reads it."""
    return "://" in path


def absolute_path(path: str | None, folder: str | None = None) -> str | None:
    """A local path made absolute against `folder` (default: this process's folder), for a process
    that runs elsewhere (a resumed run, a Ray worker); URLs, None and "" as they are."""
    if not path or is_url(path):
        return path
    return os.path.normpath(os.path.join(folder or os.getcwd(), path))


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it; done once, at import, before any thread runs
    os.umask(mask)
    return mask


_UMASK = _umask()


def _part_prefix(name: str) -> str:
    return f".{name[:100]}.{_HOST}-{os.getpid()}."  # a long name still fits NAME_MAX


@contextmanager
def atomic_output(path, *, overwrite: bool = True) -> Iterator[BinaryIO]:
    """A file written under a temporary name beside `path` and given its name only on success:
    an interrupted or failed write never leaves a truncated output.

    overwrite=False: the last step never replaces a file that appeared meanwhile (another job
    writing the same folder); it raises OutputExists instead.
    """
    with atomic_path(path, overwrite=overwrite) as tmp, open(tmp, "wb") as f:
        yield f


@contextmanager
def atomic_path(path, *, overwrite: bool = True) -> Iterator[Path]:
    """atomic_output for writers that open the file themselves, by name (FFmpeg's MP4 muxer
    reopens it to move its index to the front): yields the temporary path to write."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_part_prefix(path.name), suffix=".part")
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs get the usual permissions
        yield Path(tmp)
        if overwrite:
            os.replace(tmp, path)
        else:
            _create_from(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


class OutputExists(FileExistsError):
    """atomic_output(overwrite=False) found its target taken when it came to name the file."""


def _create_from(tmp: str, path: Path) -> None:
    """Give `tmp`'s content the name `path` only if no file has it: a hard link fails with
    FileExistsError where os.replace would overwrite (the check and the rename are one step)."""
    try:
        os.link(tmp, path)
        return
    except FileExistsError:
        raise OutputExists(errno.EEXIST, "output exists", str(path)) from None
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS):
            raise
    # No hard links on this file system (FAT, some network shares): claim the name exclusively,
    # then move the finished file onto the claim.
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666 & ~_UMASK))
    except FileExistsError:
        raise OutputExists(errno.EEXIST, "output exists", str(path)) from None
    try:
        os.replace(tmp, path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def atomic_write_bytes(data: bytes, path, *, overwrite: bool = True) -> None:
    """`data` as the whole content of `path`, written atomically (see atomic_output)."""
    with atomic_output(path, overwrite=overwrite) as f:
        f.write(data)


def remove_stale_parts(folder) -> list[Path]:
    """Delete our temporary files in `folder` whose writing process has ended (killed by SIGKILL
    or a power cut), on this host only; returns what was removed. A live process's files stay."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = _PART.match(entry.name)
        if not m or m["host"] != _HOST or _process_alive(int(m["pid"])):
            continue
        try:
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            pass
    return removed


def _process_alive(pid: int) -> bool:
    if os.name == "nt":
        return True  # no cheap check there: never remove
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def write_all(stream: BinaryIO, data, *, flush: bool = True) -> None:
    """Write every byte of `data`, or raise OSError.

    An unbuffered stream (stdout under python -u or PYTHONUNBUFFERED) may take fewer bytes than
    it is given, for example a pipe with 64 KiB of room; the count write() returns is checked.
    """
    view = memoryview(data).cast("B")
    while view:
        n = stream.write(view)
        if n is None:
            raise BlockingIOError(errno.EAGAIN, "the output is non-blocking and full")
        if n <= 0:
            raise OSError(errno.EIO, f"short write: the output took none of the last {len(view)} bytes")
        view = view[n:]
    if flush:
        stream.flush()
