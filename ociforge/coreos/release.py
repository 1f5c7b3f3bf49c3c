"""OpenShift release payloads: the component images their ``image-references`` name, by digest.

A release payload is an image whose ``/release-manifests/image-references`` file is an
``ImageStream`` document: one ``spec.tags`` entry per component (``rhel-coreos``,
``machine-config-operator``, …) whose ``from.name`` is the component's pull spec, a
``DockerImage`` reference pinned by digest. ``/release-manifests/release-metadata`` (kind
``cincinnati-metadata-v0``) carries the release version. The parsers are pure; only
:func:`read_release` reads an image, through :func:`ociforge.tar.flatten.flatten_image`, so the
payload's layers are streamed and never unpacked.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

from ..digest import Digest
from ..errors import FormatError, InvalidReference, NotFound, PolicyError
from ..image import Image
from ..registry.reference import parse_registry_reference
from ..tar.flatten import flatten_image, wanted_paths

__all__ = [
    "IMAGE_REFERENCES",
    "RELEASE_METADATA",
    "ReleaseComponent",
    "ReleasePayload",
    "parse_image_references",
    "parse_release_metadata",
    "read_release",
]

#: Where a payload lists its component images.
IMAGE_REFERENCES: Final = "/release-manifests/image-references"
#: Where a payload records its version (and upgrade edges).
RELEASE_METADATA: Final = "/release-manifests/release-metadata"

#: Real documents are a few hundred KiB; anything far larger is not one.
_MAX_DOCUMENT: Final = 16 << 20
_METADATA_KIND: Final = "cincinnati-metadata-v0"
# ImageStream tag names follow the registry tag grammar.
_COMPONENT: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_SHOWN: Final = 5


@dataclass(frozen=True, slots=True)
class ReleaseComponent:
    """One component of a release: its name and the image it ships as.

    ``digest`` is None when the pull spec names only a tag (a payload built that way cannot be
    trusted to mean the same image tomorrow).
    """

    name: str
    pull_spec: str
    digest: Digest | None


@dataclass(frozen=True, slots=True)
class ReleasePayload:
    """What a release payload image says about itself: its components and its version."""

    components: tuple[ReleaseComponent, ...]
    version: str | None = None
    name: str = "release payload"

    def component(self, name: str) -> ReleaseComponent:
        """The component called ``name``; an unknown name lists a few known ones."""
        for component in self.components:
            if component.name == name:
                return component
        known = sorted(c.name for c in self.components)
        if not known:
            raise NotFound(f"{self.name}: no component {name!r} (the payload lists none)")
        shown = ", ".join(known[:_SHOWN]) + (
            f" and {len(known) - _SHOWN} more" if len(known) > _SHOWN else ""
        )
        raise NotFound(f"{self.name}: no component {name!r} (it has {shown})")

    def image_for(self, name: str) -> str:
        """The pull spec of component ``name``, which must be pinned by digest."""
        component = self.component(name)
        if component.digest is None:
            raise PolicyError(
                f"{self.name}: component {name!r} points at {component.pull_spec}, a tag and not"
                " a digest; refusing a base image that may change under the same name"
            )
        return component.pull_spec


def _load_object(data: bytes, *, what: str) -> dict[str, Any]:
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormatError(f"{what}: not a JSON document ({exc})") from None
    if not isinstance(document, dict):
        raise FormatError(f"{what}: expected a JSON object, not {type(document).__name__}")
    return document


def _component(entry: object, index: int, *, what: str) -> ReleaseComponent:
    where = f"{what}: spec.tags[{index}]"
    if not isinstance(entry, dict):
        raise FormatError(f"{where}: expected an object")
    name = entry.get("name")
    if not isinstance(name, str) or not _COMPONENT.fullmatch(name):
        raise FormatError(f"{where}: invalid or missing name {name!r}")
    source = entry.get("from")
    if not isinstance(source, dict):
        raise FormatError(f"{where} ({name}): missing 'from'")
    if source.get("kind") != "DockerImage":
        raise FormatError(
            f"{where} ({name}): from.kind is {source.get('kind')!r}, expected 'DockerImage'"
        )
    pull_spec = source.get("name")
    if not isinstance(pull_spec, str):
        raise FormatError(f"{where} ({name}): from.name is not a pull spec")
    try:
        reference = parse_registry_reference(pull_spec)
    except InvalidReference as exc:
        raise FormatError(f"{where} ({name}): {exc}") from None
    if pull_spec.startswith("docker://"):
        raise FormatError(
            f"{where} ({name}): {pull_spec} is a transport reference, not a pull spec"
        )
    return ReleaseComponent(name, pull_spec, reference.digest)


def parse_image_references(
    data: bytes, *, what: str = "image-references"
) -> tuple[ReleaseComponent, ...]:
    """The components of an ``ImageStream`` document, in the order it lists them."""
    document = _load_object(data, what=what)
    if document.get("kind") != "ImageStream":
        raise FormatError(f"{what}: kind is {document.get('kind')!r}, expected 'ImageStream'")
    spec = document.get("spec")
    tags = spec.get("tags", []) if isinstance(spec, dict) else None
    if not isinstance(tags, list):
        raise FormatError(f"{what}: spec.tags is not a list")
    components = tuple(_component(entry, i, what=what) for i, entry in enumerate(tags))
    seen: set[str] = set()
    for component in components:
        if component.name in seen:
            raise FormatError(f"{what}: component {component.name!r} is listed twice")
        seen.add(component.name)
    return components


def parse_release_metadata(data: bytes, *, what: str = "release-metadata") -> str:
    """The version a ``cincinnati-metadata-v0`` document declares."""
    document = _load_object(data, what=what)
    if document.get("kind") != _METADATA_KIND:
        raise FormatError(f"{what}: kind is {document.get('kind')!r}, expected {_METADATA_KIND!r}")
    version = document.get("version")
    if not isinstance(version, str) or not version or any(c.isspace() for c in version):
        raise FormatError(f"{what}: invalid or missing version {version!r}")
    return version


def read_release(image: Image) -> ReleasePayload:
    """Read a payload's component list (and version, when recorded) from its layers.

    Every layer is streamed once and verified; only the two documents are kept.
    """
    label = image.name or str(image.digest)
    tree = flatten_image(image, wanted=wanted_paths([IMAGE_REFERENCES, RELEASE_METADATA]))
    try:
        documents: dict[str, bytes | None] = {}
        for path in (IMAGE_REFERENCES, RELEASE_METADATA):
            entry = tree.entry(tree.resolve(path))
            if entry is not None and entry.size > _MAX_DOCUMENT:
                raise FormatError(f"{label}: {path} is {entry.size} bytes, too large")
            documents[path] = tree.read(path)
    finally:
        tree.close()
    references = documents[IMAGE_REFERENCES]
    if references is None:
        raise NotFound(f"{label}: no {IMAGE_REFERENCES}: not a release payload")
    metadata = documents[RELEASE_METADATA]
    return ReleasePayload(
        components=parse_image_references(references, what=f"{label}: {IMAGE_REFERENCES}"),
        version=None
        if metadata is None
        else parse_release_metadata(metadata, what=f"{label}: {RELEASE_METADATA}"),
        name=label,
    )
