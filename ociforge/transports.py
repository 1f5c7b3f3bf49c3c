"""Image references in skopeo's syntax (oci-archive:, oci:, docker://) and opening them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .archive import ArchiveWriter, OciArchive
from .errors import InvalidReference, UnsupportedError
from .layout import LayoutWriter, OciLayout

if TYPE_CHECKING:
    from .image import Image
    from .sink import ImageSink
    from .spec import Platform

__all__ = ["LocalReference", "open_image", "open_sink", "parse_reference"]


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


def _check_ref_name(ref: str, text: str) -> None:
    # image-spec ref.name grammar: alphanumerics with -._:@/+ separators.
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:@/+=")
    if not ref or not set(ref) <= allowed:
        raise InvalidReference(f"{text}: invalid reference name {ref!r}")


def parse_reference(text: str) -> LocalReference:
    """Parse a transport-qualified reference.

    As in skopeo, the path ends at the first ``:`` after the transport, so paths cannot
    contain one. A bare path is refused: the transport must be explicit.
    """
    transport, sep, rest = text.partition(":")
    if text.startswith("docker://"):
        raise UnsupportedError(f"{text}: the docker:// transport is not available in this build")
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


def open_image(reference: str | LocalReference, *, platform: Platform | None = None) -> Image:
    """Open the image a reference names; only its manifest and config are read."""
    ref = parse_reference(reference) if isinstance(reference, str) else reference
    source: OciArchive | OciLayout
    if ref.transport == "oci-archive":
        source = OciArchive(ref.path, name=ref.location)
    else:
        source = OciLayout(ref.path, name=ref.location)
    return source.image(ref.ref, platform=platform)


def open_sink(reference: str | LocalReference, *, verify: bool = True) -> ImageSink:
    """A sink writing to the reference; commit it to make the result appear.

    ``verify=False`` lets local sinks skip re-hashing blobs copied byte for byte from a file.
    """
    ref = parse_reference(reference) if isinstance(reference, str) else reference
    if ref.transport == "oci-archive":
        return ArchiveWriter(ref.path, name=ref.location, verify=verify)
    return LayoutWriter(ref.path, name=ref.location, verify=verify)
