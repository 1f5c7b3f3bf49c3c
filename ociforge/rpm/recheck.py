"""Re-check packages a derived image added against a new base's rpmdb, as rpm's transaction would.

What rpm's transaction check would refuse when installing the added packages over the new base
(``lib/depends.cc``): a package the new base updated past the added version (a downgrade), an
added package a new-base package obsoletes (Obsoletes match package names and EVRs only), and a
Conflicts of either side matched by the other's Provides or, for a path, its files.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from ..errors import PolicyError
from ..tar.tree import normalize
from .evr import Dependency, Sense, dependencies, package_evr, ranges_overlap
from .files import file_list
from .rpmdb import InstalledPackage
from .tags import Tag

__all__ = ["recheck_packages"]


def _provides(package: InstalledPackage) -> list[Dependency]:
    own = Dependency(package.name, Sense.EQUAL, str(package_evr(package.header)))
    found = dependencies(package.header, Tag.PROVIDENAME, Tag.PROVIDEFLAGS, Tag.PROVIDEVERSION)
    return [own, *found]


def _conflicts(package: InstalledPackage) -> list[Dependency]:
    found = dependencies(package.header, Tag.CONFLICTNAME, Tag.CONFLICTFLAGS, Tag.CONFLICTVERSION)
    return [dep for dep in found if not dep.name.startswith("(")]  # rich conflicts: not checked


def _obsoletes(package: InstalledPackage) -> list[Dependency]:
    return dependencies(package.header, Tag.OBSOLETENAME, Tag.OBSOLETEFLAGS, Tag.OBSOLETEVERSION)


def _conflict(dep: Dependency, other: InstalledPackage) -> bool:
    if dep.name.startswith("/"):
        path = normalize(dep.name)
        if any(f.path == path for f in file_list(other.header)):
            return True
    return any(ranges_overlap(dep, provide) for provide in _provides(other))


def recheck_packages(
    added: Sequence[InstalledPackage],
    new_base: Sequence[InstalledPackage],
    *,
    old_base: Collection[bytes] = (),
    allow_downgrade: bool = False,
) -> None:
    """Raise :class:`PolicyError` naming both packages when ``added`` cannot go onto ``new_base``.

    A new-base package of the same name at a newer EVR is a downgrade, unless
    ``allow_downgrade`` or the old base had exactly that package (its
    :attr:`~ociforge.rpm.rpmdb.InstalledPackage.identity` is in ``old_base``): then the derived
    image chose that version deliberately. New-base packages
    of the added names are replaced and not checked further.
    """
    names = {package.name for package in added}
    for package in [] if allow_downgrade else added:
        evr = package_evr(package.header)
        for installed in new_base:
            if installed.name != package.name or installed.identity in old_base:
                continue
            if package_evr(installed.header).compare(evr) > 0:
                raise PolicyError(
                    f"{package.nevra} would downgrade {installed.nevra} of the new base;"
                    " rebuild the derived image with a newer package, or pass --allow-downgrade"
                )
    remaining = [p for p in new_base if p.name not in names]
    for package in added:
        own = Dependency(package.name, Sense.EQUAL, str(package_evr(package.header)))
        for installed in remaining:
            for dep in _obsoletes(installed):
                if ranges_overlap(dep, own):
                    raise PolicyError(
                        f"{package.nevra} is obsoleted by {installed.nevra} of the new base"
                        f" (Obsoletes: {dep})"
                    )
            for dep in _conflicts(package):
                if _conflict(dep, installed):
                    raise PolicyError(
                        f"{package.nevra} conflicts with {installed.nevra} of the new base"
                        f" (Conflicts: {dep})"
                    )
            for dep in _conflicts(installed):
                if _conflict(dep, package):
                    raise PolicyError(
                        f"{installed.nevra} of the new base conflicts with {package.nevra}"
                        f" (Conflicts: {dep})"
                    )
