"""An image (manifest + config + layers), a multi-platform index of them, and how one is picked."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import IO, Final

from . import mediatypes as mt
from .blobs import BlobSource, BytesSource, read_blob
from .digest import Digest
from .errors import DigestMismatch, ManifestError, NotFound
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

__all__ = [
    "MAX_INDEX_DEPTH",
    "Artifact",
    "Fetch",
    "Image",
    "ImageIndex",
    "check_platform",
    "image_from_manifest",
    "limit_layers",
    "resolve_document",
    "resolve_image",
    "select_from_index",
]


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
    return candidate is not None and candidate.matches(wanted)


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


#: How deep indexes may nest (an index of indexes of … manifests); deeper is refused.
MAX_INDEX_DEPTH: Final = 8

#: Returns the exact bytes of a child manifest or index, read verified from its source.
Fetch = Callable[[Descriptor], bytes]


def _fetch_child(
    fetch: Fetch, chosen: Descriptor, *, what: str, parents: tuple[Digest, ...]
) -> bytes:
    """The bytes ``chosen`` names, refused if they are an index it descends from."""
    if not mt.is_manifest(chosen.media_type):
        raise ManifestError(
            f"{what}: index entry {chosen.digest} has media type {chosen.media_type!r},"
            " not a manifest or index"
        )
    if chosen.size > MAX_MANIFEST_BYTES:
        raise ManifestError(f"{what}: manifest {chosen.digest} is too large ({chosen.size} bytes)")
    if chosen.digest in parents:
        raise ManifestError(f"{what}: index {chosen.digest} lists itself")
    child = fetch(chosen)
    actual = Digest.of_bytes(child, chosen.digest.algorithm)
    if actual in parents:
        # Only a source that does not check digests can serve this; refuse it all the same.
        raise ManifestError(f"{what}: index {actual} lists itself")
    if actual != chosen.digest:
        raise DigestMismatch(f"{what}: manifest {chosen.digest} has the bytes of {actual}")
    return child


def _check_depth(what: str, depth: int) -> None:
    if depth > MAX_INDEX_DEPTH:
        raise ManifestError(f"{what}: indexes nested more than {MAX_INDEX_DEPTH} deep; refused")


def check_platform(image: Image, platform: Platform, *, what: str) -> None:
    """Refuse a single-platform image whose config declares another platform than ``platform``.

    A config that declares no platform passes: nothing says it is the wrong one.
    """
    declared = image.config.platform
    if declared.os and declared.architecture and not declared.matches(platform):
        raise NotFound(
            f"{what}: no manifest for platform {platform.normalized()}"
            f" (the image is {declared.normalized()} only)"
        )


def resolve_image(
    document: bytes,
    *,
    fetch: Fetch,
    source: BlobSource,
    what: str,
    ref: str = "",
    platform: Platform | None = None,
    media_type: str = "",
    top_level: bool = False,
    depth: int = 0,
    strict_platform: bool = False,
    parents: tuple[Digest, ...] = (),
) -> Image:
    """Descend from a manifest or index document to one image.

    ``fetch`` returns the verified bytes of a child manifest; indexes nest at most
    :data:`MAX_INDEX_DEPTH` deep, and one that lists itself is refused. With
    ``strict_platform``, a single image whose config names another platform than ``platform``
    is refused too (not only a missing index entry).
    """
    _check_depth(what, depth)
    parsed = parse_manifest_or_index(document, media_type=media_type, what=what)
    if isinstance(parsed, Manifest):
        image = image_from_manifest(parsed, source, name=what)
        if strict_platform and platform is not None and depth == 0:
            check_platform(image, platform, what=what)
        return image
    chosen = select_from_index(parsed, what=what, ref=ref, platform=platform, top_level=top_level)
    here = parents if top_level else (*parents, parsed.digest)
    child = _fetch_child(fetch, chosen, what=what, parents=here)
    return resolve_image(
        child,
        fetch=fetch,
        source=source,
        what=what,
        platform=platform,
        media_type=chosen.media_type,
        depth=depth + 1,
        parents=here,
    )


@dataclass(frozen=True, slots=True)
class Artifact:
    """A manifest that is not a runnable image (an attestation, an SBOM …), kept to be copied.

    Its config and layers are blobs like any other, served by ``source``; none is opened.
    """

    manifest: Manifest
    source: BlobSource = field(repr=False, compare=False)
    name: str = ""

    @property
    def digest(self) -> Digest:
        """The manifest digest."""
        return self.manifest.digest

    @property
    def media_type(self) -> str:
        """The manifest's media type."""
        return self.manifest.media_type

    @property
    def raw_manifest(self) -> bytes:
        """The exact manifest bytes."""
        return self.manifest.raw

    def descriptor(self) -> Descriptor:
        """A descriptor of the manifest."""
        return self.manifest.descriptor()

    def blobs(self) -> list[tuple[Descriptor, BlobSource]]:
        """Every blob the manifest references, with where to read it."""
        return [(d, self.source) for d in (*self.manifest.layers, self.manifest.config)]


@dataclass(frozen=True, slots=True)
class ImageIndex:
    """A multi-platform image: an index (or manifest list) and what each of its entries names.

    ``children[i]`` is what ``index.manifests[i]`` points at: an :class:`Image`, a nested
    :class:`ImageIndex`, or an :class:`Artifact`. The index keeps its exact bytes, so it is
    written anywhere with the same digest.
    """

    index: Index
    children: tuple[Image | ImageIndex | Artifact, ...]
    name: str = ""

    def __post_init__(self) -> None:
        if len(self.children) != len(self.index.manifests):
            raise ManifestError(
                f"{self.name or 'index'}: {len(self.index.manifests)} entries but"
                f" {len(self.children)} children"
            )

    @property
    def digest(self) -> Digest:
        """The index digest: the multi-platform image's identity."""
        return self.index.digest

    @property
    def media_type(self) -> str:
        """The index's media type (OCI image index or Docker manifest list)."""
        return self.index.media_type

    @property
    def raw_manifest(self) -> bytes:
        """The exact index bytes (what a registry serves from ``/manifests/``)."""
        return self.index.raw

    def descriptor(self) -> Descriptor:
        """A descriptor of the index."""
        return Descriptor(self.media_type, self.digest, len(self.index.raw))

    def entries(self) -> list[tuple[Descriptor, Image | ImageIndex | Artifact]]:
        """Each index entry with what it names."""
        return list(zip(self.index.manifests, self.children, strict=True))

    def images(self) -> list[tuple[Descriptor, Image]]:
        """Every platform image, nested indexes flattened, each with the entry naming it."""
        out: list[tuple[Descriptor, Image]] = []
        for descriptor, child in self.entries():
            if isinstance(child, Image):
                out.append((descriptor, child))
            elif isinstance(child, ImageIndex):
                out.extend(child.images())
        return out

    def platforms(self) -> list[Platform]:
        """The platforms the index declares for its images, in order."""
        return [d.platform for d, _ in self.images() if d.platform is not None]

    def image(self, platform: Platform) -> Image:
        """The image for ``platform``; :class:`NotFound` if the index has none."""
        images = self.images()
        for descriptor, image in images:
            if descriptor.platform is not None and descriptor.platform.matches(platform):
                return image
        available = ", ".join(str(p) for p in self.platforms()) or "none declared"
        raise NotFound(
            f"{self.name or 'index'}: no manifest for platform {platform.normalized()}"
            f" (available: {available})"
        )

    def blobs(self) -> list[tuple[Descriptor, BlobSource]]:
        """Every blob of every child (manifests excluded), each once."""
        seen: dict[Digest, tuple[Descriptor, BlobSource]] = {}
        for child in self.children:
            for descriptor, source in child.blobs():
                seen.setdefault(descriptor.digest, (descriptor, source))
        return list(seen.values())


def _is_image(manifest: Manifest) -> bool:
    known = (mt.OCI_CONFIG, mt.DOCKER_CONFIG)
    layers = all(mt.is_layer(d.media_type) for d in manifest.layers)
    return layers and manifest.config.media_type in known


def resolve_document(
    document: bytes,
    *,
    fetch: Fetch,
    source: BlobSource,
    what: str,
    media_type: str = "",
    depth: int = 0,
    parents: tuple[Digest, ...] = (),
) -> Image | ImageIndex | Artifact:
    """What a manifest or index document names, every child of an index read (verified).

    Children are read with ``fetch``; each image child's config is read too, its layers are
    not. An index nested more than :data:`MAX_INDEX_DEPTH` deep, or one that lists itself, is
    refused.
    """
    _check_depth(what, depth)
    parsed = parse_manifest_or_index(document, media_type=media_type, what=what)
    if isinstance(parsed, Manifest):
        if depth and not _is_image(parsed):
            return Artifact(parsed, source, name=what)
        return image_from_manifest(parsed, source, name=what)
    here = (*parents, parsed.digest)
    children = []
    for descriptor in parsed.manifests:
        child = _fetch_child(fetch, descriptor, what=what, parents=here)
        children.append(
            resolve_document(
                child,
                fetch=fetch,
                source=source,
                what=what,
                media_type=descriptor.media_type,
                depth=depth + 1,
                parents=here,
            )
        )
    return ImageIndex(parsed, tuple(children), name=what)
