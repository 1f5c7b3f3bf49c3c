"""Registry image references (``HOST[:PORT]/REPO[:TAG][@DIGEST]``), parsed and validated."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import ClassVar, Final, Literal

from ..digest import Digest
from ..errors import InvalidDigest, InvalidReference

__all__ = [
    "DOCKER_HUB",
    "DOCKER_HUB_API",
    "DOCKER_PREFIX",
    "RegistryReference",
    "parse_registry_reference",
]

#: The transport prefix skopeo uses for registry references.
DOCKER_PREFIX: Final = "docker://"
#: The name Docker Hub is known by in references and credential files.
DOCKER_HUB: Final = "docker.io"
#: The host that actually serves Docker Hub's registry API.
DOCKER_HUB_API: Final = "registry-1.docker.io"

_HUB_ALIASES: Final = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_MAX_NAME: Final = 255

# The grammar of distribution/reference, written out here so nothing unvalidated reaches a URL.
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{{1,5}})?"
)
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


@dataclass(frozen=True, slots=True)
class RegistryReference:
    """A validated image reference on a registry.

    ``registry`` is the name used in messages and credential lookups (``docker.io`` for Docker
    Hub); :attr:`host` is where the API lives. A reference names a tag, a digest or both; with
    neither it means the ``latest`` tag, as in skopeo.
    """

    registry: str
    repository: str
    tag: str = ""
    digest: Digest | None = None

    transport: ClassVar[Literal["docker"]] = "docker"

    @property
    def host(self) -> str:
        """``HOST[:PORT]`` of the registry API."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def name(self) -> str:
        """``REGISTRY/REPOSITORY``, without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def reference(self) -> str:
        """What goes after ``/manifests/``: the digest when known, else the tag."""
        if self.digest is not None:
            return str(self.digest)
        return self.tag or "latest"

    @property
    def ref(self) -> str:
        """The tag given, if any: what a push tags after pushing by digest."""
        return self.tag

    @property
    def location(self) -> str:
        """The reference without tag and digest, for messages about the repository."""
        return DOCKER_PREFIX + self.name

    def with_digest(self, digest: Digest) -> RegistryReference:
        """The same repository pinned to ``digest`` (the tag is dropped)."""
        return replace(self, tag="", digest=digest)

    def pinned(self) -> str:
        """``REGISTRY/REPOSITORY@DIGEST``, the pull spec a push prints."""
        if self.digest is None:
            raise InvalidReference(f"{self}: has no digest")
        return f"{self.name}@{self.digest}"

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text


def _looks_like_host(component: str) -> bool:
    # Docker's rule: the first component is a registry if it could not be a repository name.
    return (
        "." in component
        or ":" in component
        or component == "localhost"
        or component != component.lower()
    )


def _normalise_registry(host: str, text: str) -> str:
    if not _HOST.fullmatch(host):
        raise InvalidReference(f"{text}: invalid registry host {host!r}")
    port = host.rsplit(":", 1)[1] if ":" in host and not host.endswith("]") else ""
    if port and not 0 < int(port) < 65536:
        raise InvalidReference(f"{text}: invalid port in {host!r}")
    lowered = host.lower()
    return DOCKER_HUB if lowered in _HUB_ALIASES else lowered


def parse_registry_reference(text: str) -> RegistryReference:
    """Parse ``[docker://]HOST[:PORT]/REPO[:TAG][@DIGEST]`` (Docker Hub short names allowed).

    ``alpine`` becomes ``docker.io/library/alpine``; the digest is validated, so
    ``repo@sha256:../../x`` is refused before any request is built.
    """
    body = text[len(DOCKER_PREFIX) :] if text.startswith(DOCKER_PREFIX) else text
    if not body or any(c.isspace() for c in body):
        raise InvalidReference(f"{text}: invalid registry reference")
    name, at, digest_text = body.partition("@")
    digest: Digest | None = None
    if at:
        try:
            digest = Digest.parse(digest_text)
        except InvalidDigest as exc:
            raise InvalidReference(f"{text}: {exc}") from None
    tag = ""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise InvalidReference(f"{text}: invalid tag {tag!r}")
    first, sep, rest = name.partition("/")
    if sep and _looks_like_host(first):
        registry = _normalise_registry(first, text)
        repository = rest
    else:
        registry = DOCKER_HUB
        repository = name
    if registry == DOCKER_HUB and "/" not in repository:
        repository = f"library/{repository}"
    components = repository.split("/")
    if not repository or not all(_PATH_COMPONENT.fullmatch(c) for c in components):
        raise InvalidReference(
            f"{text}: invalid repository name {repository!r}"
            " (lowercase letters, digits and . _ - separators between slashes)"
        )
    if len(registry) + 1 + len(repository) > _MAX_NAME:
        raise InvalidReference(f"{text}: repository name longer than {_MAX_NAME} characters")
    return RegistryReference(registry, repository, tag, digest)
