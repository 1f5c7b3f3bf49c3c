"""Open a path below a directory descriptor one component at a time, never following a symlink."""

from __future__ import annotations

import os
from typing import Final

from .names import Parts

__all__ = ["DIR_FLAGS", "open_beneath"]

#: Flags for each directory on the way: a symlink or a file there fails (ELOOP, ENOTDIR).
DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def open_beneath(root: int, parts: Parts, *, flags: int = DIR_FLAGS) -> int:
    """A new descriptor (the caller closes it) of ``parts`` below ``root``.

    Every directory on the way is opened with ``O_NOFOLLOW``; the last component is opened
    with ``flags``, which should include ``O_NOFOLLOW`` too. Raises the ``OSError`` of the
    first component that is missing or not a real directory.
    """
    fd = os.dup(root)
    try:
        for name in parts[:-1]:
            child = os.open(name, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
        if not parts:
            return os.dup(fd)
        return os.open(parts[-1], flags, dir_fd=fd)
    finally:
        os.close(fd)
