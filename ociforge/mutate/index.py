"""New indexes: over platform images (``index create``), or with derived images swapped in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .. import mediatypes as mt
from ..digest import Digest
from ..errors import ManifestError, UnsupportedError
from ..image import Image, ImageIndex
from ..spec import Index, Platform, encode_json

__all__ = ["build_index", "replace_images"]


def build_index(
    images: Sequence[Image],
    *,
    annotations: Mapping[str, str] | None = None,
    docker: bool = False,
    what: str = "index",
) -> ImageIndex:
    """An OCI image index (``docker``: a Docker manifest list) naming each image with its platform.

    Each entry's platform is the one the image's config declares; an image declaring none, or
    two images of one platform, are refused: a client could not tell which to pull.
    """
    if not images:
        raise ManifestError(f"{what}: an index needs at least one image")
    entries = []
    seen: dict[Platform, Image] = {}
    for image in images:
        declared = image.config.platform
        if not (declared.os and declared.architecture):
            raise ManifestError(f"{what}: {image.name or image.digest} declares no os/architecture")
        platform = declared.normalized()
        other = seen.get(platform)
        if other is not None and other.digest != image.digest:
            raise ManifestError(
                f"{what}: {image.name or image.digest} and {other.name or other.digest} are both"
                f" {platform}"
            )
        if other is not None:
            continue
        seen[platform] = image
        descriptor = image.descriptor()
        entry = descriptor.to_json()
        entry["platform"] = platform.to_json()
        entries.append(entry)
    document: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": mt.DOCKER_MANIFEST_LIST if docker else mt.OCI_INDEX,
        "manifests": entries,
    }
    if annotations:
        document["annotations"] = dict(annotations)
    index = Index.parse(encode_json(document), what=what)
    return ImageIndex(index, tuple(seen.values()), name=what)


def replace_images(
    index: ImageIndex, derived: Mapping[Digest, Image], *, what: str = "index"
) -> tuple[ImageIndex, list[str]]:
    """``index`` with each image swapped for the one ``derived`` maps its digest to.

    Entries keep their platform and annotations. Artifacts (attestations, signatures …) name
    the old images, so they are left out, each with a note; nested indexes are refused.
    """
    document = index.index.json()
    kept_entries = []
    children: list[Image] = []
    notes: list[str] = []
    for entry, (descriptor, child) in zip(
        document.get("manifests", []), index.entries(), strict=True
    ):
        if isinstance(child, ImageIndex):
            raise UnsupportedError(f"{what}: nested index {descriptor.digest}; not derived")
        if not isinstance(child, Image):
            notes.append(
                f"left out {descriptor.digest} ({descriptor.media_type}): it names the base"
            )
            continue
        new = derived.get(child.digest, child)
        entry.update(
            {"mediaType": new.media_type, "digest": str(new.digest), "size": len(new.raw_manifest)}
        )
        kept_entries.append(entry)
        children.append(new)
    document["manifests"] = kept_entries
    parsed = Index.parse(encode_json(document), what=what)
    return ImageIndex(parsed, tuple(children), name=what), notes
