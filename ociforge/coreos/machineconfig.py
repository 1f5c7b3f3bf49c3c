"""Render the MachineConfig that points a pool's ``osImageURL`` at an image, always by digest."""

from __future__ import annotations

import re
from typing import Final

from ..digest import Digest
from ..errors import InvalidDigest, InvalidReference

__all__ = [
    "DEFAULT_POOL",
    "check_pool_and_name",
    "machineconfig_name",
    "pull_spec_digest",
    "render_machineconfig",
]

#: The pool a MachineConfig targets unless told otherwise.
DEFAULT_POOL: Final = "worker"
#: Prefix of the names :func:`machineconfig_name` derives.
_NAME_PREFIX: Final = "os-layer-"
_MAX_NAME: Final = 253
_MAX_POOL: Final = 63

_NAME: Final = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_VALUE: Final = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_PULL_SPEC: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]*@[a-z0-9]+:[0-9a-f]+")


def pull_spec_digest(pull_spec: str) -> Digest:
    """The digest of ``HOST/REPO@sha256:HEX``; a tag-only reference is refused."""
    spec = pull_spec.removeprefix("docker://")
    if "@" not in spec:
        raise InvalidReference(
            f"{pull_spec}: a MachineConfig must point at a digest (HOST/REPO@sha256:…), never a"
            " moving tag; resolve it first (ociforge machineconfig docker://HOST/REPO:TAG does)"
        )
    if not _PULL_SPEC.fullmatch(spec):
        raise InvalidReference(f"{pull_spec}: not a valid pull spec")
    try:
        return Digest.parse(spec.rsplit("@", 1)[1])
    except InvalidDigest as exc:
        raise InvalidReference(f"{pull_spec}: {exc}") from None


def machineconfig_name(repository: str) -> str:
    """A MachineConfig name for an image of ``repository``: ``os-layer-`` + its path, DNS-safe.

    ``team/fcos_custom`` gives ``os-layer-team-fcos-custom``: slashes and underscores become
    dashes, runs of dashes collapse, and the result fits a Kubernetes object name.
    """
    body = re.sub(r"[^a-z0-9.]+", "-", repository.lower())
    body = re.sub(r"-*\.-*", ".", body)
    body = re.sub(r"\.{2,}", ".", body).strip("-.")
    name = (_NAME_PREFIX + body)[:_MAX_NAME].rstrip("-.")
    return name if body else _NAME_PREFIX.rstrip("-")


def check_pool_and_name(*, pool: str, name: str) -> None:
    """Refuse a pool that is not a label value or a name that is not a DNS subdomain."""
    if len(name) > _MAX_NAME or not _NAME.fullmatch(name):
        raise InvalidReference(
            f"{name!r}: not a valid MachineConfig name (lowercase DNS subdomain)"
        )
    if len(pool) > _MAX_POOL or not _LABEL_VALUE.fullmatch(pool):
        raise InvalidReference(f"{pool!r}: not a valid pool name")


def render_machineconfig(
    pull_spec: str, *, pool: str = DEFAULT_POOL, name: str | None = None
) -> str:
    """A ``MachineConfig`` YAML document setting ``osImageURL`` for ``pool``.

    The pull spec must carry a digest: a MachineConfig with a tag would roll nodes onto
    whatever the tag points at later, which is exactly what digest pinning prevents.
    Without ``name``, one is derived from the repository (:func:`machineconfig_name`).
    """
    spec = pull_spec.removeprefix("docker://")
    digest = pull_spec_digest(spec)
    repository = spec.rsplit("@", 1)[0]
    # A HOST/REPO:tag@digest spec is valid for podman, but the tag would only mislead here.
    last = repository.rsplit("/", 1)[-1]
    if ":" in last:
        repository = repository[: len(repository) - len(last)] + last.split(":", 1)[0]
    if name is None:
        path = repository.split("/", 1)[1] if "/" in repository else repository
        name = machineconfig_name(path)
    check_pool_and_name(pool=pool, name=name)
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
