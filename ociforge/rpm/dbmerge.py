"""Carry a derived image's package changes from its old base's rpmdb onto a new base's rpmdb.

A package is identified by its immutable header region, which rpm never changes after the
build: what the derived database has and the old base's lacks was added (or replaced) by the
derived image; what the old base has and the derived database lacks, with no added package of
that name, was erased. The merged database is the new base's with the new base's packages of
those names removed and the derived headers added as stored, install-time tags and all, in
the order the derived image installed them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .rpmdb import InstalledPackage, Rpmdb

__all__ = ["PackageDelta", "merge_rpmdb", "package_delta"]


@dataclass(frozen=True, slots=True)
class PackageDelta:
    """What a derived image did to its base's packages."""

    added: tuple[InstalledPackage, ...]
    removed: tuple[InstalledPackage, ...]

    @property
    def names(self) -> frozenset[str]:
        """Names whose new-base packages give way: the added ones and the erased ones."""
        return frozenset(p.name for p in (*self.added, *self.removed))


def package_delta(
    old: Sequence[InstalledPackage], derived: Sequence[InstalledPackage]
) -> PackageDelta:
    """The packages ``derived`` has that ``old`` lacks, and those it dropped (by header)."""
    before = {p.identity for p in old}
    after = {p.identity for p in derived}
    return PackageDelta(
        tuple(p for p in derived if p.identity not in before),
        tuple(p for p in old if p.identity not in after),
    )


def merge_rpmdb(database: Rpmdb, delta: PackageDelta) -> list[InstalledPackage]:
    """Apply ``delta`` to ``database`` (the new base's); return the packages it removed."""
    gone = [p for p in database.packages() if p.name in delta.names]
    for package in gone:
        database.remove(package.hnum)
    for package in delta.added:
        database.add(package.header)
    return gone
