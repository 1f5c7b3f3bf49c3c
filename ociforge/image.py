"""An image (manifest + config + layers) and how one is picked out of an index."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import IO

from . import mediatypes as mt
from .blobs import BlobSource, BytesSource, read_blob
from .digest import Digest
from .errors import ManifestError, NotFound
from .layer import Layer
from .spec import (
    MAX_CONFIG_BYTES,
    MAX_MANIFEST_BYTES,
    REF_NAME,
    Descriptor,
    ImageConfig,
    Index,
    Manifest,
    Platform,
    parse_manifest_or_index,
)
from .streams import FileRange

__all__ = ["Image", "image_from_manifest", "limit_layers", "resolve_image", "select_from_index"]


@dataclass(frozen=True, slots=True)
class Image:
    """A single-platform image; every blob it names can be opened and is verified on read.

    ``layers[i]`` pairs ``manifest.layers[i]`` with ``config.diff_ids[i]``. The manifest and
    config are kept as their exact bytes, so an image read from anywhere is written anywhere
    with the same digest. ``config_source`` serves the config blob (default: the bytes of
    ``config`` from memory).
    """

    manifest: Manifest
    config: ImageConfig
    layers: tuple[Layer, ...]
    name: str = ""
    config_source: BlobSource | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.manifest.config.digest != self.config.digest:
            raise ManifestError(
                f"{self.name or 'image'}: config digest {self.config.digest} does not match the"
                f" manifest's {self.manifest.config.digest}"
            )
        if self.config_source is None:
            source = BytesSource({self.config.digest: self.config.raw}, name=self.name or "image")
            object.__setattr__(self, "config_source", source)

    @property
    def digest(self) -> Digest:
        """The manifest digest: the image's identity."""
        return self.manifest.digest

    @property
    def media_type(self) -> str:
        """The manifest's media type."""
        return self.manifest.media_type

    @property
    def raw_manifest(self) -> bytes:
        """The exact manifest bytes."""
        return self.manifest.raw

    @property
    def raw_config(self) -> bytes:
        """The exact config bytes."""
        return self.config.raw

    @property
    def labels(self) -> dict[str, str]:
        """The config's labels."""
        return dict(self.config.labels)

    def descriptor(self) -> Descriptor:
        """A descriptor of the manifest."""
        return self.manifest.descriptor()

    def blobs(self) -> list[tuple[Descriptor, BlobSource]]:
        """Every blob the manifest references (layers, then config) with where to read it."""
        out: list[tuple[Descriptor, BlobSource]] = [
            (lay.descriptor, lay.source) for lay in self.layers
        ]
        assert self.config_source is not None  # set by __post_init__
        out.append((self.manifest.config, self.config_source))
        return out

    def open_blob(self, descriptor: Descriptor) -> IO[bytes]:
        """Open one of this image's blobs by descriptor."""
        return self._source_of(descriptor).open_blob(descriptor)

    def blob_range(self, descriptor: Descriptor) -> AbstractContextManager[FileRange | None]:
        """The blob as a file range while the context lasts, if its source has one."""
        return self._source_of(descriptor).blob_range(descriptor)

    def _source_of(self, descriptor: Descriptor) -> BlobSource:
        for desc, source in self.blobs():
            if desc.digest == descriptor.digest:
                return source
        raise NotFound(f"{self.name or 'image'}: blob {descriptor.digest} is not part of the image")


def limit_layers(image: Image, max_size: int | None) -> Image:
    """``image`` whose layers refuse to decompress to more than ``max_size`` bytes each."""
    if max_size is None:
        return image
    layers = tuple(dataclasses.replace(layer, max_size=max_size) for layer in image.layers)
    return dataclasses.replace(image, layers=layers)


def image_from_manifest(
    manifest: Manifest, source: BlobSource, *, name: str = "", config: bytes | None = None
) -> Image:
    """Build an :class:`Image` from a parsed manifest whose blobs ``source`` serves.

    Only the config is read (verified, size-bounded); layers stay unopened.
    """
    what = name or source.name
    raw_config = (
        config if config is not None else read_blob(source, manifest.config, limit=MAX_CONFIG_BYTES)
    )
    parsed = ImageConfig.parse(raw_config, what=f"{what}: image config {manifest.config.digest}")
    if len(parsed.diff_ids) != len(manifest.layers):
        raise ManifestError(
            f"{what}: manifest has {len(manifest.layers)} layers but the config lists"
            f" {len(parsed.diff_ids)} diff_ids"
        )
    for desc in manifest.layers:
        if not mt.is_layer(desc.media_type):
            raise ManifestError(
                f"{what}: layer {desc.digest} has unsupported media type {desc.media_type!r}"
            )
    layers = tuple(
        Layer(desc, diff_id, source)
        for desc, diff_id in zip(manifest.layers, parsed.diff_ids, strict=True)
    )
    return Image(manifest, parsed, layers, name=what, config_source=source)


def _platform_matches(candidate: Platform | None, wanted: Platform) -> bool:
    if candidate is None:
        return False
    if (candidate.os, candidate.architecture) != (wanted.os, wanted.architecture):
        return False
    return not wanted.variant or not candidate.variant or candidate.variant == wanted.variant


def select_from_index(
    index: Index,
    *,
    what: str,
    ref: str = "",
    platform: Platform | None = None,
    top_level: bool = False,
) -> Descriptor:
    """Pick one entry of an index: by ``ref`` name, by platform, or the only one there is.

    The caller chooses the platform (:func:`~ociforge.transports.open_image` defaults it to
    the host's); without one, an index of several manifests is refused. ``top_level`` marks
    an OCI layout's ``index.json``, where entries are chosen by ref name; nested indexes are
    chosen by platform.
    """
    entries = [d for d in index.manifests if mt.is_manifest(d.media_type)]
    if ref:
        named = [d for d in entries if d.annotations.get(REF_NAME) == ref]
        if not named:
            known = sorted({d.annotations.get(REF_NAME, "") for d in entries} - {""})
            hint = f"; it has {', '.join(known)}" if known else "; it has no named manifests"
            raise NotFound(f"{what}: no manifest named {ref!r}{hint}")
        if len({d.digest for d in named}) > 1:
            raise ManifestError(f"{what}: several different manifests are named {ref!r}")
        return named[0]
    if len(entries) == 1:
        return entries[0]
    if not entries:
        raise NotFound(f"{what}: contains no manifests")
    if top_level:
        names = sorted({d.annotations.get(REF_NAME, "") for d in entries} - {""})
        if names:
            raise ManifestError(
                f"{what}: holds {len(entries)} manifests; name one (e.g. {what}:{names[0]})"
            )
    if platform is None:
        listed = ", ".join(str(d.platform) for d in entries if d.platform) or "none declared"
        raise ManifestError(f"{what}: holds {len(entries)} manifests ({listed}); name a platform")
    wanted = platform
    matches = [d for d in entries if _platform_matches(d.platform, wanted)]
    if not matches:
        available = ", ".join(str(d.platform) for d in entries if d.platform) or "none declared"
        raise NotFound(f"{what}: no manifest for platform {wanted} (available: {available})")
    return matches[0]


def resolve_image(
    document: bytes,
    *,
    fetch: Callable[[Descriptor], bytes],
    source: BlobSource,
    what: str,
    ref: str = "",
    platform: Platform | None = None,
    media_type: str = "",
    top_level: bool = False,
    depth: int = 0,
) -> Image:
    """Descend from a manifest or index document to one image.

    ``fetch`` returns the verified bytes of a child manifest; indexes nest at most 8 deep.
    """
    if depth > 8:
        raise ManifestError(f"{what}: indexes nested too deeply")
    parsed = parse_manifest_or_index(document, media_type=media_type, what=what)
    if isinstance(parsed, Manifest):
        return image_from_manifest(parsed, source, name=what)
    chosen = select_from_index(parsed, what=what, ref=ref, platform=platform, top_level=top_level)
    if chosen.size > MAX_MANIFEST_BYTES:
        raise ManifestError(f"{what}: manifest {chosen.digest} is too large ({chosen.size} bytes)")
    child = fetch(chosen)
    return resolve_image(
        child,
        fetch=fetch,
        source=source,
        what=what,
        platform=platform,
        media_type=chosen.media_type,
        depth=depth + 1,
    )
