"""OCI and Docker schema 2 media types, and what each says about a blob."""

from __future__ import annotations

from typing import Final, Literal

from .errors import UnsupportedError

__all__ = [
    "DOCKER_CONFIG",
    "DOCKER_FOREIGN_LAYER",
    "DOCKER_LAYER_GZIP",
    "DOCKER_MANIFEST",
    "DOCKER_MANIFEST_LIST",
    "MANIFEST_ACCEPT",
    "OCI_CONFIG",
    "OCI_EMPTY",
    "OCI_INDEX",
    "OCI_LAYER",
    "OCI_LAYER_GZIP",
    "OCI_LAYER_ZSTD",
    "OCI_MANIFEST",
    "Compression",
    "is_docker",
    "is_image_manifest",
    "is_index",
    "is_layer",
    "is_manifest",
    "layer_compression",
    "layer_media_type",
]

Compression = Literal["none", "gzip", "zstd"]

OCI_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX: Final = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG: Final = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY: Final = "application/vnd.oci.empty.v1+json"
OCI_LAYER: Final = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP: Final = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD: Final = "application/vnd.oci.image.layer.v1.tar+zstd"
_OCI_NONDIST = "application/vnd.oci.image.layer.nondistributable.v1.tar"

DOCKER_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST: Final = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG: Final = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP: Final = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER: Final = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
_DOCKER_LAYER_ZSTD = "application/vnd.docker.image.rootfs.diff.tar.zstd"
_DOCKER_LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar"

#: The Accept header value for manifest requests, most specific first.
MANIFEST_ACCEPT: Final = ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST])

_LAYER_COMPRESSION: Final[dict[str, Compression]] = {
    OCI_LAYER: "none",
    OCI_LAYER_GZIP: "gzip",
    OCI_LAYER_ZSTD: "zstd",
    _OCI_NONDIST: "none",
    _OCI_NONDIST + "+gzip": "gzip",
    _OCI_NONDIST + "+zstd": "zstd",
    _DOCKER_LAYER_TAR: "none",
    DOCKER_LAYER_GZIP: "gzip",
    _DOCKER_LAYER_ZSTD: "zstd",
    DOCKER_FOREIGN_LAYER: "gzip",
}


def is_index(media_type: str) -> bool:
    """True for an OCI image index or a Docker manifest list."""
    return media_type in (OCI_INDEX, DOCKER_MANIFEST_LIST)


def is_image_manifest(media_type: str) -> bool:
    """True for an OCI image manifest or a Docker schema 2 manifest."""
    return media_type in (OCI_MANIFEST, DOCKER_MANIFEST)


def is_manifest(media_type: str) -> bool:
    """True for anything a registry serves from ``/manifests/``."""
    return is_index(media_type) or is_image_manifest(media_type)


def is_layer(media_type: str) -> bool:
    """True for a known filesystem-layer media type."""
    return media_type in _LAYER_COMPRESSION


def is_docker(media_type: str) -> bool:
    """True for Docker schema 2 media types."""
    return media_type.startswith("application/vnd.docker.")


def layer_compression(media_type: str) -> Compression:
    """The compression a layer media type declares; :class:`UnsupportedError` if unknown."""
    try:
        return _LAYER_COMPRESSION[media_type]
    except KeyError:
        raise UnsupportedError(f"unsupported layer media type {media_type!r}") from None


def layer_media_type(compression: Compression, *, docker: bool = False) -> str:
    """The layer media type for ``compression``, in the OCI or the Docker family."""
    if docker:
        table = {"none": _DOCKER_LAYER_TAR, "gzip": DOCKER_LAYER_GZIP, "zstd": _DOCKER_LAYER_ZSTD}
    else:
        table = {"none": OCI_LAYER, "gzip": OCI_LAYER_GZIP, "zstd": OCI_LAYER_ZSTD}
    try:
        return table[compression]
    except KeyError:
        raise UnsupportedError(f"unsupported layer compression {compression!r}") from None
