"""Render the MachineConfig that points a pool's ``osImageURL`` at an image, always by digest."""

from __future__ import annotations

import re
from typing import Final

from .digest import Digest
from .errors import InvalidDigest, InvalidReference

__all__ = ["pull_spec_digest", "render_machineconfig"]

_NAME: Final = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_VALUE: Final = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_PULL_SPEC: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]*@[a-z0-9]+:[0-9a-f]+")


def pull_spec_digest(pull_spec: str) -> Digest:
    """The digest of ``HOST/REPO@sha256:HEX``; a tag-only reference is refused."""
    spec = pull_spec.removeprefix("docker://")
    if "@" not in spec:
        raise InvalidReference(
            f"{pull_spec}: a MachineConfig must point at a digest (HOST/REPO@sha256:…), never a"
            " moving tag; resolve it first (ociforge inspect docker://… prints the digest)"
        )
    if not _PULL_SPEC.fullmatch(spec):
        raise InvalidReference(f"{pull_spec}: not a valid pull spec")
    try:
        return Digest.parse(spec.rsplit("@", 1)[1])
    except InvalidDigest as exc:
        raise InvalidReference(f"{pull_spec}: {exc}") from None


def render_machineconfig(pull_spec: str, *, pool: str, name: str) -> str:
    """A ``MachineConfig`` YAML document setting ``osImageURL`` for ``pool``.

    The pull spec must carry a digest: a MachineConfig with a tag would roll nodes onto
    whatever the tag points at later, which is exactly what digest pinning prevents.
    """
    spec = pull_spec.removeprefix("docker://")
    digest = pull_spec_digest(spec)
    repository = spec.rsplit("@", 1)[0]
    # A HOST/REPO:tag@digest spec is valid for podman, but the tag would only mislead here.
    last = repository.rsplit("/", 1)[-1]
    if ":" in last:
        repository = repository[: len(repository) - len(last)] + last.split(":", 1)[0]
    if len(name) > 253 or not _NAME.fullmatch(name):
        raise InvalidReference(
            f"{name!r}: not a valid MachineConfig name (lowercase DNS subdomain)"
        )
    if len(pool) > 63 or not _LABEL_VALUE.fullmatch(pool):
        raise InvalidReference(f"{pool!r}: not a valid pool name")
    return (
        "apiVersion: machineconfiguration.openshift.io/v1\n"
        "kind: MachineConfig\n"
        "metadata:\n"
        "  labels:\n"
        f"    machineconfiguration.openshift.io/role: {pool}\n"
        f"  name: {name}\n"
        "spec:\n"
        f'  osImageURL: "{repository}@{digest}"\n'
    )
