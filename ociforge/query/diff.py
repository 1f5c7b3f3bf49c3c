"""What differs between two images: layers, paths (content included) and installed packages.

Both images are flattened once with every file's sha256 (streamed, nothing unpacked), so a
changed file is found whatever its size or mtime; packages come from the two rpmdbs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..image import Image
from ..rpm.inject import BASE_FILES
from ..tar.flatten import flatten_image, wanted_paths
from ..tar.tree import TreeEntry
from .packages import InstalledRpm, tree_packages

__all__ = ["ImageDiff", "diff_images"]


@dataclass(frozen=True, slots=True)
class ImageDiff:
    """Layers only one image has; paths added, removed and changed; packages likewise."""

    layers_added: tuple[str, ...] = ()
    layers_removed: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    packages_added: tuple[str, ...] = ()
    packages_removed: tuple[str, ...] = ()
    packages_updated: tuple[tuple[str, str, str], ...] = ()  # name, old EVR.arch, new

    @property
    def empty(self) -> bool:
        """True when the two trees and package sets are the same."""
        return not (self.added or self.removed or self.changed)


def _same(a: TreeEntry, b: TreeEntry) -> bool:
    keys = ("kind", "mode", "uid", "gid", "linkname", "size", "digest")
    return all(getattr(a, k) == getattr(b, k) for k in keys)


def _packages(
    old: list[InstalledRpm], new: list[InstalledRpm]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, str, str], ...]]:
    def by_name(rows: list[InstalledRpm]) -> Mapping[tuple[str, str], InstalledRpm]:
        return {(p.name, p.arch): p for p in rows}

    before, after = by_name(old), by_name(new)
    added = tuple(after[k].nevra for k in sorted(after.keys() - before.keys()))
    removed = tuple(before[k].nevra for k in sorted(before.keys() - after.keys()))
    updated = tuple(
        (k[0], f"{before[k].evr}.{k[1]}", f"{after[k].evr}.{k[1]}")
        for k in sorted(before.keys() & after.keys())
        if before[k].evr != after[k].evr
    )
    return added, removed, updated


def diff_images(old: Image, new: Image) -> ImageDiff:
    """What ``new`` has that ``old`` has not, and the other way round."""
    old_layers = [str(layer.digest) for layer in old.layers]
    new_layers = [str(layer.digest) for layer in new.layers]
    wanted = wanted_paths(BASE_FILES)
    a = flatten_image(old, wanted=wanted, digests=True)
    try:
        b = flatten_image(new, wanted=wanted, digests=True)
        try:
            added = tuple(sorted(b.entries.keys() - a.entries.keys()))
            removed = tuple(sorted(a.entries.keys() - b.entries.keys()))
            changed = tuple(
                sorted(
                    p
                    for p in a.entries.keys() & b.entries.keys()
                    if not _same(a.entries[p], b.entries[p])
                )
            )
            packages = _packages(
                tree_packages(a, architecture=old.config.architecture),
                tree_packages(b, architecture=new.config.architecture),
            )
        finally:
            b.close()
    finally:
        a.close()
    return ImageDiff(
        tuple(d for d in new_layers if d not in old_layers),
        tuple(d for d in old_layers if d not in new_layers),
        added,
        removed,
        changed,
        *packages,
    )
