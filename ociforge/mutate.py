"""Lazy image transformations: new manifest and config bytes, base layers carried untouched."""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import mediatypes as mt
from .blobs import BytesSource
from .errors import ManifestError
from .image import Image
from .layer import Layer
from .spec import Descriptor, ImageConfig, Manifest, encode_json

__all__ = [
    "HistoryEntry",
    "append_layers",
    "format_created",
    "keep_layers",
    "reproducible_time",
    "source_date_epoch",
]


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """What the config's ``history`` records for one appended layer."""

    created_by: str = "ociforge"
    comment: str = ""
    author: str = ""


def source_date_epoch() -> int | None:
    """``SOURCE_DATE_EPOCH`` (reproducible-builds.org) as seconds, or ``None`` when unset."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not epoch:
        return None
    try:
        value = int(epoch)
        _dt.datetime.fromtimestamp(value, _dt.UTC)
    except (ValueError, OverflowError, OSError):
        raise ManifestError(f"SOURCE_DATE_EPOCH={epoch!r} is not a Unix timestamp") from None
    return value


def reproducible_time() -> _dt.datetime:
    """``SOURCE_DATE_EPOCH`` when set (reproducible builds), else now; always UTC."""
    epoch = source_date_epoch()
    if epoch is not None:
        return _dt.datetime.fromtimestamp(epoch, _dt.UTC)
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0)


def format_created(moment: _dt.datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, as OCI configs write it."""
    text = moment.astimezone(_dt.UTC).isoformat()
    return text.replace("+00:00", "Z")


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

    ``history_records`` (instead of ``history``) appends existing history records verbatim,
    including ``empty_layer`` ones, as a rebase does; they must describe exactly the appended
    layers.
    """
    when = format_created(created or reproducible_time())
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
        records = []
        for entry in entries:
            record: dict[str, Any] = {"created": when, "created_by": entry.created_by}
            if entry.author:
                record["author"] = entry.author
            if entry.comment:
                record["comment"] = entry.comment
            records.append(record)

    config: dict[str, Any] = image.config.json()
    rootfs = config["rootfs"]
    rootfs["diff_ids"] = [*rootfs["diff_ids"], *(str(layer.diff_id) for layer in layers)]
    if records:
        config["history"] = [*(config.get("history") or []), *records]
    config["created"] = when
    if labels:
        container = config.setdefault("config", {})
        container["Labels"] = {**(container.get("Labels") or {}), **labels}
    raw_config = encode_json(config)
    new_config = ImageConfig.parse(raw_config)

    manifest: dict[str, Any] = image.manifest.json()
    manifest["config"] = {
        **manifest["config"],
        "digest": str(new_config.digest),
        "size": len(raw_config),
    }
    family_docker = mt.is_docker(image.media_type)
    manifest["layers"] = [
        *manifest["layers"],
        *(_in_family(layer.descriptor, docker=family_docker).to_json() for layer in layers),
    ]
    if annotations:
        manifest["annotations"] = {**(manifest.get("annotations") or {}), **annotations}
    raw_manifest = encode_json(manifest)
    new_manifest = Manifest.parse(raw_manifest, media_type=image.media_type)
    config_source = BytesSource({new_config.digest: raw_config}, name=image.name or "image")
    new_layers = tuple(
        Layer(desc, layer.diff_id, layer.source)
        for desc, layer in zip(new_manifest.layers[len(image.layers) :], layers, strict=True)
    )
    return Image(
        new_manifest,
        new_config,
        (*image.layers, *new_layers),
        name=image.name,
        _config_source=config_source,
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
    config: dict[str, Any] = image.config.json()
    config["rootfs"]["diff_ids"] = config["rootfs"]["diff_ids"][:count]
    past = config.get("history")
    if isinstance(past, list):
        real = sum(1 for record in past if not record.get("empty_layer"))
        if real == len(image.layers):
            kept: list[Any] = []
            seen = 0
            for record in past:
                if not record.get("empty_layer"):
                    seen += 1
                    if seen > count:
                        continue
                kept.append(record)
            config["history"] = kept
        else:
            config["history"] = past[:count]
    raw_config = encode_json(config)
    new_config = ImageConfig.parse(raw_config)
    manifest: dict[str, Any] = image.manifest.json()
    manifest["config"] = {
        **manifest["config"],
        "digest": str(new_config.digest),
        "size": len(raw_config),
    }
    manifest["layers"] = manifest["layers"][:count]
    new_manifest = Manifest.parse(encode_json(manifest), media_type=image.media_type)
    source = BytesSource({new_config.digest: raw_config}, name=image.name or "image")
    return Image(
        new_manifest, new_config, image.layers[:count], name=image.name, _config_source=source
    )
