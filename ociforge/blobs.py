"""Where blob bytes come from: the source protocol, and sources in memory and in open files."""

from __future__ import annotations

import io
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import IO, TYPE_CHECKING, Protocol, cast, runtime_checkable

from .digest import Digest
from .errors import NotFound, SizeMismatch
from .streams import FileRange, RangeReader, VerifyingReader

if TYPE_CHECKING:
    from .spec import Descriptor

__all__ = ["BlobSource", "BytesSource", "FileBlobSource", "read_blob"]


@runtime_checkable
class BlobSource(Protocol):
    """Something that serves blobs by descriptor, each read verified for size and digest."""

    @property
    def name(self) -> str:
        """What to call this source in messages (``oci-archive:x.ociarchive`` …)."""
        ...

    def open_blob(self, descriptor: Descriptor) -> IO[bytes]:
        """A reader of the blob that fails if its bytes do not match ``descriptor``."""
        ...

    def blob_range(self, descriptor: Descriptor) -> AbstractContextManager[FileRange | None]:
        """The blob as a file byte range while the context lasts, when it is one.

        Sinks use it for kernel-side copies; ``None`` means "read it with open_blob".
        """
        ...


def _verified(reader: io.RawIOBase | IO[bytes], descriptor: Descriptor, what: str) -> IO[bytes]:
    return cast(
        IO[bytes],
        VerifyingReader(reader, digest=descriptor.digest, size=descriptor.size, what=what),
    )


class BytesSource:
    """Blobs held in memory (configs and manifests ociforge creates)."""

    def __init__(self, blobs: Mapping[Digest, bytes], *, name: str = "memory") -> None:
        self._blobs = dict(blobs)
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def open_blob(self, descriptor: Descriptor) -> IO[bytes]:
        try:
            data = self._blobs[descriptor.digest]
        except KeyError:
            raise NotFound(f"{self._name}: blob {descriptor.digest} not found") from None
        return _verified(io.BytesIO(data), descriptor, f"{self._name}: blob {descriptor.digest}")

    def blob_range(self, descriptor: Descriptor) -> AbstractContextManager[FileRange | None]:
        return nullcontext(None)


class FileBlobSource:
    """One blob kept in an open (often anonymous temporary) file, e.g. a freshly built layer.

    The file stays open as long as this object lives, so the blob needs no path and no cleanup.
    """

    def __init__(self, file: IO[bytes], digest: Digest, size: int, *, name: str = "") -> None:
        self._file = file
        self._digest = digest
        self._size = size
        self._name = name or f"blob {digest}"

    @property
    def name(self) -> str:
        return self._name

    def _check(self, descriptor: Descriptor) -> None:
        if descriptor.digest != self._digest:
            raise NotFound(f"{self._name}: holds {self._digest}, not {descriptor.digest}")

    def open_blob(self, descriptor: Descriptor) -> IO[bytes]:
        self._check(descriptor)
        reader = RangeReader(self._file.fileno(), 0, self._size)
        return _verified(reader, descriptor, f"{self._name}")

    def blob_range(self, descriptor: Descriptor) -> AbstractContextManager[FileRange | None]:
        self._check(descriptor)
        return nullcontext(FileRange(self._file.fileno(), 0, self._size))


def read_blob(source: BlobSource, descriptor: Descriptor, *, limit: int) -> bytes:
    """Read a small blob (config, manifest) whole, refusing descriptors larger than ``limit``."""
    if descriptor.size > limit:
        raise SizeMismatch(
            f"{source.name}: blob {descriptor.digest} declares {descriptor.size} bytes,"
            f" more than the {limit} allowed"
        )
    with source.open_blob(descriptor) as reader:
        return reader.read()
