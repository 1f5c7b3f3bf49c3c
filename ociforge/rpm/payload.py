"""Stream an RPM payload as files: decompress, map cpio members to the header, verify digests.

The payload digest (PAYLOADSHA256 over the compressed bytes, and PAYLOADSHA256ALT over the
cpio stream when present) and each file's digest are checked as the bytes pass; a mismatch
raises before the iteration ends, so a consumer that spools its output and commits only
after the last item never publishes unverified content.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, cast

from ..compression import open_decompressor
from ..digest import Digest
from ..errors import DigestMismatch, RpmError, SizeMismatch
from ..streams import Readable, VerifyingReader, drain
from .cpio import iter_cpio
from .files import RpmFile, digest_algorithm, hardlink_sets
from .package import RpmPackage
from .tags import SigTag, Tag

__all__ = ["PayloadItem", "iter_payload"]


@dataclass(frozen=True, slots=True)
class PayloadItem:
    """One file from the payload.

    Regular files with content come with ``data`` (verified against the header's digest when
    read to the end); later members of a hardlink set come with ``link``, the path of the
    member that carried the data; directories and symlinks with neither.
    """

    file: RpmFile
    data: IO[bytes] | None = None
    link: str = ""


class _FileCheck(io.RawIOBase):
    """A file's bytes, checked against the header's size and digest at their end."""

    def __init__(self, source: Readable, file: RpmFile, algorithm: str, what: str) -> None:
        super().__init__()
        self._source = source
        self._file = file
        self._hasher = hashlib.new(algorithm, usedforsecurity=False)
        self._count = 0
        self._what = what
        self.verified = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        data = self._source.read(len(view))
        if not data:
            self._finish()
            return 0
        self._hasher.update(data)
        self._count += len(data)
        view[: len(data)] = data
        return len(data)

    def _finish(self) -> None:
        if self.verified:
            return
        if self._count != self._file.size:
            raise SizeMismatch(
                f"{self._what}: {self._file.path}: {self._count} bytes in the payload, the"
                f" header says {self._file.size}"
            )
        actual = self._hasher.hexdigest()
        if self._file.digest and actual != self._file.digest:
            raise DigestMismatch(
                f"{self._what}: file digest mismatch for {self._file.path} (payload has"
                f" {actual}, header says {self._file.digest})"
            )
        self.verified = True


def _payload_reader(package: RpmPackage, stream: Readable) -> tuple[Readable, IO[bytes], int]:
    header, what = package.header, package.what
    source: Readable = stream
    expected = header.strings(Tag.PAYLOADSHA256)
    if expected:
        if header.integer(Tag.PAYLOADSHA256ALGO, 8) != 8:
            raise RpmError(f"{what}: unsupported payload digest algorithm")
        source = VerifyingReader(
            stream,
            digest=Digest("sha256", expected[0].lower()),
            size=None,
            what=f"{what}: payload (PAYLOADSHA256 digest mismatch)",
        )
    sig = package.signature
    size = sig.integer(SigTag.LONGARCHIVESIZE) or sig.integer(SigTag.PAYLOADSIZE) or 0
    limit = size if size else 64 * 1024**3
    plain: IO[bytes] = open_decompressor(
        source, package.compressor, limit=limit, what=f"{what}: payload"
    )
    alt = header.strings(Tag.PAYLOADSHA256ALT)
    if alt:
        plain = cast(
            IO[bytes],
            VerifyingReader(
                plain,
                digest=Digest("sha256", alt[0].lower()),
                size=size or None,
                what=f"{what}: uncompressed payload (PAYLOADSHA256ALT digest mismatch)",
            ),
        )
    return source, plain, size


def iter_payload(package: RpmPackage, stream: Readable) -> Iterator[PayloadItem]:
    """Yield every non-ghost file of ``package`` from its payload (``stream`` at its start).

    Hardlink sets come out as the member with the data, then the others as links to it.
    After the last item the whole payload has been read and its digests checked; a file the
    header lists but the payload lacks is an error.
    """
    what = package.what
    files = package.files
    by_path = {f.path: f for f in files}
    links = hardlink_sets(files)
    algorithm = digest_algorithm(package.header)
    seen: set[int] = set()
    waiting: dict[int, list[RpmFile]] = {}
    source, plain, _size = _payload_reader(package, stream)

    def stripped_size(index: int) -> int:
        if not 0 <= index < len(files):
            raise RpmError(f"{what}: payload names file index {index} the header does not have")
        f = files[index]
        carries = f.is_regular and (index not in links or links[index][-1] == index)
        return f.size if carries else 0

    for entry, data in iter_cpio(plain, what=what, stripped_size=stripped_size):
        if entry.index >= 0:
            file = files[entry.index]
        else:
            found = by_path.get(entry.path)
            if found is None:
                raise RpmError(f"{what}: payload file {entry.path} is not in the header")
            file = found
        if file.index in seen:
            raise RpmError(f"{what}: payload has {file.path} twice")
        if file.is_ghost:
            raise RpmError(f"{what}: payload has %ghost file {file.path}")
        seen.add(file.index)
        members = links.get(file.index)
        if members is None:
            if file.is_regular:
                checked = _FileCheck(data, file, algorithm, what)
                yield PayloadItem(file, cast(IO[bytes], checked))
                drain(checked)  # verify what the consumer left unread
            else:
                yield PayloadItem(file)
            continue
        if members[-1] != file.index:
            waiting.setdefault(members[-1], []).append(file)
            continue
        checked = _FileCheck(data, file, algorithm, what)
        yield PayloadItem(file, cast(IO[bytes], checked))
        drain(checked)
        for other in waiting.pop(file.index, []):
            yield PayloadItem(other, link=file.path)
    missing = [f.path for f in files if not f.is_ghost and f.index not in seen]
    if missing:
        raise RpmError(f"{what}: payload lacks {len(missing)} file(s), e.g. {missing[0]}")
    drain(plain)
    drain(source)
