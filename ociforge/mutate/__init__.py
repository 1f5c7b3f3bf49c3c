"""Image to image without opening a layer: new manifest and config bytes, blobs carried as they are.

The metadata tier (go-containerregistry's ``mutate``): :func:`append_layers`,
:func:`keep_layers` and, in :mod:`.rebase`, restacking layers onto another base. Nothing here
reads layer content, the clock or the environment; recipes (:mod:`ociforge.recipes`) decide
what goes into a layer and when it was made.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .. import mediatypes as mt
from ..blobs import BytesSource
from ..errors import ManifestError
from ..image import Image
from ..layer import Layer
from ..spec import Descriptor, ImageConfig, Manifest, encode_json, format_created

__all__ = ["HistoryEntry", "append_layers", "empty_image", "keep_layers"]


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """What the config's ``history`` records for one appended layer."""

    created_by: str = "ociforge"
    comment: str = ""
    author: str = ""


def empty_image(
    *, os: str = "linux", architecture: str = "amd64", variant: str = "", docker: bool = False
) -> Image:
    """An image with no layers (``FROM scratch``): a base for images that are not an OS."""
    config: dict[str, Any] = {"architecture": architecture, "os": os}
    if variant:
        config["variant"] = variant
    config["rootfs"] = {"type": "layers", "diff_ids": []}
    raw_config = encode_json(config)
    parsed = ImageConfig.parse(raw_config)
    media_type = mt.DOCKER_MANIFEST if docker else mt.OCI_MANIFEST
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {
            "mediaType": mt.DOCKER_CONFIG if docker else mt.OCI_CONFIG,
            "digest": str(parsed.digest),
            "size": len(raw_config),
        },
        "layers": [],
    }
    return Image(
        Manifest.parse(encode_json(manifest), media_type=media_type), parsed, (), name="scratch"
    )


def append_layers(
    image: Image,
    layers: Sequence[Layer],
    *,
    history: Sequence[HistoryEntry] | None = None,
    history_records: Sequence[Mapping[str, Any]] | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    created: _dt.datetime | None = None,
) -> Image:
    """``image`` with ``layers`` on top: the manifest, ``rootfs.diff_ids`` and ``history`` grow.

    Everything else in the manifest and config is kept as it was, key order included: labels
    such as ``ostree.final-diffid``, ``ostree.bootable`` and ``containers.bootc``, manifest
    annotations, unknown fields. ``labels``/``annotations`` add to or override the existing
    ones. Only the new manifest and config are built; no base layer is opened.

    ``created`` becomes the config's ``created`` and the new history records' time; without
    it the config keeps its time and the records have none (as go-containerregistry's
    ``mutate.Append``): the clock is the caller's choice, so the same inputs give the same
    digest. ``history_records`` (instead of ``history``) appends existing history records
    verbatim, including ``empty_layer`` ones, as a rebase does; they must describe exactly
    the appended layers.
    """
    when = format_created(created) if created is not None else None
    if history_records is not None:
        if history is not None:
            raise ValueError("give history or history_records, not both")
        records = [dict(r) for r in history_records]
        if sum(1 for r in records if not r.get("empty_layer")) != len(layers):
            raise ManifestError("history records do not match the number of appended layers")
    else:
        if history is not None and len(history) != len(layers):
            raise ValueError("history needs one entry per appended layer")
        entries = list(history) if history is not None else [HistoryEntry() for _ in layers]
        records = [_history_record(entry, when) for entry in entries]

    def config_change(config: dict[str, Any]) -> None:
        rootfs = config["rootfs"]
        rootfs["diff_ids"] = [*rootfs["diff_ids"], *(str(layer.diff_id) for layer in layers)]
        if records:
            config["history"] = [*(config.get("history") or []), *records]
        if when is not None:
            config["created"] = when
        if labels:
            container = config.setdefault("config", {})
            container["Labels"] = {**(container.get("Labels") or {}), **labels}

    docker = mt.is_docker(image.media_type)

    def manifest_change(manifest: dict[str, Any]) -> None:
        manifest["layers"] = [
            *manifest["layers"],
            *(_in_family(layer.descriptor, docker=docker).to_json() for layer in layers),
        ]
        if annotations:
            manifest["annotations"] = {**(manifest.get("annotations") or {}), **annotations}

    return _rewrite(image, config_change, manifest_change, [*image.layers, *layers])


def _history_record(entry: HistoryEntry, when: str | None) -> dict[str, Any]:
    record: dict[str, Any] = {"created": when} if when is not None else {}
    record["created_by"] = entry.created_by
    if entry.author:
        record["author"] = entry.author
    if entry.comment:
        record["comment"] = entry.comment
    return record


def _rewrite(
    image: Image,
    config_change: Callable[[dict[str, Any]], None],
    manifest_change: Callable[[dict[str, Any]], None],
    layers: Sequence[Layer],
) -> Image:
    """The image with its config and manifest edited, the config descriptor re-pointed.

    ``layers`` are the layers of the result, in the order of the edited manifest; new layers
    take their descriptors from the manifest, so their media type follows its family.
    """
    config: dict[str, Any] = image.config.json()
    config_change(config)
    raw_config = encode_json(config)
    new_config = ImageConfig.parse(raw_config)
    manifest: dict[str, Any] = image.manifest.json()
    manifest_change(manifest)
    manifest["config"] = {
        **manifest["config"],
        "digest": str(new_config.digest),
        "size": len(raw_config),
    }
    new_manifest = Manifest.parse(encode_json(manifest), media_type=image.media_type)
    new_layers = tuple(
        layer
        if layer.descriptor == descriptor
        else dataclasses.replace(layer, descriptor=descriptor)
        for descriptor, layer in zip(new_manifest.layers, layers, strict=True)
    )
    return Image(
        new_manifest,
        new_config,
        new_layers,
        name=image.name,
        config_source=BytesSource({new_config.digest: raw_config}, name=image.name or "image"),
    )


def _in_family(descriptor: Descriptor, *, docker: bool) -> Descriptor:
    """The descriptor with its layer media type in the manifest's family (OCI or Docker).

    Mixing families in one manifest confuses registries and runtimes; the blob bytes are
    the same either way, only the declared type changes.
    """
    if mt.is_docker(descriptor.media_type) == docker:
        return descriptor
    media_type = mt.layer_media_type(mt.layer_compression(descriptor.media_type), docker=docker)
    return Descriptor(
        media_type,
        descriptor.digest,
        descriptor.size,
        descriptor.annotations,
        descriptor.platform,
        descriptor.urls,
        descriptor.artifact_type,
    )


def keep_layers(image: Image, count: int) -> Image:
    """``image`` cut down to its bottom ``count`` layers (diff_ids and history follow).

    History records of the dropped layers go; ``empty_layer`` records stay. When the history
    does not line up with the layers it is cut to ``count`` records instead.
    """
    if not 0 <= count <= len(image.layers):
        raise ValueError(f"cannot keep {count} of {len(image.layers)} layers")

    def config_change(config: dict[str, Any]) -> None:
        config["rootfs"]["diff_ids"] = config["rootfs"]["diff_ids"][:count]
        past = config.get("history")
        if not isinstance(past, list):
            return
        if sum(1 for record in past if not record.get("empty_layer")) != len(image.layers):
            config["history"] = past[:count]
            return
        kept: list[Any] = []
        seen = 0
        for record in past:
            if not record.get("empty_layer"):
                seen += 1
                if seen > count:
                    continue
            kept.append(record)
        config["history"] = kept

    def manifest_change(manifest: dict[str, Any]) -> None:
        manifest["layers"] = manifest["layers"][:count]

    return _rewrite(image, config_change, manifest_change, image.layers[:count])
