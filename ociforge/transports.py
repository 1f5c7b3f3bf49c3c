"""Places images live, by reference: skopeo's syntax (oci-archive:, oci:, docker://) in, images out.

:func:`open_image` reads one, :func:`open_sink` writes one, :func:`save_image` and
:func:`copy_image` join them. The rule for when a recipe must hash what it reads lives here too
(:func:`sink_verifies_copies`), beside the sinks it depends on.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ._env import host_platform
from .archive import ArchiveWriter, OciArchive
from .errors import InvalidReference, NotFound
from .image import Artifact, Image, ImageIndex, limit_layers
from .layout import LayoutWriter, OciLayout
from .registry.reference import DOCKER_PREFIX, RegistryReference, parse_registry_reference
from .sink import Progress, write_image, write_index

if TYPE_CHECKING:
    from .registry.options import RegistryOptions
    from .sink import ImageSink
    from .spec import Descriptor, Platform

__all__ = [
    "ImageReference",
    "LocalReference",
    "MultiArch",
    "copy_image",
    "open_image",
    "open_image_or_index",
    "open_sink",
    "parse_reference",
    "save_image",
    "sink_verifies_copies",
]


@dataclass(frozen=True, slots=True)
class LocalReference:
    """``oci-archive:PATH[:REF]`` or ``oci:DIR[:REF]``."""

    transport: Literal["oci-archive", "oci"]
    path: str
    ref: str = ""

    def __str__(self) -> str:
        return f"{self.transport}:{self.path}" + (f":{self.ref}" if self.ref else "")

    @property
    def location(self) -> str:
        """The reference without its ``:REF`` part, for messages about the file itself."""
        return f"{self.transport}:{self.path}"


#: Any reference ociforge can read from or write to.
ImageReference = LocalReference | RegistryReference


def _check_ref_name(ref: str, text: str) -> None:
    # image-spec ref.name grammar: alphanumerics with -._:@/+ separators.
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:@/+=")
    if not ref or not set(ref) <= allowed:
        raise InvalidReference(f"{text}: invalid reference name {ref!r}")


def parse_reference(text: str) -> ImageReference:
    """Parse a transport-qualified reference.

    As in skopeo, a local path ends at the first ``:`` after the transport, so paths cannot
    contain one. A bare path is refused: the transport must be explicit.
    """
    if text.startswith(DOCKER_PREFIX):
        return parse_registry_reference(text)
    transport, sep, rest = text.partition(":")
    if not sep or transport not in ("oci-archive", "oci"):
        raise InvalidReference(
            f"{text}: unknown transport; use oci-archive:PATH[:REF], oci:DIR[:REF] or docker://REF"
        )
    path, _, ref = rest.partition(":")
    if not path:
        raise InvalidReference(f"{text}: missing path")
    if ref:
        _check_ref_name(ref, text)
    return LocalReference(transport, path, ref)  # type: ignore[arg-type]


def open_image(
    reference: str | ImageReference,
    *,
    platform: Platform | None = None,
    registry: RegistryOptions | None = None,
    max_layer_size: int | None = None,
) -> Image:
    """Open the image a reference names; only its manifest and config are read.

    An index is resolved to the manifest for ``platform``, by default this machine's. A
    ``platform`` given explicitly must be there: an index without it, or a single image of
    another platform, is :class:`~ociforge.errors.NotFound`. Each layer refuses to decompress
    to more than ``max_layer_size`` bytes (default: ``OCIFORGE_MAX_LAYER_SIZE`` or 64 GiB).

    ``registry`` carries credentials and TLS settings for ``docker://`` references.
    """
    ref = parse_reference(reference) if isinstance(reference, str) else reference
    strict = platform is not None
    platform = platform or host_platform()
    if isinstance(ref, RegistryReference):
        from .registry.source import open_remote_image  # noqa: PLC0415 - requests loads lazily

        image = open_remote_image(ref, options=registry, platform=platform, strict_platform=strict)
        return limit_layers(image, max_layer_size)
    # Not closed here: the image's layers are read through the source's open handle.
    image = _local_source(ref).image(ref.ref, platform=platform, strict_platform=strict)
    return limit_layers(image, max_layer_size)


def _local_source(ref: LocalReference) -> OciArchive | OciLayout:
    if ref.transport == "oci-archive":
        return OciArchive(ref.path, name=ref.location)
    return OciLayout(ref.path, name=ref.location)


def open_image_or_index(
    reference: str | ImageReference,
    *,
    registry: RegistryOptions | None = None,
    max_layer_size: int | None = None,
) -> Image | ImageIndex | Artifact:
    """What a reference names, whole: one image, or an index with every platform's image.

    Every child manifest (and each image's config) is read and verified; no layer is opened.
    This is what ``copy --all`` copies, keeping the index digest.
    """
    ref = parse_reference(reference) if isinstance(reference, str) else reference
    document: Image | ImageIndex | Artifact
    if isinstance(ref, RegistryReference):
        from .registry.source import open_remote_document  # noqa: PLC0415 - requests loads lazily

        document = open_remote_document(ref, options=registry)
    else:
        document = _local_source(ref).document(ref.ref)
    return _limited(document, max_layer_size)


def _limited(
    document: Image | ImageIndex | Artifact, max_size: int | None
) -> Image | ImageIndex | Artifact:
    if isinstance(document, Image):
        return limit_layers(document, max_size)
    if isinstance(document, ImageIndex) and max_size is not None:
        children = tuple(_limited(child, max_size) for child in document.children)
        return dataclasses.replace(document, children=children)
    return document


def open_sink(
    reference: str | ImageReference,
    *,
    verify: bool = True,
    registry: RegistryOptions | None = None,
) -> ImageSink:
    """A sink writing to the reference; commit it to make the result appear.

    ``verify=False`` lets local sinks skip re-hashing blobs copied byte for byte from a file;
    ``registry`` configures a ``docker://`` destination.
    """
    ref = parse_reference(reference) if isinstance(reference, str) else reference
    if isinstance(ref, RegistryReference):
        from .registry.push import RegistrySink  # noqa: PLC0415 - requests loads lazily

        return RegistrySink(ref, options=registry)
    if ref.transport == "oci-archive":
        return ArchiveWriter(ref.path, name=ref.location, verify=verify)
    return LayoutWriter(ref.path, name=ref.location, verify=verify)


def sink_verifies_copies(destination: str | ImageReference, *, verify: bool = True) -> bool:
    """Whether the sink for ``destination`` hashes every base blob it copies before committing.

    A local sink does (unless ``verify`` is off); a registry does not: it skips the blobs it
    already has. A recipe that derives new content from base layers must hash what it reads
    unless the sink will check those bytes anyway, so it can pass
    ``verify_base=not sink_verifies_copies(destination)`` and read each byte only once.
    """
    dest = parse_reference(destination) if isinstance(destination, str) else destination
    return verify and not isinstance(dest, RegistryReference)


def save_image(
    image: Image | ImageIndex | Artifact,
    destination: str | ImageReference,
    *,
    progress: Progress | None = None,
    verify: bool = True,
    registry: RegistryOptions | None = None,
    index_only: bool = False,
) -> Descriptor:
    """Write ``image`` (or a whole index) to ``destination``; it appears only if all succeeded.

    ``verify=False`` skips re-hashing blobs copied byte for byte from a local file (their
    sizes are still checked); new and streamed blobs are always verified. A registry
    destination (configured by ``registry``) gets the manifest by digest, then under its tag
    if it has one. An index is written with every child first, or, with ``index_only``, alone
    (the destination must already hold what it names).
    """
    dest = parse_reference(destination) if isinstance(destination, str) else destination
    sink = open_sink(dest, verify=verify, registry=registry)
    try:
        if isinstance(image, ImageIndex):
            if index_only:
                _check_children_present(image, sink)
            descriptor = write_index(
                image, sink, ref=dest.ref, progress=progress, children=not index_only
            )
        else:
            descriptor = write_image(image, sink, ref=dest.ref, progress=progress)
        sink.commit()
    except BaseException:
        sink.abort()
        raise
    return descriptor


def _check_children_present(index: ImageIndex, sink: ImageSink) -> None:
    # A registry checks this itself when the index is put; a local layout would not.
    if isinstance(sink, LayoutWriter | ArchiveWriter):
        for descriptor in index.index.manifests:
            if not sink.has_blob(descriptor.digest):
                raise NotFound(
                    f"{sink.name}: does not hold manifest {descriptor.digest} the index names;"
                    " an index alone cannot be written there"
                )


#: How ``copy_image`` treats an index: skopeo's ``--multi-arch`` values.
MultiArch = Literal["system", "all", "index-only"]


def copy_image(
    source: str | ImageReference,
    destination: str | ImageReference,
    *,
    platform: Platform | None = None,
    progress: Progress | None = None,
    verify: bool = True,
    source_registry: RegistryOptions | None = None,
    registry: RegistryOptions | None = None,
    multi_arch: MultiArch = "system",
) -> Descriptor:
    """Copy one image; every blob is verified on the way and the manifest bytes are kept.

    ``multi_arch`` says what happens to an index: ``"system"`` copies the image for
    ``platform`` (default: this machine's), ``"all"`` the index with every image it names
    (same index digest at the destination), ``"index-only"`` the index alone.
    ``source_registry`` and ``registry`` configure the source and destination registries
    (``source_registry`` defaults to ``registry``).
    """
    options = source_registry or registry
    document: Image | ImageIndex | Artifact
    if multi_arch == "system" or platform is not None:
        document = open_image(source, platform=platform, registry=options)
    else:
        document = open_image_or_index(source, registry=options)
    return save_image(
        document,
        destination,
        progress=progress,
        verify=verify,
        registry=registry,
        index_only=multi_arch == "index-only",
    )
