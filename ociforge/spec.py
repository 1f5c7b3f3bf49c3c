"""Frozen views of OCI documents parsed from their exact bytes, and encoders for new ones.

The raw bytes of a manifest, index or config are the truth: a parsed view keeps them in ``raw``
and its digest is computed over them. Documents that ociforge did not create are never
re-serialised; :func:`encode_json` is only used for new documents.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from . import mediatypes as mt
from .digest import Digest
from .errors import InvalidDigest, ManifestError

__all__ = [
    "MAX_CONFIG_BYTES",
    "MAX_MANIFEST_BYTES",
    "Descriptor",
    "ImageConfig",
    "Index",
    "Manifest",
    "Platform",
    "REF_NAME",
    "encode_json",
    "format_created",
    "parse_json_object",
]

#: Largest manifest or index accepted (the distribution registry's own limit).
MAX_MANIFEST_BYTES: Final = 4 * 1024 * 1024
#: Largest image config accepted; configs with long histories run to a few hundred KiB.
MAX_CONFIG_BYTES: Final = 16 * 1024 * 1024
_MAX_SIZE: Final = (1 << 63) - 1

#: The annotation naming a manifest in an OCI layout's ``index.json`` (``oci:DIR:REF``).
REF_NAME: Final = "org.opencontainers.image.ref.name"

_EMPTY: Mapping[str, str] = MappingProxyType({})


def encode_json(document: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON for a document ociforge creates (key order as given)."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def format_created(moment: _dt.datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, as OCI configs write ``created``."""
    text = moment.astimezone(_dt.UTC).isoformat()
    return text.replace("+00:00", "Z")


def parse_json_object(raw: bytes, what: str) -> dict[str, Any]:
    """Parse ``raw`` as a JSON object, naming ``what`` in the error if it is not one."""
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ManifestError(f"{what} is not valid JSON: {_reason(exc)}") from None
    if not isinstance(value, dict):
        raise ManifestError(f"{what} is not a JSON object")
    return value


def _reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at byte {exc.pos}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _string_map(value: object, what: str) -> Mapping[str, str]:
    if value is None:
        return _EMPTY
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ManifestError(f"{what} must be an object of strings")
    return MappingProxyType(dict(value))


def _string(obj: Mapping[str, Any], key: str, what: str, *, required: bool = True) -> str:
    value = obj.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise ManifestError(f"{what}: {key!r} must be a string")
    return value


#: Architecture names as kernels, RPM and Debian spell them, to their OCI names (and the
#: variant a name implies).
_ARCH_ALIASES: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        "x86_64": ("amd64", ""),
        "x86-64": ("amd64", ""),
        "i386": ("386", ""),
        "i686": ("386", ""),
        "aarch64": ("arm64", ""),
        "armhf": ("arm", "v7"),
        "armel": ("arm", "v6"),
        "armv7l": ("arm", "v7"),
        "ppc64el": ("ppc64le", ""),
    }
)


@dataclass(frozen=True, slots=True)
class Platform:
    """The platform an index entry or image config targets."""

    os: str
    architecture: str
    variant: str = ""
    os_version: str = ""

    @classmethod
    def from_json(cls, obj: object, what: str = "platform") -> Platform:
        """Parse a ``platform`` object."""
        if not isinstance(obj, dict):
            raise ManifestError(f"{what} must be an object")
        return cls(
            os=_string(obj, "os", what),
            architecture=_string(obj, "architecture", what),
            variant=_string(obj, "variant", what, required=False),
            os_version=_string(obj, "os.version", what, required=False),
        )

    @classmethod
    def parse(cls, text: str) -> Platform:
        """Parse ``os/arch[/variant]`` as given on the command line, normalised.

        ``aarch64`` means ``arm64``, ``x86_64`` ``amd64`` and so on, as containers/image
        and the OCI spec spell them.
        """
        parts = text.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"invalid platform {text!r}: expected OS/ARCH[/VARIANT]")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else "").normalized()

    def normalized(self) -> Platform:
        """The same platform in the spellings the OCI spec uses (``aarch64`` → ``arm64`` …)."""
        arch = self.architecture.lower()
        arch, default_variant = _ARCH_ALIASES.get(arch, (arch, ""))
        variant = self.variant.lower() or default_variant
        if arch == "arm64" and variant in ("v8", "8"):
            variant = ""  # arm64 is v8; containers/image drops the redundant variant
        elif arch == "arm" and variant.isdigit():
            variant = f"v{variant}"
        return Platform(self.os.lower(), arch, variant, self.os_version)

    def matches(self, wanted: Platform) -> bool:
        """True if this (an index entry's or config's platform) satisfies ``wanted``.

        Both sides are normalised; a variant left out on either side matches any.
        """
        mine, other = self.normalized(), wanted.normalized()
        if (mine.os, mine.architecture) != (other.os, other.architecture):
            return False
        return not other.variant or not mine.variant or mine.variant == other.variant

    def to_json(self) -> dict[str, str]:
        """The OCI JSON form."""
        out = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            out["os.version"] = self.os_version
        if self.variant:
            out["variant"] = self.variant
        return out

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True, slots=True)
class Descriptor:
    """A reference to exactly one blob: media type, digest and size (plus optional extras)."""

    media_type: str
    digest: Digest
    size: int
    annotations: Mapping[str, str] = field(default_factory=lambda: _EMPTY, hash=False)
    platform: Platform | None = None
    urls: tuple[str, ...] = ()
    artifact_type: str = ""

    def __post_init__(self) -> None:
        if (
            isinstance(self.size, bool)
            or not isinstance(self.size, int)
            or not (0 <= self.size <= _MAX_SIZE)
        ):
            raise ManifestError(f"descriptor {self.digest}: invalid size {self.size!r}")

    @classmethod
    def from_json(cls, obj: object, what: str = "descriptor") -> Descriptor:
        """Parse a descriptor object, validating digest, size and media type."""
        if not isinstance(obj, dict):
            raise ManifestError(f"{what} must be an object")
        try:
            digest = Digest.parse(obj.get("digest"))
        except InvalidDigest as exc:
            raise ManifestError(f"{what}: {exc}") from None
        size = obj.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= _MAX_SIZE:
            raise ManifestError(f"{what} {digest}: invalid size {size!r}")
        urls = obj.get("urls") or []
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise ManifestError(f"{what} {digest}: 'urls' must be a list of strings")
        platform = obj.get("platform")
        return cls(
            media_type=_string(obj, "mediaType", what),
            digest=digest,
            size=size,
            annotations=_string_map(obj.get("annotations"), f"{what} annotations"),
            platform=None if platform is None else Platform.from_json(platform, f"{what} platform"),
            urls=tuple(urls),
            artifact_type=_string(obj, "artifactType", what, required=False),
        )

    def to_json(self) -> dict[str, Any]:
        """The OCI JSON form, keys in the order the spec lists them."""
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": str(self.digest),
            "size": self.size,
        }
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform is not None:
            out["platform"] = self.platform.to_json()
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        return out

    def with_annotations(self, annotations: Mapping[str, str]) -> Descriptor:
        """A copy with ``annotations`` replaced."""
        return Descriptor(
            self.media_type,
            self.digest,
            self.size,
            MappingProxyType(dict(annotations)),
            self.platform,
            self.urls,
            self.artifact_type,
        )

    @property
    def ref_name(self) -> str:
        """The ``org.opencontainers.image.ref.name`` annotation, or ``""``."""
        return self.annotations.get("org.opencontainers.image.ref.name", "")


def _document(raw: bytes, served: str, default: str, what: str) -> tuple[dict[str, Any], str, str]:
    """Size-check and parse a manifest or index: (object, declared media type, kind)."""
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"{what} is larger than {MAX_MANIFEST_BYTES} bytes")
    obj = parse_json_object(raw, what)
    if obj.get("schemaVersion") != 2:
        raise ManifestError(f"{what}: schemaVersion must be 2, not {obj.get('schemaVersion')!r}")
    declared = obj.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise ManifestError(f"{what}: 'mediaType' must be a string")
    return obj, declared or "", declared or served or default


@dataclass(frozen=True, slots=True)
class Manifest:
    """An image manifest (OCI or Docker schema 2) parsed from its exact bytes."""

    raw: bytes = field(repr=False)
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    annotations: Mapping[str, str] = field(default_factory=lambda: _EMPTY, hash=False)
    subject: Descriptor | None = None

    @classmethod
    def parse(cls, raw: bytes, *, media_type: str = "", what: str = "manifest") -> Manifest:
        """Parse and validate; ``media_type`` is the one the transport declared, if any."""
        obj, declared, kind = _document(raw, media_type, mt.OCI_MANIFEST, what)
        if not mt.is_image_manifest(kind):
            raise ManifestError(f"{what}: media type {kind!r} is not an image manifest")
        if declared and media_type and mt.is_manifest(media_type) and declared != media_type:
            raise ManifestError(
                f"{what}: declares media type {declared!r} but was served as {media_type!r}"
            )
        if "manifests" in obj:
            raise ManifestError(f"{what}: an image manifest must not have 'manifests'")
        layers = obj.get("layers")
        if not isinstance(layers, list):
            raise ManifestError(f"{what}: 'layers' must be a list")
        subject = obj.get("subject")
        return cls(
            raw=raw,
            media_type=kind,
            config=Descriptor.from_json(obj.get("config"), f"{what} config"),
            layers=tuple(
                Descriptor.from_json(d, f"{what} layer {i}") for i, d in enumerate(layers)
            ),
            annotations=_string_map(obj.get("annotations"), f"{what} annotations"),
            subject=None if subject is None else Descriptor.from_json(subject, f"{what} subject"),
        )

    @property
    def digest(self) -> Digest:
        """The sha256 digest of the exact bytes."""
        return Digest.of_bytes(self.raw)

    def json(self) -> dict[str, Any]:
        """A fresh, mutable parse of the raw bytes (key order kept), for building new manifests."""
        return parse_json_object(self.raw, "manifest")

    def descriptor(self, **extra: Any) -> Descriptor:
        """A descriptor pointing at this manifest."""
        return Descriptor(self.media_type, self.digest, len(self.raw), **extra)


@dataclass(frozen=True, slots=True)
class Index:
    """An image index (OCI) or manifest list (Docker) parsed from its exact bytes."""

    raw: bytes = field(repr=False)
    media_type: str
    manifests: tuple[Descriptor, ...]
    annotations: Mapping[str, str] = field(default_factory=lambda: _EMPTY, hash=False)

    @classmethod
    def parse(cls, raw: bytes, *, media_type: str = "", what: str = "index") -> Index:
        """Parse and validate an index or manifest list."""
        obj, _declared, kind = _document(raw, media_type, mt.OCI_INDEX, what)
        if not mt.is_index(kind):
            raise ManifestError(f"{what}: media type {kind!r} is not an image index")
        manifests = obj.get("manifests")
        if not isinstance(manifests, list):
            raise ManifestError(f"{what}: 'manifests' must be a list")
        return cls(
            raw=raw,
            media_type=kind,
            manifests=tuple(
                Descriptor.from_json(d, f"{what} entry {i}") for i, d in enumerate(manifests)
            ),
            annotations=_string_map(obj.get("annotations"), f"{what} annotations"),
        )

    @property
    def digest(self) -> Digest:
        """The sha256 digest of the exact bytes."""
        return Digest.of_bytes(self.raw)

    def json(self) -> dict[str, Any]:
        """A fresh, mutable parse of the raw bytes (key order kept)."""
        return parse_json_object(self.raw, "index")


def parse_manifest_or_index(
    raw: bytes, *, media_type: str = "", what: str = "manifest"
) -> Manifest | Index:
    """Parse a document served from a manifest endpoint, deciding its kind from its content."""
    obj = parse_json_object(raw, what) if len(raw) <= MAX_MANIFEST_BYTES else None
    if obj is None:
        raise ManifestError(f"{what} is larger than {MAX_MANIFEST_BYTES} bytes")
    declared = obj.get("mediaType")
    kind = declared if isinstance(declared, str) and declared else media_type
    if mt.is_index(kind) or (not kind and "manifests" in obj):
        return Index.parse(raw, media_type=media_type, what=what)
    return Manifest.parse(raw, media_type=media_type, what=what)


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """An image configuration parsed from its exact bytes."""

    raw: bytes = field(repr=False)
    architecture: str
    os: str
    variant: str
    created: str
    labels: Mapping[str, str] = field(hash=False)
    diff_ids: tuple[Digest, ...]
    history: tuple[Mapping[str, Any], ...] = field(hash=False)

    @classmethod
    def parse(cls, raw: bytes, *, what: str = "image config") -> ImageConfig:
        """Parse and validate the parts ociforge relies on; the rest stays in ``raw``."""
        if len(raw) > MAX_CONFIG_BYTES:
            raise ManifestError(f"{what} is larger than {MAX_CONFIG_BYTES} bytes")
        obj = parse_json_object(raw, what)
        rootfs = obj.get("rootfs")
        if not isinstance(rootfs, dict) or rootfs.get("type") != "layers":
            raise ManifestError(f"{what}: rootfs.type must be 'layers'")
        ids = rootfs.get("diff_ids")
        if not isinstance(ids, list):
            raise ManifestError(f"{what}: rootfs.diff_ids must be a list")
        try:
            diff_ids = tuple(Digest.parse(d) for d in ids)
        except InvalidDigest as exc:
            raise ManifestError(f"{what}: rootfs.diff_ids: {exc}") from None
        container = obj.get("config") or {}
        if not isinstance(container, dict):
            raise ManifestError(f"{what}: 'config' must be an object")
        history = obj.get("history") or []
        if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
            raise ManifestError(f"{what}: 'history' must be a list of objects")
        return cls(
            raw=raw,
            architecture=_string(obj, "architecture", what, required=False),
            os=_string(obj, "os", what, required=False),
            variant=_string(obj, "variant", what, required=False),
            created=_string(obj, "created", what, required=False),
            labels=_string_map(container.get("Labels"), f"{what} labels"),
            diff_ids=diff_ids,
            history=tuple(MappingProxyType(h) for h in history),
        )

    @property
    def digest(self) -> Digest:
        """The sha256 digest of the exact bytes."""
        return Digest.of_bytes(self.raw)

    @property
    def platform(self) -> Platform:
        """The platform this config declares."""
        return Platform(self.os, self.architecture, self.variant)

    def json(self) -> dict[str, Any]:
        """A fresh, mutable parse of the raw bytes (key order kept)."""
        return parse_json_object(self.raw, "image config")
