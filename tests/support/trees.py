"""Snapshot a directory tree with the stdlib (never following links) for before/after checks."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass


@dataclass(frozen=True)
class Node:
    kind: str  # "file", "dir", "symlink", "fifo", "chr", "blk"
    mode: int
    uid: int
    gid: int
    content: str = ""  # sha256 of a file's bytes
    target: str = ""  # symlink target
    xattrs: tuple[tuple[str, bytes], ...] = ()


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISREG, "file"),
        (stat.S_ISDIR, "dir"),
        (stat.S_ISLNK, "symlink"),
        (stat.S_ISFIFO, "fifo"),
        (stat.S_ISCHR, "chr"),
        (stat.S_ISBLK, "blk"),
    ):
        if test(mode):
            return name
    return "other"


def _xattrs(path: str) -> tuple[tuple[str, bytes], ...]:
    names = sorted(n for n in os.listxattr(path, follow_symlinks=False) if n.startswith("user."))
    return tuple((n, os.getxattr(path, n, follow_symlinks=False)) for n in names)


def snapshot(
    root: str | os.PathLike[str], *, owners: bool = True, xattrs: bool = False
) -> dict[str, Node]:
    """Every path below ``root`` (relative, '/'-separated) with type, mode, owner, content.

    ``xattrs`` also takes the ``user.*`` extended attributes.
    """
    out: dict[str, Node] = {}
    base = os.fspath(root)
    for directory, dirs, files in os.walk(base):
        for name in [*dirs, *files]:
            full = os.path.join(directory, name)
            st = os.lstat(full)
            kind = _kind(st.st_mode)
            content = target = ""
            if kind == "file":
                with open(full, "rb") as fh:
                    content = hashlib.sha256(fh.read()).hexdigest()
            elif kind == "symlink":
                target = os.readlink(full)
            rel = os.path.relpath(full, base)
            uid, gid = (st.st_uid, st.st_gid) if owners else (0, 0)
            mode = 0o777 if kind == "symlink" else stat.S_IMODE(st.st_mode)
            attrs = _xattrs(full) if xattrs and kind != "symlink" else ()
            out[rel] = Node(kind, mode, uid, gid, content, target, attrs)
    return out


def read(root: str | os.PathLike[str], path: str) -> bytes:
    with open(os.path.join(os.fspath(root), path), "rb") as fh:
        return fh.read()
