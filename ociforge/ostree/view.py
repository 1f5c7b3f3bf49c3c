"""A read-only view of an image's merged tree for the offline appliers (presets, alternatives).

The appliers never touch a disk: they ask a :class:`TreeReader` for file contents, symlink
targets and directory listings, and answer with the links and files to add. A base image
(:class:`~ociforge.tar.flatten.FlatTree`) and the layer being built are combined with
:class:`LayeredTree`, so a unit shipped by a package of the same append is found, as rpm-ostree
finds it in the tree it assembles.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:
    from ..tar.flatten import FlatTree

__all__ = ["FlatTreeReader", "LayeredTree", "MemoryTree", "TreeReader"]

_MAX_HOPS: Final = 40


class TreeReader(Protocol):
    """What the appliers read: three questions about absolute paths of one image tree."""

    def read(self, path: str) -> bytes | None:
        """The content of the regular file at ``path`` (symlinks followed), or None."""
        ...

    def readlink(self, path: str) -> str | None:
        """The target of the symlink at ``path`` (not followed), or None if it is no symlink."""
        ...

    def listdir(self, path: str) -> tuple[str, ...]:
        """The names in directory ``path`` (symlinks followed), sorted; empty when absent."""
        ...


def _norm(path: str) -> str:
    return posixpath.normpath("/" + path.lstrip("/"))


class MemoryTree:
    """A tree held in dicts: files (path → bytes), symlinks (path → target), extra directories.

    Parent directories exist implicitly. Symlinks in the middle of a path are followed, so a
    tree with ``/lib → usr/lib`` reads ``/lib/x`` as ``/usr/lib/x``.
    """

    def __init__(
        self,
        files: Mapping[str, bytes] | None = None,
        links: Mapping[str, str] | None = None,
        directories: Iterable[str] = (),
    ) -> None:
        self.files = {_norm(p): data for p, data in (files or {}).items()}
        self.links = {_norm(p): target for p, target in (links or {}).items()}
        self.directories = {_norm(p) for p in directories}

    def _resolve(self, path: str, *, last: bool) -> str | None:
        """``path`` with symlinks followed (the last component only if ``last``)."""
        parts = _norm(path).strip("/").split("/")
        done = ""
        hops = 0
        while parts and parts != [""]:
            candidate = f"{done}/{parts[0]}"
            target = self.links.get(candidate)
            if target is not None and (last or len(parts) > 1):
                hops += 1
                if hops > _MAX_HOPS:
                    return None
                base = target if target.startswith("/") else posixpath.join(done or "/", target)
                parts = _norm(base).strip("/").split("/") + parts[1:]
                done = ""
                continue
            done = candidate
            parts = parts[1:]
        return done or "/"

    def read(self, path: str) -> bytes | None:
        """The content of the file at ``path`` (symlinks followed), or None."""
        real = self._resolve(path, last=True)
        return None if real is None else self.files.get(real)

    def readlink(self, path: str) -> str | None:
        """The target of the symlink at ``path``, or None."""
        real = self._resolve(path, last=False)
        return None if real is None else self.links.get(real)

    def listdir(self, path: str) -> tuple[str, ...]:
        """The names directly below ``path`` (symlinks followed)."""
        real = self._resolve(path, last=True)
        if real is None:
            return ()
        prefix = real.rstrip("/") + "/"
        names = set()
        for known in (*self.files, *self.links, *self.directories):
            if known.startswith(prefix):
                names.add(known[len(prefix) :].split("/", 1)[0])
        return tuple(sorted(names))


class FlatTreeReader:
    """A :class:`TreeReader` over a flattened base image.

    Only files the scan was asked to keep can be read: the caller adds the unit, preset and
    alternatives directories to the scan's wanted paths.
    """

    def __init__(self, base: FlatTree) -> None:
        self.base = base
        self._children: dict[str, list[str]] | None = None

    def read(self, path: str) -> bytes | None:
        """The captured content of ``path``, or None."""
        return self.base.read(path)

    def readlink(self, path: str) -> str | None:
        """The symlink target at ``path`` (its parents resolved), or None."""
        parent, name = posixpath.split(_norm(path))
        entry = self.base.entries.get(posixpath.join(self.base.resolve(parent), name))
        if getattr(entry, "kind", None) != "symlink":
            return None
        return str(getattr(entry, "linkname", ""))

    def listdir(self, path: str) -> tuple[str, ...]:
        """The names directly below ``path``."""
        if self._children is None:
            children: dict[str, list[str]] = {}
            for known in self.base.entries:
                parent, name = posixpath.split(known)
                children.setdefault(parent, []).append(name)
            self._children = children
        return tuple(sorted(self._children.get(self.base.resolve(path), [])))


class LayeredTree:
    """``upper`` over ``lower``: the new layer's files and links hide the base's."""

    def __init__(self, upper: TreeReader, lower: TreeReader) -> None:
        self.upper = upper
        self.lower = lower

    def read(self, path: str) -> bytes | None:
        """The upper file if there is one (or an upper symlink followed), else the lower's."""
        for _hop in range(_MAX_HOPS):
            data = self.upper.read(path)
            if data is not None:
                return data
            target = self.upper.readlink(path)
            if target is None:
                return self.lower.read(path)
            base = posixpath.dirname(_norm(path))
            path = target if target.startswith("/") else posixpath.join(base, target)
        return None

    def readlink(self, path: str) -> str | None:
        """The upper symlink if there is one, else the lower's (unless upper has a file)."""
        target = self.upper.readlink(path)
        if target is not None or self.upper.read(path) is not None:
            return target
        return self.lower.readlink(path)

    def listdir(self, path: str) -> tuple[str, ...]:
        """The union of both listings."""
        return tuple(sorted({*self.upper.listdir(path), *self.lower.listdir(path)}))
