"""The libsolv pool of one resolution: the image's installed headers, repositories, local RPMs.

The ``solv`` wheel has no librpm, so installed headers become solvables by hand (name, EVR,
arch, Provides/Requires/Conflicts/Obsoletes, weak deps, rich deps through
``parserpmrichdep``, file lists for file provides); each repository's verified ``primary.xml``
and ``filelists.xml`` are read by libsolv itself (``add_rpmmd``, the second with
``REPO_EXTEND_SOLVABLES``); local packages form an ``@commandline`` repository.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final

import solv

from ..errors import RepoError
from ..rpm.files import file_list
from ..rpm.header import Header
from ..rpm.nevra import Nevra
from ..rpm.tags import Tag

if TYPE_CHECKING:
    from ..repos.metadata import RepoMetadata
    from ..rpm.package import RpmPackage

__all__ = ["PoolBuilder", "forms", "matches", "nevra_of"]

#: OCI/Go architecture names → rpm's.
_ARCHES: Final = {"amd64": "x86_64", "arm64": "aarch64", "386": "i686", "arm": "armv7hl"}
# RPMSENSE_* bits: comparison, pre-requisite markers, rpmlib() and the old "missing ok" weak flag.
_LESS, _GREATER, _EQUAL = 1 << 1, 1 << 2, 1 << 3
_PREREQ: Final = (1 << 6) | (1 << 9) | (1 << 10)
_RPMLIB: Final = 1 << 24
_MISSINGOK: Final = 1 << 19


def _solv_arch(architecture: str) -> str:
    return _ARCHES.get(architecture, architecture)


def _evr(epoch: int | None, version: str, release: str) -> str:
    head = f"{epoch}:" if epoch else ""
    return f"{head}{version}-{release}" if release else f"{head}{version}"


class PoolBuilder:
    """libsolv pool state for one :func:`solve` call."""

    def __init__(self, architecture: str) -> None:
        self.pool = solv.Pool()
        self.pool.setdisttype(solv.Pool.DISTTYPE_RPM)
        self.pool.setarch(_solv_arch(architecture))
        # libdnf's pool flags: one name may be installed once per arch colour (x86_64 and
        # i686, as rpm allows), and excluded packages stay visible to explain problems.
        self.pool.set_flag(solv.Pool.POOL_FLAG_IMPLICITOBSOLETEUSESCOLORS, 1)
        self.pool.set_flag(solv.Pool.POOL_FLAG_WHATPROVIDESWITHDISABLED, 1)
        self.installed_index: dict[int, int] = {}
        self.local: dict[int, str] = {}
        self.repo_of: dict[str, RepoMetadata] = {}
        self.excluded: set[int] = set()

    def dep(self, name: str, flags: int, version: str) -> int:
        pool = self.pool
        if name.startswith("("):
            rich = pool.parserpmrichdep(name)
            if rich:
                return int(rich.id)  # a Dep object, not an id
        nid = pool.str2id(name)
        rel = (
            (solv.REL_LT if flags & _LESS else 0)
            | (solv.REL_GT if flags & _GREATER else 0)
            | (solv.REL_EQ if flags & _EQUAL else 0)
        )
        if rel and version:
            return int(pool.rel2id(nid, pool.str2id(version), rel))
        return int(nid)

    def _deps(
        self, header: Header, names: Tag, flags: Tag, versions: Tag
    ) -> Iterable[tuple[str, int, int]]:
        found = header.strings(names)
        senses = header.integers(flags)
        evrs = header.strings(versions)
        for i, name in enumerate(found):
            sense = senses[i] if i < len(senses) else 0
            version = evrs[i] if i < len(evrs) else ""
            yield name, sense, self.dep(name, sense, version)

    def add_header(self, repo: Any, data: Any, header: Header) -> Any:
        """One solvable from an RPM header (installed or local)."""
        s = repo.add_solvable()
        s.name = header.string(Tag.NAME) or ""
        s.evr = _evr(
            header.integer(Tag.EPOCH),
            header.string(Tag.VERSION) or "",
            header.string(Tag.RELEASE) or "",
        )
        s.arch = header.string(Tag.ARCH) or "noarch"
        s.add_provides(self.pool.rel2id(s.nameid, s.evrid, solv.REL_EQ))
        for _, _, dep in self._deps(header, Tag.PROVIDENAME, Tag.PROVIDEFLAGS, Tag.PROVIDEVERSION):
            s.add_provides(dep)
        for name, sense, dep in self._deps(
            header, Tag.REQUIRENAME, Tag.REQUIREFLAGS, Tag.REQUIREVERSION
        ):
            if sense & _RPMLIB or name.startswith("rpmlib("):
                continue  # satisfied by rpm itself
            if sense & _MISSINGOK:
                s.add_recommends(dep)
            else:
                s.add_requires(dep, 1 if sense & _PREREQ else -1)
        for tag, add in (
            ((Tag.CONFLICTNAME, Tag.CONFLICTFLAGS, Tag.CONFLICTVERSION), s.add_conflicts),
            ((Tag.OBSOLETENAME, Tag.OBSOLETEFLAGS, Tag.OBSOLETEVERSION), s.add_obsoletes),
            ((Tag.RECOMMENDNAME, Tag.RECOMMENDFLAGS, Tag.RECOMMENDVERSION), s.add_recommends),
            ((Tag.SUGGESTNAME, Tag.SUGGESTFLAGS, Tag.SUGGESTVERSION), s.add_suggests),
            ((Tag.SUPPLEMENTNAME, Tag.SUPPLEMENTFLAGS, Tag.SUPPLEMENTVERSION), s.add_supplements),
            ((Tag.ENHANCENAME, Tag.ENHANCEFLAGS, Tag.ENHANCEVERSION), s.add_enhances),
        ):
            for _, _, dep in self._deps(header, *tag):
                add(dep)
        for entry in file_list(header):
            directory, _, base = entry.path.rpartition("/")
            data.add_dirstr(s.id, solv.SOLVABLE_FILELIST, data.str2dir(directory or "/"), base)
        return s

    def add_installed(self, installed: Sequence[Header]) -> None:
        repo = self.pool.add_repo("@System")
        data = repo.add_repodata()
        for index, header in enumerate(installed):
            if header.string(Tag.NAME) == "gpg-pubkey":
                continue  # rpm's pseudo-packages for imported keys
            s = self.add_header(repo, data, header)
            self.installed_index[s.id] = index
        data.internalize()
        self.pool.installed = repo

    def add_repo(self, meta: RepoMetadata) -> None:
        config = meta.config
        repo = self.pool.add_repo(config.id)
        # dnf: a lower priority number wins; libsolv: a higher one.
        repo.priority = -config.priority
        repo.subpriority = -config.cost
        for path, flags in (
            (meta.primary, 0),
            (meta.filelists, solv.Repo.REPO_EXTEND_SOLVABLES | solv.Repo.REPO_LOCALPOOL),
        ):
            if path is None:
                continue
            handle = solv.xfopen(path)
            if handle is None:
                raise RepoError(f"repo {config.id}: cannot open {path}")
            try:
                ok = repo.add_rpmmd(handle, None, flags)
            finally:
                handle.close()
            if not ok:
                what = "primary" if path == meta.primary else "filelists"
                detail = " ".join(str(self.pool.errstr).split())
                raise RepoError(f"repo {config.id}: {what} metadata: {detail}")
        repo.internalize()
        self.repo_of[config.id] = meta
        if config.includepkgs or config.excludepkgs:
            for s in repo.solvables:
                names = forms(s)
                included = not config.includepkgs or matches(names, config.includepkgs)
                if not included or matches(names, config.excludepkgs):
                    self.excluded.add(s.id)

    def add_local(self, local: Sequence[tuple[str, RpmPackage]]) -> None:
        if not local:
            return
        repo = self.pool.add_repo("@commandline")
        data = repo.add_repodata()
        for path, package in local:
            s = self.add_header(repo, data, package.header)
            self.local[s.id] = path
        data.internalize()

    def finish(self) -> None:
        self.pool.addfileprovides()
        self.pool.createwhatprovides()
        if self.excluded:
            considered = [s.id for s in self.pool.solvables if s.id not in self.excluded]
            self.pool.set_considered_list(considered)


def forms(s: Any) -> tuple[str, ...]:
    """The NEVRA spellings an exclude glob is matched against (as dnf's ``with_nevra``)."""
    evr = s.evr
    epoch, colon, rest = evr.partition(":")
    if not colon:
        epoch, rest = "0", evr
    version, _, release = rest.rpartition("-")
    name, arch = s.name, s.arch
    return (
        name,
        f"{name}.{arch}",
        f"{name}-{version}",
        f"{name}-{version}-{release}",
        f"{name}-{version}-{release}.{arch}",
        f"{name}-{epoch}:{version}-{release}.{arch}",
    )


def matches(forms: Sequence[str], patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(form, p) for p in patterns for form in forms)


def nevra_of(s: Any) -> Nevra:
    epoch, colon, rest = s.evr.partition(":")
    if not colon:
        epoch, rest = "0", s.evr
    version, _, release = rest.rpartition("-")
    return Nevra(s.name, int(epoch or 0), version, release, s.arch)
