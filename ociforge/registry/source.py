"""Pulling: a registry repository as a blob source, the image a reference names, its digest.

Blobs stream in 1 MiB reads, verified for size and digest as they arrive. A connection that
drops mid-blob is reopened with ``Range: bytes=N-`` from the byte where it stopped, so a
multi-gigabyte layer survives resets without starting over.
"""

from __future__ import annotations

import io
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, cast

from .._env import host_platform
from ..digest import Digest
from ..errors import SizeMismatch, TransportError
from ..image import Artifact, Image, ImageIndex, resolve_document, resolve_image
from ..spec import parse_manifest_or_index
from ..streams import CHUNK_SIZE, FileRange, VerifyingReader
from . import protocol as proto
from .client import RegistryClient
from .options import RegistryOptions
from .reference import parse_registry_reference
from .transport import CONNECTION_ERRORS, describe_exception

if TYPE_CHECKING:
    import requests

    from ..spec import Descriptor, Platform
    from .reference import RegistryReference

__all__ = [
    "RemoteBlobSource",
    "open_remote_document",
    "open_remote_image",
    "resolve_digest",
]


class _ResumingBlobReader:
    """The raw bytes of one blob, reconnecting at the current offset after a failure.

    A plain ``read(n)`` object rather than an ``io.RawIOBase``: the bytes the connection
    returns are handed on as they are, without the copies ``readinto`` would add.
    """

    def __init__(self, client: RegistryClient, descriptor: Descriptor) -> None:
        self._client = client
        self._descriptor = descriptor
        self._what = f"{client.label}: blob {descriptor.digest}"
        self._response: requests.Response | None = None
        self._offset = 0
        self._failures = 0
        self._progress = client.options.progress

    def _open(self) -> requests.Response:
        response = self._client.open_blob(self._descriptor.digest, offset=self._offset)
        size = self._descriptor.size
        if response.status_code == 206:
            first, _, total = proto.parse_content_range(response.headers.get("Content-Range"))
            if first != self._offset or (total is not None and total != size):
                response.close()
                raise SizeMismatch(
                    f"{self._what}: the registry answered a resumed read with"
                    f" {response.headers.get('Content-Range')!r}"
                )
            return response
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > size:
            response.close()
            raise SizeMismatch(f"{self._what}: the registry serves {length} bytes, expected {size}")
        skip = self._offset  # the server ignored Range: read past what we already have
        while skip:
            chunk = response.raw.read(min(skip, 1 << 20), decode_content=False)
            if not chunk:
                break
            skip -= len(chunk)
        return response

    def _drop(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None

    def _failed(self, reason: str) -> None:
        self._drop()
        self._failures += 1
        policy = self._client.options.retry
        if self._failures >= policy.attempts:
            raise TransportError(f"{self._what}: {reason} (gave up after {self._failures} tries)")
        self._client.transport.sleep(policy.delay(self._failures))

    def read(self, size: int = -1, /) -> bytes:
        want = size if size is not None and size >= 0 else CHUNK_SIZE
        while True:
            if self._response is None:
                if self._offset >= self._descriptor.size and self._offset > 0:
                    return b""
                try:
                    self._response = self._open()
                except TransportError as exc:
                    self._failed(str(exc))
                    continue
            try:
                # read1: whatever has arrived, so a reset loses nothing already received.
                data = self._response.raw.read1(want, decode_content=False)
            except CONNECTION_ERRORS as exc:
                self._failed(describe_exception(exc))
                continue
            if not data:
                if self._offset < self._descriptor.size:
                    self._failed("connection closed before the end of the blob")
                    continue
                self._drop()
                return b""
            self._offset += len(data)
            self._failures = 0
            if self._progress is not None:
                self._progress(self._descriptor, self._offset)
            return data

    def close(self) -> None:
        """Drop the connection."""
        self._drop()


class RemoteBlobSource:
    """The blobs of one registry repository, each streamed and verified as it is read."""

    def __init__(self, client: RegistryClient) -> None:
        self.client = client
        self._memory: dict[Digest, bytes] = {}

    def remember(self, digest: Digest, data: bytes) -> None:
        """Serve ``data`` (already verified) for ``digest`` from memory from now on."""
        self._memory[digest] = data

    @property
    def name(self) -> str:
        return self.client.label

    @property
    def registry(self) -> str:
        """The registry name; a push to the same registry may mount instead of upload."""
        return self.client.registry

    @property
    def repository(self) -> str:
        """The repository the blobs live in."""
        return self.client.repository

    def open_blob(self, descriptor: Descriptor) -> IO[bytes]:
        what = f"{self.client.label}: blob {descriptor.digest}"
        held = self._memory.get(descriptor.digest)
        if held is not None:
            reader = io.BytesIO(held)
            return cast(
                IO[bytes],
                VerifyingReader(reader, digest=descriptor.digest, size=descriptor.size, what=what),
            )
        return cast(
            IO[bytes],
            VerifyingReader(
                _ResumingBlobReader(self.client, descriptor),
                digest=descriptor.digest,
                size=descriptor.size,
                what=what,
            ),
        )

    def blob_range(self, descriptor: Descriptor) -> AbstractContextManager[FileRange | None]:
        return nullcontext(None)


@dataclass(frozen=True, slots=True)
class _RemoteDocument:
    """The manifest (or index) a reference names, and how to read what it points at."""

    raw: bytes
    media_type: str
    source: RemoteBlobSource

    @classmethod
    def open(cls, reference: RegistryReference, options: RegistryOptions | None) -> _RemoteDocument:
        client = RegistryClient(
            reference, options=options or RegistryOptions(), label=str(reference)
        )
        raw, media_type = client.get_manifest(reference.reference)
        return cls(raw, media_type, RemoteBlobSource(client))

    def fetch(self, descriptor: Descriptor) -> bytes:
        """A child manifest, by digest (the client verifies it)."""
        child, _ = self.source.client.get_manifest(str(descriptor.digest))
        return child


def open_remote_image(
    reference: RegistryReference,
    *,
    options: RegistryOptions | None = None,
    platform: Platform | None = None,
    strict_platform: bool = False,
) -> Image:
    """The image ``reference`` names, reading only manifests and the config.

    An index is resolved to the entry for ``platform`` (default: this machine's);
    ``strict_platform`` also refuses a single image of another platform.
    """
    remote = _RemoteDocument.open(reference, options)
    source = remote.source
    image = resolve_image(
        remote.raw,
        fetch=remote.fetch,
        source=source,
        what=f"docker://{reference}",
        platform=platform or host_platform(),
        media_type=remote.media_type,
        strict_platform=strict_platform,
    )
    # The config was read (and verified) to build the image; serve it from memory from now on.
    source.remember(image.config.digest, image.raw_config)
    return image


def open_remote_document(
    reference: RegistryReference, *, options: RegistryOptions | None = None
) -> Image | ImageIndex | Artifact:
    """What ``reference`` names: one image, or an index with every child manifest read.

    Each child's manifest (and an image child's config) is fetched by digest and verified;
    no layer is opened.
    """
    remote = _RemoteDocument.open(reference, options)
    document = resolve_document(
        remote.raw,
        fetch=remote.fetch,
        source=remote.source,
        what=f"docker://{reference}",
        media_type=remote.media_type,
    )
    for image in _images_of(document):
        remote.source.remember(image.config.digest, image.raw_config)
    return document


def _images_of(document: Image | ImageIndex | Artifact) -> list[Image]:
    if isinstance(document, Image):
        return [document]
    if isinstance(document, ImageIndex):
        return [image for _, image in document.images()]
    return []


def resolve_digest(
    reference: str | RegistryReference, *, options: RegistryOptions | None = None
) -> RegistryReference:
    """``reference`` pinned to the manifest its tag names now; as it is if it has a digest.

    The manifest (or index) is fetched, checked against the ``Docker-Content-Digest`` the
    registry sends and parsed, so the digest names an image, not whatever the tag holds.
    """
    if isinstance(reference, str):
        reference = parse_registry_reference(reference)
    if reference.digest is not None:
        return reference
    client = RegistryClient(reference, options=options or RegistryOptions(), label=str(reference))
    try:
        raw, media_type = client.get_manifest(reference.reference)
    finally:
        client.close()
    parse_manifest_or_index(raw, media_type=media_type, what=f"docker://{reference}")
    return reference.with_digest(Digest.of_bytes(raw))
