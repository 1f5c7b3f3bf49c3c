"""The package request of an append, resolved: what to install (in order), what to erase, and why.

``--rpm`` files and URLs, ``--install`` names from repositories, ``--remove`` and
``--replace`` go through one dependency check (:func:`ociforge.transaction.solve`, libsolv,
with the image's rpmdb as the installed set), then rpm's file-conflict rules. Repositories
(the image's own ``.repo`` files, and the user's) are read only when they are needed: when
names are asked for, or when the packages given need something neither the image nor they
provide. So an offline ``append --rpm`` of self-contained packages never touches a network.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO

from ..errors import DependencyError, OciforgeError, RepoError
from ..ostree.view import FlatTreeReader
from ..repos.load import RepoOptions
from ..repos.metadata import RepoMetadata
from ..repos.options import FetchOptions
from ..repos.origin import LocalOrigin
from ..rpm.header import Header
from ..rpm.inject import InjectOptions, OpenedPackage, RpmSource, find_rpmdb
from ..rpm.package import RpmPackage, read_package
from ..rpm.rpmdb import Rpmdb, db_byteorder
from ..rpm.tags import Tag
from ..tar.flatten import FlatTree
from ..transaction.solve import Transaction

__all__ = ["PackageRequest", "ResolvedPackages", "resolve_packages"]

#: Files of the base the resolution reads besides the rpmdb (/etc: .repo files, vars, keys).
IMAGE_FILES = ("/etc/*", "/usr/lib/os-release")


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageRequest:
    """What the user asked for, as ``dnf``/``rpm-ostree`` take it.

    ``rpms`` are local files (or ``(name, opener)`` pairs) and http(s) URLs; ``install``
    dnf specs (a name, ``name-1.2``, a provide, a file path); ``remove`` installed packages;
    ``replace`` installed names to replace with the best version from the repositories
    (``from_repo`` restricts them to one), as ``rpm-ostree override replace --from repo=``.
    ``nodeps`` lets unmet Requires through (never conflicts); ``weak_deps`` installs
    Recommends as dnf does.
    """

    rpms: Sequence[RpmSource] = ()
    install: Sequence[str] = ()
    remove: Sequence[str] = ()
    replace: Sequence[str] = ()
    from_repo: str = ""
    nodeps: bool = False
    weak_deps: bool = True
    repos: RepoOptions = field(default_factory=RepoOptions)
    fetch: FetchOptions = field(default_factory=FetchOptions)

    def __bool__(self) -> bool:
        return bool(self.rpms or self.install or self.remove or self.replace)


@dataclass(frozen=True, slots=True)
class ResolvedPackages:
    """Packages for :func:`~ociforge.rpm.inject.inject_rpms` and what the transaction does."""

    sources: tuple[RpmSource, ...]
    erase: tuple[str, ...]
    transaction: Transaction
    notes: tuple[str, ...] = ()


def _installed(base: FlatTree, architecture: str) -> list[Header]:
    db_dir, data = find_rpmdb(base)
    if data is None:
        return []
    order = db_byteorder(architecture)
    with Rpmdb(data, what=f"base image {db_dir}/rpmdb.sqlite", byteorder=order) as db:
        return [package.header for package in db.packages()]


def _read_local(
    sources: Sequence[RpmSource], options: InjectOptions, request: PackageRequest
) -> list[tuple[str, RpmPackage, RpmSource]]:
    """Headers of every given package (URLs downloaded first), checked as rpm would."""
    from ..repos.urls import download_url, is_url  # noqa: PLC0415 - requests loads lazily

    out: list[tuple[str, RpmPackage, RpmSource]] = []
    for source in sources:
        if isinstance(source, OpenedPackage):
            out.append((source.package.what, source.package, source))
            continue
        if isinstance(source, tuple):
            name, opener = source
            stream = opener()
            try:
                package = _read(stream, name, options)
            except BaseException:
                stream.close()
                raise
            # Read once: the injection continues from the payload (and closes the stream).
            out.append((name, package, OpenedPackage(package, functools.partial(_same, stream))))
            continue
        path = str(source)
        if is_url(path):
            path = download_url(path, options=request.fetch)
        with open(path, "rb") as stream:
            package = _read(stream, str(source), options)
        out.append((path, package, _payload_opener(path, package)))
    return out


def _read(stream: IO[bytes], what: str, options: InjectOptions) -> RpmPackage:
    return read_package(
        stream, what=what, keys=options.keys, require_signatures=options.require_signatures
    )


def _same(stream: IO[bytes]) -> IO[bytes]:
    return stream


def _seek_payload(path: str, offset: int) -> IO[bytes]:
    handle = open(path, "rb")  # noqa: SIM115 - the injection closes it
    handle.seek(offset)
    return handle


def _payload_opener(path: str, package: RpmPackage) -> OpenedPackage:
    return OpenedPackage(package, functools.partial(_seek_payload, path, package.payload_offset))


def resolve_packages(
    request: PackageRequest,
    *,
    base: FlatTree,
    architecture: str,
    options: InjectOptions | None = None,
) -> ResolvedPackages:
    """The transaction for ``request`` over ``base``, downloaded and conflict-checked.

    Raises :class:`~ociforge.errors.DependencyError` (unmet requirement, conflict, removal
    something needs), :class:`~ociforge.errors.FileConflictError`, or a repository error,
    each one line naming the package and the problem; nothing is written by this step.
    """
    from ..repos.download import download  # noqa: PLC0415 - requests and solv load lazily
    from ..repos.fetch import fetch_metadata  # noqa: PLC0415
    from ..repos.load import load_repos  # noqa: PLC0415
    from ..transaction.fileconflicts import check_file_conflicts  # noqa: PLC0415
    from ..transaction.solve import solve  # noqa: PLC0415

    options = options or InjectOptions()
    installed = _installed(base, architecture)
    local = _read_local(request.rpms, options, request)
    by_path = {path: source for path, _package, source in local}
    notes: list[str] = []
    fetch = FetchOptions(
        cache_dir=request.fetch.cache_dir,
        retry=request.fetch.retry,
        jobs=request.fetch.jobs,
        max_metadata_size=request.fetch.max_metadata_size,
        note=notes.append,
    )
    # A given package of an installed name replaces it, up or down: rpm-ostree's
    # ``override replace`` (dnf would refuse the downgrade).
    names = {h.string(Tag.NAME) for h in installed}
    replace = [*request.replace, *(path for path, pkg, _s in local if pkg.name in names)]

    def run(metadata: Sequence[RepoMetadata]) -> Transaction:
        return solve(
            installed=installed,
            repos=metadata,
            local=[(path, package) for path, package, _source in local],
            install=request.install,
            remove=request.remove,
            replace=replace,
            architecture=architecture,
            nodeps=request.nodeps,
            weak_deps=request.weak_deps,
        )

    def metadata() -> tuple[RepoMetadata, ...]:
        repositories = load_repos(
            image=FlatTreeReader(base), options=request.repos, installed=installed
        )
        if request.from_repo:
            repositories = tuple(r for r in repositories if r.id == request.from_repo)
            if not repositories:
                raise RepoError(f"--from-repo {request.from_repo}: no such enabled repository")
        return fetch_metadata(repositories, options=fetch)

    fetched: tuple[RepoMetadata, ...] = ()
    if request.install or request.replace:
        fetched = metadata()
        transaction = run(fetched)
    else:
        try:
            transaction = run(())
        except DependencyError as first:
            # The packages given need more than the image has: look in the repositories.
            try:
                fetched = metadata()
            except OciforgeError as exc:
                raise DependencyError(f"{first} (and the repositories: {exc})") from None
            if not fetched:
                raise DependencyError(
                    f"{first}; enable a repository (--repo ID=URL) or pass --nodeps"
                ) from None
            transaction = run(fetched)
    downloaded = download(
        [i for i in transaction.installs if not isinstance(i.origin, LocalOrigin)],
        fetched,
        options=fetch,
    )
    remote = iter(downloaded)
    sources: list[RpmSource] = []
    incoming: list[Header] = []
    for install in transaction.installs:
        if isinstance(install.origin, LocalOrigin):
            source = by_path[install.origin.path]
            sources.append(source)
            incoming.append(next(p for path, p, _s in local if path == install.origin.path).header)
        else:
            item = next(remote)
            # The download already said what it checked (repository key, gpgcheck).
            checked = dataclasses.replace(item.package, notes=())
            sources.append(_payload_opener(item.path, checked))
            incoming.append(item.package.header)
    erased = {e.index for e in transaction.erasures}
    check_file_conflicts(
        installed=installed, incoming=incoming, erased=erased, architecture=architecture
    )
    erase = tuple(str(e.package) for e in transaction.erasures if e.kind != "replaced")
    return ResolvedPackages(tuple(sources), erase, transaction, (*transaction.notes, *notes))
