"""Image references in skopeo's syntax (oci-archive:, oci:, docker://) and opening them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .archive import ArchiveWriter, OciArchive
from .errors import InvalidReference
from .layout import LayoutWriter, OciLayout
from .registry.reference import DOCKER_PREFIX, RegistryReference, parse_registry_reference

if TYPE_CHECKING:
    from .image import Image
    from .registry.options import RegistryOptions
    from .sink import ImageSink
    from .spec import Platform

__all__ = ["ImageReference", "LocalReference", "open_image", "open_sink", "parse_reference"]


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
) -> Image:
    """Open the image a reference names; only its manifest and config are read.

    ``registry`` carries credentials and TLS settings for ``docker://`` references.
    """
    ref = parse_reference(reference) if isinstance(reference, str) else reference
    if isinstance(ref, RegistryReference):
        from .registry.source import open_remote_image  # noqa: PLC0415 - requests loads lazily

        return open_remote_image(ref, options=registry, platform=platform)
    source: OciArchive | OciLayout
    if ref.transport == "oci-archive":
        source = OciArchive(ref.path, name=ref.location)
    else:
        source = OciLayout(ref.path, name=ref.location)
    return source.image(ref.ref, platform=platform)


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
