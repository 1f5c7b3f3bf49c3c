"""Download the packages a transaction installs: in parallel, resumable, verified, cached.

Each package comes from its repository's mirrors in turn into
``CACHE/packages/ALGO-HEX.rpm.part`` (locked, so two runs never write one file), resumed with
``Range`` after a dropped connection or an earlier interrupted run, hashed as it streams and
checked against the checksum the metadata gave before it is renamed to its final name. Then
its headers are read (:func:`~ociforge.rpm.package.read_package`) and must describe the
package the metadata described (same NEVRA); with ``gpgcheck`` the header signature must be
by one of the repository's keys. A package that fails any check is deleted and the error
names the package and the repository. A cached package is used without any request.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from ..errors import (
    DigestMismatch,
    IntegrityError,
    OciforgeError,
    RepoError,
    SizeMismatch,
    TransportError,
)
from ..rpm.nevra import Nevra
from ..rpm.package import RpmPackage, read_package
from .client import RangeNotSatisfiable, RepoClient, Unavailable, join
from .metadata import RepoMetadata
from .options import FetchOptions
from .origin import LocalOrigin, RepoOrigin

__all__ = ["Downloaded", "Wanted", "download"]


class Wanted(Protocol):
    """A package to fetch: what it is and where it comes from (a transaction's install)."""

    @property
    def package(self) -> Nevra:
        """The package's NEVRA, which its headers must match."""
        ...

    @property
    def origin(self) -> RepoOrigin | LocalOrigin:
        """Its repository entry or local file."""
        ...


_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Downloaded:
    """A package ready to install: its transaction entry, verified file and read headers."""

    install: Wanted
    path: str
    package: RpmPackage


class _Downloader:
    def __init__(self, metadata: Sequence[RepoMetadata], options: FetchOptions) -> None:
        self.options = options
        self.metadata = {meta.id: meta for meta in metadata}
        self.clients = {meta.id: RepoClient(meta.config, retry=options.retry) for meta in metadata}
        self.directory = os.path.join(options.directory, "packages")
        os.makedirs(self.directory, exist_ok=True)

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    def fetch(self, install: Wanted) -> Downloaded:
        origin = install.origin
        assert isinstance(origin, RepoOrigin)
        meta = self.metadata.get(origin.repo)
        if meta is None:
            raise RepoError(f"{install.package}: repository {origin.repo} was not fetched")
        what = f"repo {origin.repo}: {install.package} ({origin.href})"
        name = f"{origin.checksum.algorithm}-{origin.checksum.value}.rpm"
        final = os.path.join(self.directory, name)
        if not os.path.exists(final):
            errors: list[tuple[str, OciforgeError]] = []
            for base in meta.baseurls:
                try:
                    self._into(final, join(base, origin.href), origin, what)
                    break
                except (RepoError, IntegrityError) as exc:
                    errors.append((base, exc))
            else:
                detail = "; ".join(f"{url}: {_reason(e)}" for url, e in errors)
                kinds = [type(e) for _, e in errors]
                kind = next((k for k in (DigestMismatch, SizeMismatch) if k in kinds), RepoError)
                raise kind(f"{what}: {detail}")
        try:
            package = self._check(final, install.package, meta, what)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(final)
            raise
        return Downloaded(install, final, package)

    def _into(self, final: str, url: str, origin: RepoOrigin, what: str) -> None:
        part = final + ".part"
        client = self.clients[origin.repo]
        with open(part, "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            if os.path.exists(final):  # another run finished it while we waited
                return
            attempts = max(1, self.options.retry.attempts)
            for attempt in range(1, attempts + 1):
                try:
                    self._resume(handle, client, url, origin, what)
                    break
                except TransportError:
                    if attempt == attempts:
                        raise Unavailable(f"{what}: connection kept failing") from None
            handle.seek(0)
            digest = hashlib.new(origin.checksum.algorithm)
            size = 0
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
            if origin.size is not None and size != origin.size:
                os.unlink(part)
                raise SizeMismatch(f"{what}: {size} bytes, the metadata says {origin.size}")
            if not hmac.compare_digest(digest.hexdigest(), origin.checksum.value):
                os.unlink(part)
                raise DigestMismatch(
                    f"{what}: {origin.checksum.algorithm} checksum does not match the"
                    " repository metadata; the download was deleted"
                )
            handle.flush()
            os.fsync(handle.fileno())
            os.replace(part, final)

    def _resume(
        self, handle: BinaryIO, client: RepoClient, url: str, origin: RepoOrigin, what: str
    ) -> None:
        """Append the rest of the file to ``handle`` (from scratch if the server ignores Range)."""
        handle.seek(0, os.SEEK_END)
        have = handle.tell()
        if origin.size is not None and have >= origin.size:
            return
        try:
            self._append(handle, client, url, origin, what, have)
        except RangeNotSatisfiable:
            # A complete .part of unknown size, or one longer than the file: start over.
            handle.truncate(0)
            self._append(handle, client, url, origin, what, 0)

    def _append(
        self,
        handle: BinaryIO,
        client: RepoClient,
        url: str,
        origin: RepoOrigin,
        what: str,
        have: int,
    ) -> None:
        with client.open(url, what=what, offset=have) as body:
            if body.offset != have:
                handle.truncate(0)
                handle.seek(0)
                have = 0
            while chunk := body.read(_CHUNK):
                have += len(chunk)
                if origin.size is not None and have > origin.size:
                    handle.truncate(0)
                    raise SizeMismatch(
                        f"{what}: larger than the {origin.size} bytes of the metadata"
                    )
                handle.write(chunk)
            handle.flush()

    def _check(self, path: str, expected: Nevra, meta: RepoMetadata, what: str) -> RpmPackage:
        config = meta.config
        with open(path, "rb") as handle:
            package = read_package(
                handle, what=what, keys=meta.keys, require_signatures=config.gpgcheck
            )
        actual = Nevra(
            package.name, package.epoch or 0, package.version, package.release, package.arch
        )
        if actual != expected:
            raise RepoError(
                f"{what}: the package's header says {actual}, the repository metadata says"
                f" {expected}; refused"
            )
        if not config.gpgcheck and package.notes:
            self.options.tell(f"{what}: {', '.join(package.notes)} (gpgcheck is off)")
        return package


def _reason(error: OciforgeError) -> str:
    text = str(error)
    return text.split("): ", 1)[1] if "): " in text else text


def download(
    installs: Sequence[Wanted],
    metadata: Sequence[RepoMetadata],
    *,
    local: Sequence[tuple[str, RpmPackage]] = (),
    options: FetchOptions | None = None,
) -> tuple[Downloaded, ...]:
    """Every package of ``installs``, verified, in the same order.

    Repository packages are downloaded with :attr:`FetchOptions.jobs` threads; ``local``
    gives the already-read packages of :class:`~ociforge.transaction.solve.LocalOrigin`
    installs. Raises :class:`DigestMismatch`/:class:`SizeMismatch` for a download that does
    not match the metadata, :class:`SignatureError` for a bad or missing signature under
    ``gpgcheck``, :class:`RepoError` when no mirror has it or its header is another package.
    """
    options = options or FetchOptions()
    locals_by_path = dict(local)
    downloader = _Downloader(metadata, options)
    try:
        remote = [i for i in installs if isinstance(i.origin, RepoOrigin)]
        with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
            fetched = dict(zip(map(id, remote), pool.map(downloader.fetch, remote), strict=True))
    finally:
        downloader.close()
    out = []
    for install in installs:
        if isinstance(install.origin, LocalOrigin):
            package = locals_by_path.get(install.origin.path)
            if package is None:
                raise RepoError(
                    f"{install.package}: local file {install.origin.path} was not given"
                )
            out.append(Downloaded(install, install.origin.path, package))
        else:
            out.append(fetched[id(install)])
    return tuple(out)
