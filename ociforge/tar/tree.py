"""The entries of a flattened filesystem tree, and the view that answers what is at a path."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Final, Literal, Protocol

__all__ = ["HEAD_BYTES", "EntryKind", "TreeEntry", "TreeView", "normalize"]

#: How many leading bytes of a file a tree keeps (lint sniffs private keys in them).
HEAD_BYTES: Final = 64

EntryKind = Literal["dir", "file", "symlink", "hardlink", "other"]


@dataclass(frozen=True, slots=True)
class TreeEntry:
    """One path of a tree: kind, link target, owner, mode, size, first bytes, mtime, digest."""

    kind: EntryKind
    linkname: str = ""
    mode: int = 0o755
    uid: int = 0
    gid: int = 0
    size: int = 0
    head: bytes = b""
    mtime: int = 0
    digest: str = ""  # sha256 hex of a file's content, when the flattening was asked for it


class TreeView(Protocol):
    """Anything that answers "what is at this absolute path?"."""

    def entry(self, path: str) -> TreeEntry | None:
        """The entry at ``path`` (``/usr/bin/x``), or None."""
        ...


def normalize(path: str) -> str:
    """``/a/./b//c/`` → ``/a/b/c``; ``..`` stops at the root, as the kernel resolves it."""
    return posixpath.normpath("/" + path.lstrip("/")).replace("//", "/")
