"""What erasing installed packages does to the tree, as rpm -e would, written as layer entries.

A file of an erased package goes (a whiteout) unless another package that stays owns it, the
new layer writes it, or it is not there. A ``%config`` file that differs from what the package
shipped is kept as ``PATH.rpmsave``, as rpm does. A directory goes only when nothing is left
below it once the erased files are gone; rpm never removes a directory that still holds
files, and neither does a whiteout here (a whiteout of a directory would hide all of them).
Pure: the tree is read through a view, the result is a plan.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..tar.tree import TreeEntry, normalize
from .files import RpmFile, digest_algorithm, file_list
from .rpmdb import InstalledPackage

__all__ = ["ErasePlan", "ErasedTree", "plan_erase"]


class ErasedTree(Protocol):
    """The flattened tree the packages are erased from (a FlatTree has this shape)."""

    entries: dict[str, TreeEntry]

    def entry(self, path: str) -> TreeEntry | None:
        """The entry at ``path``, or None."""
        ...

    def read(self, path: str) -> bytes | None:
        """The content of a file whose content was captured, or None."""
        ...


@dataclass(frozen=True, slots=True)
class ErasePlan:
    """Paths to white out, modified ``%config`` files to keep as ``.rpmsave``, and notes."""

    whiteouts: tuple[str, ...] = ()
    saved: tuple[tuple[str, str], ...] = ()  # (path, path + ".rpmsave")
    notes: tuple[str, ...] = ()


def _modified(file: RpmFile, algorithm: str, tree: ErasedTree) -> bool:
    """Whether a ``%config`` file in the tree differs from the content its package shipped."""
    entry = tree.entry(file.path)
    if entry is None or entry.kind != "file" or not file.digest:
        return False
    data = tree.read(file.path)
    if data is None:
        return False  # content not captured: treat as shipped, as rpm does for unreadable files
    return hashlib.new(algorithm, data).hexdigest() != file.digest.lower()


def plan_erase(
    erased: Sequence[InstalledPackage],
    *,
    tree: ErasedTree,
    owned_elsewhere: Collection[str],
    new_paths: Collection[str] = (),
) -> ErasePlan:
    """What erasing ``erased`` from ``tree`` takes away, as one layer would express it.

    ``owned_elsewhere`` are the paths of every package that stays (and of the ones being
    installed); ``new_paths`` are the paths the new layer writes itself.
    """
    whiteouts: list[str] = []
    saved: list[tuple[str, str]] = []
    notes: list[str] = []
    directories: set[str] = set()
    gone: set[str] = set()
    for package in erased:
        algorithm = digest_algorithm(package.header)
        for file in file_list(package.header):
            path = normalize(file.path)
            if path in owned_elsewhere or path in new_paths:
                continue
            entry = tree.entry(path)
            if entry is None:
                continue
            if file.is_dir and entry.kind == "dir":
                directories.add(path)
                continue
            if file.is_config and _modified(file, algorithm, tree):
                saved.append((path, path + ".rpmsave"))
                notes.append(f"{package.nevra}: {path} was modified, saved as {path}.rpmsave")
            whiteouts.append(path)
            gone.add(path)
    occupied = _occupied(directories, tree.entries, gone)
    removed_dirs = [d for d in directories if d not in occupied]
    notes.extend(f"{d}: directory left in place (not empty)" for d in sorted(occupied))
    whiteouts.extend(removed_dirs)
    # A whiteout below a removed directory is implied by it (and would make the layer create
    # the very directory it deletes).
    dead = tuple(d.rstrip("/") + "/" for d in removed_dirs)
    kept = sorted({path for path in whiteouts if not path.startswith(dead)})
    return ErasePlan(tuple(kept), tuple(saved), tuple(notes))


def _occupied(
    directories: Collection[str], entries: Iterable[str], gone: Collection[str]
) -> set[str]:
    """The directories that still hold something once ``gone`` is removed."""
    found: set[str] = set()
    for path in entries:
        if path in gone:
            continue
        parent = path.rsplit("/", 1)[0]
        while parent and parent not in found:
            if parent in directories:
                found.add(parent)
            parent = parent.rsplit("/", 1)[0]
    return found
