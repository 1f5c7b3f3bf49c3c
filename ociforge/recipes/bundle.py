"""umoci-style bundles: unpack an image to ``BUNDLE/rootfs``, let people edit it, repack the edit.

A bundle holds, next to ``rootfs/``, everything a repack needs: where the image came from and
its manifest digest (``ociforge-bundle.json``), the exact manifest and config bytes, and the
per-path state record written while the layers were extracted (``ociforge-state.jsonl``).
Repacking compares the tree with that record and appends one layer holding the difference.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import io
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .._env import build_time
from .._fs import atomic_directory, write_file_atomic
from ..digest import Digest
from ..errors import DigestMismatch, FormatError, InvalidDigest, NotFound, PathConflict
from ..image import Image
from ..mediatypes import Compression
from ..mutate import HistoryEntry, append_layers
from ..spec import parse_json_object
from ..tar.build import LayerBuilder
from ..tar.diff import TreeDiff
from ..tar.state import PathState, dump_states, load_states
from ..tar.unpack import Warn, unpack_layers
from ..transports import LocalReference, open_image, parse_reference
from . import Derived

__all__ = [
    "BUNDLE_FILE",
    "BundleInfo",
    "read_bundle",
    "refresh_bundle",
    "repack_bundle",
    "unpack_bundle",
    "unpack_reference",
]

BUNDLE_FILE: Final = "ociforge-bundle.json"
STATE_FILE: Final = "ociforge-state.jsonl"
MANIFEST_FILE: Final = "image-manifest.json"
CONFIG_FILE: Final = "image-config.json"
ROOTFS: Final = "rootfs"
_FORMAT: Final = "ociforge-bundle/1"


@dataclass(frozen=True, slots=True)
class BundleInfo:
    """What a bundle records about its origin."""

    path: str
    source: str
    manifest_digest: Digest
    rootless: bool

    @property
    def rootfs(self) -> str:
        """The unpacked tree."""
        return os.path.join(self.path, ROOTFS)

    def to_json(self) -> dict[str, Any]:
        """The ``ociforge-bundle.json`` document."""
        return {
            "format": _FORMAT,
            "source": self.source,
            "manifest": str(self.manifest_digest),
            "rootless": self.rootless,
        }


def unpack_bundle(
    image: Image,
    bundle: str,
    *,
    source: str,
    rootless: bool = False,
    rootless_xattr: bool = False,
    warn: Warn | None = None,
) -> BundleInfo:
    """Unpack ``image`` into the new directory ``bundle`` (it must not exist).

    ``source`` is the reference the image was opened from; repack opens it again for the
    base layers. The bundle appears only when everything was extracted and verified.
    """
    if os.path.lexists(bundle):
        raise PathConflict(f"{bundle}: already exists; unpack needs a new directory")
    parent = os.path.dirname(os.path.abspath(bundle))
    if not os.path.isdir(parent):
        raise NotFound(f"{bundle}: parent directory {parent} does not exist")
    info = BundleInfo(os.path.abspath(bundle), source, image.digest, rootless)
    with atomic_directory(bundle) as tmp:
        os.chmod(tmp, 0o700)  # as umoci: the tree holds files of other users
        rootfs = os.path.join(tmp, ROOTFS)
        os.mkdir(rootfs, 0o755)
        states = unpack_layers(
            image.layers,
            rootfs,
            rootless=rootless,
            rootless_xattr=rootless_xattr,
            warn=warn,
            name=image.name or source,
        )
        _write_bundle(tmp, info, image, states)
    return info


def _recorded_reference(reference: str) -> str:
    """``reference`` as a bundle records it: a local path made absolute, so it works anywhere."""
    parsed = parse_reference(reference)
    if isinstance(parsed, LocalReference):
        return str(dataclasses.replace(parsed, path=os.path.abspath(parsed.path)))
    return reference  # a docker:// reference is the same from anywhere


def unpack_reference(
    reference: str,
    bundle: str,
    *,
    rootless: bool = False,
    rootless_xattr: bool = False,
    warn: Warn | None = None,
    max_layer_size: int | None = None,
) -> BundleInfo:
    """Open the image ``reference`` names and unpack it into ``bundle``.

    A local reference is recorded with an absolute path, so repack finds it from anywhere.
    ``max_layer_size`` bounds each layer's uncompressed size, as in ``open_image``.
    """
    image = open_image(reference, max_layer_size=max_layer_size)
    return unpack_bundle(
        image,
        bundle,
        source=_recorded_reference(reference),
        rootless=rootless,
        rootless_xattr=rootless_xattr,
        warn=warn,
    )


def _write_bundle(
    directory: str, info: BundleInfo, image: Image, states: Mapping[str, PathState]
) -> None:
    write_file_atomic(os.path.join(directory, MANIFEST_FILE), image.raw_manifest, mode=0o600)
    write_file_atomic(os.path.join(directory, CONFIG_FILE), image.raw_config, mode=0o600)
    with open(os.path.join(directory, STATE_FILE), "w", encoding="utf-8") as out:
        dump_states(sorted(states.items()), out)
    document = json.dumps(info.to_json(), indent=2) + "\n"
    write_file_atomic(os.path.join(directory, BUNDLE_FILE), document.encode(), mode=0o600)


def read_bundle(bundle: str) -> BundleInfo:
    """Read a bundle's ``ociforge-bundle.json``."""
    path = os.path.join(bundle, BUNDLE_FILE)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(1 << 20)
    except FileNotFoundError:
        raise NotFound(f"{bundle}: not an ociforge bundle (no {BUNDLE_FILE})") from None
    what = f"{bundle}: {BUNDLE_FILE}"
    obj = parse_json_object(raw, what)
    if obj.get("format") != _FORMAT:
        raise FormatError(f"{what}: unsupported format {obj.get('format')!r}")
    try:
        digest = Digest.parse(obj.get("manifest"))
    except InvalidDigest as exc:
        raise FormatError(f"{what}: {exc}") from None
    source = obj.get("source")
    if not isinstance(source, str) or not source:
        raise FormatError(f"{what}: 'source' must be a non-empty string")
    return BundleInfo(os.path.abspath(bundle), source, digest, bool(obj.get("rootless", False)))


def _read_states(bundle: str) -> dict[str, PathState]:
    path = os.path.join(bundle, STATE_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            return dict(load_states(handle, what=f"{bundle}: {STATE_FILE}"))
    except FileNotFoundError:
        raise NotFound(f"{bundle}: state record {STATE_FILE} is missing") from None


def repack_bundle(
    bundle: str,
    *,
    source: str | None = None,
    compression: Compression = "gzip",
    history: HistoryEntry | None = None,
    created: _dt.datetime | None = None,
    warn: Warn | None = None,
    max_layer_size: int | None = None,
) -> Derived:
    """The bundle's image plus one layer holding every change made to its rootfs.

    The base image is opened again from ``source`` (by default the reference recorded at
    unpack) and must still have the recorded manifest digest; its blobs are carried as they
    are. Deletions become whiteouts; in a rootless bundle the recorded owners are restored.
    The bundle itself is only read.
    """
    info = read_bundle(bundle)
    reference = source or info.source
    base = open_image(reference, max_layer_size=max_layer_size)
    if base.digest != info.manifest_digest:
        raise DigestMismatch(
            f"{reference}: manifest is now {base.digest}, but {bundle} was unpacked from"
            f" {info.manifest_digest}"
        )
    states = _read_states(bundle)
    builder = LayerBuilder(compression=compression)
    with TreeDiff(info.rootfs, states, rootless=info.rootless, warn=warn) as diff:
        changes = diff.into(builder)
        layer = builder.build()
    entry = history or HistoryEntry(created_by="ociforge repack")
    image = append_layers(base, [layer], history=[entry], created=created or build_time())
    return Derived(image=image, layer=image.layers[-1], changes=changes)


def refresh_bundle(bundle: str, image: Image, *, source: str) -> BundleInfo:
    """Point ``bundle`` at ``image``, a repack of it saved at ``source``.

    As umoci's ``--refresh-bundle``: the next repack starts from that image and holds only
    what changed after this one. The rootfs is left as it is; its current state becomes the record.
    """
    old = read_bundle(bundle)
    states = _read_states(bundle)
    with TreeDiff(old.rootfs, states, rootless=old.rootless, record_after=True) as diff:
        diff.into(LayerBuilder())  # walked for the record only; the layer is never built
        after = diff.states_after
    info = dataclasses.replace(
        old, source=_recorded_reference(source), manifest_digest=image.digest
    )
    document = json.dumps(info.to_json(), indent=2) + "\n"
    # The record of the tree goes last: a crash before it leaves the new base with the old
    # record, so the next repack holds this repack's changes again (correct, only larger),
    # never the other way round (the new record over the old base would lose them).
    write_file_atomic(os.path.join(bundle, BUNDLE_FILE), document.encode(), mode=0o600)
    write_file_atomic(os.path.join(bundle, MANIFEST_FILE), image.raw_manifest, mode=0o600)
    write_file_atomic(os.path.join(bundle, CONFIG_FILE), image.raw_config, mode=0o600)
    record = io.StringIO()
    dump_states(sorted(after.items()), record)
    write_file_atomic(os.path.join(bundle, STATE_FILE), record.getvalue().encode(), mode=0o600)
    return info
