"""Repository metadata fetched mirror by mirror, verified, decompressed within a bound, cached.

For each enabled repository:

1. mirrors: every ``baseurl``, then a ``metalink``'s mirrors (best preference first), then a
   ``mirrorlist``'s; the first that serves a usable ``repomd.xml`` wins;
2. ``repomd.xml`` must match the metalink's size and hashes when there is a metalink, and
   with ``repo_gpgcheck`` its detached signature ``repomd.xml.asc`` must verify with one of
   the repository's keys (``gpgkey``: ``file://`` keys come from the image through
   :func:`~ociforge.repos.load.load_repos`, ``https://`` keys are fetched here);
3. ``primary`` and ``filelists`` (gzip, xz, zstd, bzip2 or plain; zchunk and sqlite copies
   are ignored) are streamed, their checksum and size checked, decompressed to a temporary
   file with their ``open-size`` (or :data:`MAX_METADATA_BYTES`) as the bound, their
   ``open-checksum`` checked, then renamed into the cache under the checksum's name.

The cache lives in ``$XDG_CACHE_HOME/ociforge/repos`` (``~/.cache`` by default): a second
run for unchanged repositories downloads only ``repomd.xml`` (and its signature). Nothing
that failed a check is ever left in it under a final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import tempfile
from collections.abc import Sequence
from typing import Final

from ..compression import open_decompressor
from ..errors import (
    CompressionError,
    DigestMismatch,
    IntegrityError,
    OciforgeError,
    RepoError,
    SignatureError,
    SizeMismatch,
)
from ..rpm.signature import PublicKey, load_keys, verify_detached
from ..streams import Readable
from .client import RepoClient, join
from .metadata import RepoMetadata, Repository
from .mirrors import (
    MAX_MIRRORLIST_BYTES,
    Metalink,
    looks_like_metalink,
    parse_metalink,
    parse_mirrorlist,
)
from .options import MAX_METADATA_BYTES, FetchOptions, cache_directory
from .repomd import MAX_REPOMD_BYTES, Repomd, RepomdRecord, parse_repomd

__all__ = [
    "MAX_METADATA_BYTES",
    "FetchOptions",
    "cache_directory",
    "fetch_metadata",
]

#: Bound on one decompressed metadata file without an ``open-size`` (Fedora's filelists is
#: about 600 MB uncompressed).
_MAX_KEY_BYTES: Final = 1024 * 1024
_MAX_SIGNATURE_BYTES: Final = 64 * 1024
_CHUNK: Final = 1 << 20
_USED: Final = ("primary", "filelists")


def _fail(label: str, subject: str, errors: list[tuple[str, OciforgeError]]) -> OciforgeError:
    """One error for "no mirror worked", of the gravest kind seen (integrity beats absence).

    Reads ``LABEL: SUBJECT: MIRROR: reason; MIRROR: reason``.
    """
    detail = "; ".join(f"{url}: {_reason(error, label, subject)}" for url, error in errors)
    message = f"{label}: {subject}: {detail or 'no mirrors'}"
    for kind in (SignatureError, DigestMismatch, SizeMismatch, IntegrityError):
        if any(isinstance(error, kind) for _, error in errors):
            return kind(message)
    return RepoError(message)


def _reason(error: OciforgeError, label: str, subject: str) -> str:
    # Inner messages repeat the repository and file the outer one already names.
    text = str(error).removeprefix(f"{label}: ")
    return text.removeprefix(f"{subject}: ")


class _Fetcher:
    """Metadata of one repository."""

    def __init__(self, repository: Repository, client: RepoClient, options: FetchOptions) -> None:
        self.repository = repository
        self.config = repository.config
        self.client = client
        self.options = options
        self.metalink: Metalink | None = None

    @property
    def label(self) -> str:
        return f"repo {self.config.id}"

    def mirrors(self) -> list[str]:
        config = self.config
        out = [url.rstrip("/") for url in config.baseurls]
        if config.metalink:
            data = self.client.get(
                config.metalink, limit=MAX_MIRRORLIST_BYTES, what=f"{self.label}: metalink"
            )
            self.metalink = parse_metalink(data, what=f"{self.label}: metalink")
            out += self.metalink.baseurls
        if config.mirrorlist:
            data = self.client.get(
                config.mirrorlist, limit=MAX_MIRRORLIST_BYTES, what=f"{self.label}: mirrorlist"
            )
            if looks_like_metalink(data):
                self.metalink = parse_metalink(data, what=f"{self.label}: mirrorlist")
                out += self.metalink.baseurls
            else:
                out += parse_mirrorlist(data, what=f"{self.label}: mirrorlist")
        if not out:
            raise RepoError(f"{self.label}: no baseurl, metalink or mirrorlist")
        return list(dict.fromkeys(out))

    def keys(self) -> tuple[PublicKey, ...]:
        keys = list(self.repository.keys)
        for url in self.config.gpgkeys:
            scheme = url.split(":", 1)[0].lower()
            if scheme == "file":
                continue  # read from the image by load_repos
            if scheme != "https":
                raise RepoError(
                    f"{self.label}: gpgkey {url}: only file:// (from the image) and https://"
                    " keys are used; a key fetched over plain http could be swapped in transit"
                )
            data = self.client.get(url, limit=_MAX_KEY_BYTES, what=f"{self.label}: gpgkey {url}")
            keys += load_keys(data, what=f"{self.label}: gpgkey {url}")
        return tuple(keys)

    def repomd(self, base: str, keys: Sequence[PublicKey]) -> Repomd:
        what = f"{self.label}: repodata/repomd.xml"
        url = join(base, "repodata/repomd.xml")
        data = self.client.get(url, limit=MAX_REPOMD_BYTES, what=what)
        if self.metalink is not None:
            self.metalink.verify(data, what=what)
        if self.config.repo_gpgcheck:
            if not keys:
                raise SignatureError(
                    f"{what}: repo_gpgcheck is on but the repository has no gpgkey"
                )
            signature = self.client.get(
                url + ".asc", limit=_MAX_SIGNATURE_BYTES, what=f"{what}.asc"
            )
            verify_detached(signature, data, keys, what=f"{what}.asc")
        return parse_repomd(data, what=what)

    def file(self, mirrors: Sequence[str], record: RepomdRecord) -> str:
        """The decompressed, verified file of ``record``: from the cache, or fetched."""
        directory = os.path.join(self.options.directory, "metadata")
        final = os.path.join(directory, f"{record.checksum.algorithm}-{record.checksum.value}.xml")
        if os.path.exists(final):
            return final
        os.makedirs(directory, exist_ok=True)
        errors: list[tuple[str, OciforgeError]] = []
        for base in mirrors:
            try:
                self._download(join(base, record.href), record, directory, final)
                return final
            except OciforgeError as exc:
                errors.append((base, exc))
        raise _fail(self.label, record.href, errors)

    def _download(self, url: str, record: RepomdRecord, directory: str, final: str) -> None:
        what = f"{self.label}: {record.href}"
        codec = record.codec
        if codec is None:
            raise RepoError(f"{what}: not a format that can be read (zchunk or sqlite?)")
        limit = self.options.max_metadata_size
        if record.open_size is not None:
            limit = min(limit, record.open_size)
        fd, tmp = tempfile.mkstemp(prefix=".fetch-", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "wb") as out, self.client.open(url, what=what) as body:
                served = _Hashing(body, record.checksum.algorithm, record.size, what)
                opened = hashlib.new((record.open_checksum or record.checksum).algorithm)
                size = 0
                try:
                    with open_decompressor(served, codec, limit=limit, what=what) as plain:
                        while chunk := plain.read(_CHUNK):
                            if size == 0:
                                _check_prolog(chunk, what)
                            opened.update(chunk)
                            out.write(chunk)
                            size += len(chunk)
                except CompressionError:
                    # Bytes that are not what repomd.xml listed explain a broken stream better.
                    served.verify(record.checksum.value)
                    raise
                served.verify(record.checksum.value)
                if record.open_checksum is not None and not hmac.compare_digest(
                    opened.hexdigest(), record.open_checksum.value
                ):
                    raise DigestMismatch(
                        f"{what}: decompressed content does not match its open-checksum"
                    )
                if record.open_size is not None and size != record.open_size:
                    raise SizeMismatch(
                        f"{what}: decompressed to {size} bytes, repomd.xml says {record.open_size}"
                    )
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


class _Hashing:
    """A body reader that hashes and counts what it passes on, bounded by the expected size."""

    def __init__(self, body: Readable, algorithm: str, size: int | None, what: str) -> None:
        self._body = body
        self._hash = hashlib.new(algorithm)
        self._algorithm = algorithm
        self._size = size
        self._what = what
        self.count = 0

    def read(self, size: int = -1, /) -> bytes:
        if self._size is not None:
            # One byte over the expected size is enough to prove it wrong.
            size = min(size if size >= 0 else _CHUNK, self._size + 1 - self.count)
            if size <= 0:
                size = 1
        data = self._body.read(size)
        self._hash.update(data)
        self.count += len(data)
        if self._size is not None and self.count > self._size:
            raise SizeMismatch(f"{self._what}: larger than the {self._size} bytes repomd.xml says")
        return data

    def finish(self) -> str:
        """Drain the rest (the decompressor may stop at its end) and return the hex digest."""
        while self.read(_CHUNK):
            pass
        if self._size is not None and self.count != self._size:
            raise SizeMismatch(f"{self._what}: {self.count} bytes, repomd.xml says {self._size}")
        return self._hash.hexdigest()

    def verify(self, expected: str) -> None:
        if not hmac.compare_digest(self.finish(), expected):
            raise DigestMismatch(f"{self._what}: {self._algorithm} checksum mismatch")


def _check_prolog(head: bytes, what: str) -> None:
    """Refuse a DTD before the root element: libsolv's parser would otherwise expand it."""
    start = head.find(b"<", head.find(b"?>") + 1 if head.startswith(b"<?xml") else 0)
    prolog = head[: max(start, 0) + 4096]
    if b"<!DOCTYPE" in prolog or b"<!ENTITY" in prolog:
        raise RepoError(f"{what}: XML with a document type or entity declaration is refused")


def _fetch_one(repository: Repository, options: FetchOptions) -> RepoMetadata:
    client = RepoClient(repository.config, retry=options.retry)
    try:
        fetcher = _Fetcher(repository, client, options)
        keys = fetcher.keys()
        mirrors = fetcher.mirrors()
        errors: list[tuple[str, OciforgeError]] = []
        for index, base in enumerate(mirrors):
            try:
                repomd = fetcher.repomd(base, keys)
            except OciforgeError as exc:
                errors.append((base, exc))
                continue
            order = [base] + [m for i, m in enumerate(mirrors) if i != index]
            files: dict[str, str | None] = {}
            for kind in _USED:
                record = repomd.record(kind)
                if record is None:
                    if kind == "primary":
                        raise RepoError(f"{fetcher.label}: repomd.xml lists no primary metadata")
                    files[kind] = None
                    continue
                files[kind] = fetcher.file(order, record)
            primary = files["primary"]
            assert primary is not None
            return RepoMetadata(repository, tuple(order), repomd, primary, files["filelists"], keys)
        raise _fail(fetcher.label, "repodata/repomd.xml", errors)
    finally:
        client.close()


def fetch_metadata(
    repositories: Sequence[Repository], *, options: FetchOptions | None = None
) -> tuple[RepoMetadata, ...]:
    """Verified metadata of every repository, in order.

    A repository that cannot be reached is an error unless its ``skip_if_unavailable`` is
    on; then it is left out and :attr:`FetchOptions.note` is told. Integrity and signature
    failures are never skipped: they mean the data is wrong, not missing.
    """
    options = options or FetchOptions()
    out: list[RepoMetadata] = []
    for repository in repositories:
        try:
            out.append(_fetch_one(repository, options))
        except (IntegrityError, SignatureError):
            raise
        except RepoError as exc:
            if not repository.config.skip_if_unavailable:
                raise
            options.tell(f"{exc} (skipped: skip_if_unavailable)")
    return tuple(out)
