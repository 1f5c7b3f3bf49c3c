"""Atomic output: write beside the destination, fsync, rename; remove everything on failure."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from typing import IO

__all__ = [
    "EarlyWriteback",
    "atomic_directory",
    "atomic_file",
    "current_umask",
    "fsync_directory",
    "fsync_file",
    "write_file_atomic",
]


def current_umask() -> int:
    """The process umask (read by setting it and putting it back)."""
    return _umask()


def _umask() -> int:
    # os.umask can only be read by setting it; restore at once.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def fsync_directory(path: str) -> None:
    """Make a rename inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: str) -> None:
    """Flush a closed file's data to disk (on Linux any descriptor of the file will do)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(path: str, *, mode: int = 0o666) -> Iterator[IO[bytes]]:
    """Yield a file that replaces ``path`` only if the block completes.

    The temporary file lives in the destination directory (same filesystem, so the rename is
    atomic) and is removed if anything fails; ``path`` is never left half-written.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fchmod(handle.fileno(), mode & ~_umask())
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_directory(directory)


def write_file_atomic(path: str, data: bytes, *, mode: int = 0o666) -> None:
    """Replace ``path`` with ``data`` atomically."""
    with atomic_file(path, mode=mode) as handle:
        handle.write(data)


@contextlib.contextmanager
def atomic_directory(path: str) -> Iterator[str]:
    """Yield a temporary sibling directory that becomes ``path`` if the block completes.

    ``path`` must not exist yet; on failure the temporary tree is removed.
    """
    parent = os.path.dirname(os.path.abspath(path))
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=parent)
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        yield tmp
        os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_directory(parent)


class EarlyWriteback:
    """Flush a file being written to disk in the background, so its final fsync waits less.

    Each time another ``every`` bytes have been written, an ``fdatasync`` starts on a worker
    thread (if none is running), overlapping the disk writes with the rest of the copy; the
    caller's own ``fsync`` before the rename then only flushes the tail. :meth:`wait` must be
    called before the descriptor is closed.
    """

    def __init__(self, fd: int, *, every: int = 128 * 1024 * 1024) -> None:
        self._fd = fd
        self._every = every
        self._pending = 0
        self._thread: threading.Thread | None = None
        self._error: OSError | None = None

    def wrote(self, count: int) -> None:
        """Account for ``count`` more bytes written; maybe start a background flush."""
        self._pending += count
        if self._pending < self._every or (self._thread is not None and self._thread.is_alive()):
            return
        self._pending = 0
        self._thread = threading.Thread(target=self._flush, name="ociforge-writeback", daemon=True)
        self._thread.start()

    def _flush(self) -> None:
        try:
            os.fdatasync(self._fd)
        except OSError as exc:  # reported by wait(), on the caller's thread
            self._error = exc

    def wait(self) -> None:
        """Wait for a running flush; raise its error, if it had one."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error
