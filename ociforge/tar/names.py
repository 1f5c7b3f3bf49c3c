"""Pure rules for paths inside an image: splitting, joining, ordering, and refusing escapes.

A path is held as a tuple of components (``("usr", "bin", "ls")``); the root is ``()``.
Names that could reach outside the tree (``..`` anywhere, an absolute tar member name) are
refused here, once, so every reader and writer sees only clean component tuples.
"""

from __future__ import annotations

from typing import Final

from ..errors import UnsafePath

__all__ = [
    "OPAQUE_MARKER",
    "WHITEOUT_PREFIX",
    "Parts",
    "entry_name",
    "join",
    "sort_key",
    "split_image_path",
    "split_member_name",
]

#: A path as its components; ``()`` is the root of the tree.
Parts = tuple[str, ...]

WHITEOUT_PREFIX: Final = ".wh."
OPAQUE_MARKER: Final = ".wh..wh..opq"


def _components(text: str, what: str) -> Parts:
    if "\0" in text:
        raise UnsafePath(f"{what}: contains a NUL byte")
    parts = tuple(p for p in text.split("/") if p not in ("", "."))
    if ".." in parts:
        raise UnsafePath(f"{what}: contains '..'")
    return parts


def split_member_name(name: str, *, what: str = "tar entry") -> Parts:
    """Components of a tar member name or hard link target.

    ``./usr/``, ``usr`` and ``usr/./`` are the same path. An absolute name or a ``..``
    component raises :class:`~ociforge.errors.UnsafePath`: layers are relative to their
    root, and ociforge refuses what GNU tar would only strip with a warning.
    """
    label = f"{what} {name!r}"
    if name.startswith("/"):
        raise UnsafePath(f"{label}: absolute name")
    return _components(name, label)


def split_image_path(path: str, *, what: str = "image path") -> Parts:
    """Components of a path given by a user, where ``/usr/bin`` means the image's ``/usr/bin``.

    A leading ``/`` is the image root, not the host's; ``..`` is still refused.
    """
    return _components(path, f"{what} {path!r}")


def join(parts: Parts) -> str:
    """The slash-separated form of ``parts`` (``""`` for the root)."""
    return "/".join(parts)


def entry_name(parts: Parts, *, directory: bool) -> str:
    """The member name a layer uses: relative, directories with a trailing slash."""
    if not parts:
        return "./"
    name = join(parts)
    return name + "/" if directory else name


def _rank(component: str) -> int:
    # Within one directory the opaque marker comes first and whiteouts before other names,
    # so a whiteout never follows (and deletes) an entry of its own layer.
    if component == OPAQUE_MARKER:
        return 0
    if component.startswith(WHITEOUT_PREFIX):
        return 1
    return 2


def sort_key(parts: Parts) -> tuple[tuple[int, bytes], ...]:
    """The order entries are written in: parents before children, by bytes, whiteouts first.

    Comparing component by component keeps each directory's subtree contiguous, and bytes
    (not locale collation) make the order the same on every machine.
    """
    return tuple((_rank(p), p.encode("utf-8", "surrogateescape")) for p in parts)
