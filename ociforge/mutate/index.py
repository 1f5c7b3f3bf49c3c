"""A new index over platform images, as ``ociforge index create`` writes one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .. import mediatypes as mt
from ..errors import ManifestError
from ..image import Image, ImageIndex
from ..spec import Index, Platform, encode_json

__all__ = ["build_index"]


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
