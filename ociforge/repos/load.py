"""The repositories of one run: the image's ``.repo`` files, the user's options, the image's keys.

The image's files come first; then ``--repo``, ``--repo-file``, ``--enablerepo`` and
``--disablerepo`` apply in command-line order.

Variables are dnf's: ``$releasever`` (given, or the image's ``/etc/dnf/vars/releasever``, or
the version of what provides ``system-release(releasever)`` in the installed set, or
``VERSION_ID`` of ``os-release``), ``$releasever_major``/``$releasever_minor``, ``$basearch``
and ``$arch`` from the image architecture, and every file of ``/etc/dnf/vars`` and
``/etc/yum/vars`` in the image. Repository files are read from the image's
``/etc/yum.repos.d``, ``/etc/yum/repos.d`` and ``/etc/distro.repos.d``.

The image is read only through an :class:`ImageFiles` the caller passes: ``gpgkey=file://``
paths are looked up *in the image*, never on this machine, while ``--repo-file`` files and
TLS certificates are this machine's (they are the user's, like the credentials ``podman
build`` would mount).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol
from urllib.parse import unquote, urlsplit

from ..errors import RepoError
from ..rpm.header import Header
from ..rpm.signature import load_keys
from ..rpm.tags import Tag
from .config import RepoConfig, RepoToggle, parse_repo_file, parse_vars, repo_from_url, select_repos
from .metadata import Repository

__all__ = [
    "ImageFiles",
    "MappingImageFiles",
    "RepoAction",
    "RepoOptions",
    "base_arch",
    "detect_releasever",
    "load_repos",
]

REPO_DIRECTORIES: Final = ("/etc/yum.repos.d", "/etc/yum/repos.d", "/etc/distro.repos.d")
VAR_DIRECTORIES: Final = ("/etc/dnf/vars", "/etc/yum/vars")
_OCI_ARCH: Final = {"amd64": "x86_64", "arm64": "aarch64", "386": "i686", "arm": "armv7hl"}
#: rpm's ``%_arch`` → dnf's ``$basearch`` (``dnf/rpm/__init__.py`` ``_BASEARCH_MAP``).
_BASEARCH: Final = {
    "i386": "i386",
    "i486": "i386",
    "i586": "i386",
    "i686": "i386",
    "athlon": "i386",
    "armv7hl": "armhfp",
    "armv7l": "arm",
    "ppc64le": "ppc64le",
    "ppc64": "ppc64",
    "s390x": "s390x",
    "aarch64": "aarch64",
    "x86_64": "x86_64",
    "riscv64": "riscv64",
}


class ImageFiles(Protocol):
    """Read access to the base image's files (never the host's)."""

    def read(self, path: str) -> bytes | None:
        """The content of the regular file at absolute ``path``, or None if there is none."""
        ...

    def listdir(self, path: str) -> Sequence[str]:
        """Names in the directory at absolute ``path`` (empty when it does not exist)."""
        ...


@dataclass(frozen=True, slots=True)
class MappingImageFiles:
    """:class:`ImageFiles` over a mapping of absolute paths to contents (tests, small images)."""

    files: Mapping[str, bytes]

    def read(self, path: str) -> bytes | None:
        """The file's bytes, or None."""
        return self.files.get(path)

    def listdir(self, path: str) -> Sequence[str]:
        """Direct children of ``path`` that are files in the mapping."""
        prefix = path.rstrip("/") + "/"
        return sorted(
            {p[len(prefix) :].split("/", 1)[0] for p in self.files if p.startswith(prefix)}
        )


@dataclass(frozen=True, slots=True)
class RepoAction:
    """One repository option, in command-line order.

    ``repo`` (``ID=URL``), ``repo-file`` (a path on this machine), ``enable`` or ``disable``
    (comma-separated id globs).
    """

    kind: Literal["repo", "repo-file", "enable", "disable"]
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RepoOptions:
    """Which repositories a run uses and how their variables expand.

    ``actions`` keep command-line order (toggles apply to repositories defined before
    them); :meth:`from_lists` builds them from plain lists. ``image_repos`` False ignores
    the image's own ``.repo`` files. ``variables`` override every other source.
    """

    actions: Sequence[RepoAction] = ()
    image_repos: bool = True
    releasever: str | None = None
    architecture: str = "x86_64"
    variables: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_lists(
        cls,
        *,
        repo: Sequence[str] = (),
        repo_files: Sequence[str] = (),
        enable: Sequence[str] = (),
        disable: Sequence[str] = (),
        releasever: str | None = None,
        architecture: str = "x86_64",
        image_repos: bool = True,
    ) -> RepoOptions:
        """Options from separate lists, in the order dnf users mean them.

        Disables, then enables (``--disablerepo '*' --enablerepo x``), then repository
        files and ``--repo`` definitions.
        """
        actions = [RepoAction("disable", d) for d in disable]
        actions += [RepoAction("enable", e) for e in enable]
        actions += [RepoAction("repo-file", f) for f in repo_files]
        actions += [RepoAction("repo", r) for r in repo]
        return cls(
            actions=tuple(actions),
            releasever=releasever,
            architecture=architecture,
            image_repos=image_repos,
        )


def base_arch(architecture: str) -> tuple[str, str]:
    """``($arch, $basearch)`` for an image architecture (rpm or OCI spelling)."""
    arch = _OCI_ARCH.get(architecture, architecture)
    return arch, _BASEARCH.get(arch, arch)


def detect_releasever(installed: Sequence[Header]) -> str | None:
    """What dnf calls the release version, from the installed set.

    The ``system-release(releasever)`` provide's version, else the version of the package
    providing ``system-release`` or ``redhat-release``.
    """
    fallback = None
    for header in installed:
        names = header.strings(Tag.PROVIDENAME)
        versions = header.strings(Tag.PROVIDEVERSION)
        for i, name in enumerate(names):
            if name == "system-release(releasever)":
                version = versions[i] if i < len(versions) else ""
                return version or header.string(Tag.VERSION)
            if name in ("system-release", "redhat-release") and fallback is None:
                fallback = header.string(Tag.VERSION)
    return fallback


def _os_release_version(image: ImageFiles) -> str | None:
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        data = image.read(path)
        if data is None:
            continue
        for line in data.decode("utf-8", "replace").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "VERSION_ID":
                return value.strip().strip("\"'") or None
    return None


def _variables(
    image: ImageFiles | None, options: RepoOptions, installed: Sequence[Header]
) -> dict[str, str]:
    found: dict[str, bytes] = {}
    if image is not None:
        for directory in VAR_DIRECTORIES:
            for name in image.listdir(directory):
                data = image.read(f"{directory}/{name}")
                if data is not None:
                    found.setdefault(name, data)
    variables = parse_vars(found)
    releasever = (
        options.releasever
        or variables.get("releasever")
        or detect_releasever(installed)
        or (_os_release_version(image) if image is not None else None)
    )
    arch, basearch = base_arch(options.architecture)
    variables.update(arch=arch, basearch=basearch)
    if releasever:
        major, _, minor = releasever.partition(".")
        variables.update(releasever=releasever, releasever_major=major, releasever_minor=minor)
    variables.update(options.variables)
    return variables


def _image_repos(image: ImageFiles, variables: Mapping[str, str]) -> list[RepoConfig]:
    out: list[RepoConfig] = []
    for directory in REPO_DIRECTORIES:
        for name in sorted(image.listdir(directory)):
            if not name.endswith(".repo"):
                continue
            path = f"{directory}/{name}"
            data = image.read(path)
            if data is None:
                continue
            out += parse_repo_file(
                data.decode("utf-8", "replace"), source=f"image:{path}", variables=variables
            )
    return out


def _host_repo_file(path: str, variables: Mapping[str, str]) -> tuple[RepoConfig, ...]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read(4 * 1024 * 1024)
    except OSError as exc:
        raise RepoError(f"--repo-file {path}: {exc.strerror}") from None
    return parse_repo_file(text, source=path, variables=variables)


def _keys(config: RepoConfig, image: ImageFiles | None) -> Repository:
    keys = []
    for url in config.gpgkeys:
        parts = urlsplit(url)
        if parts.scheme != "file":
            continue
        path = os.path.normpath(unquote(parts.path))
        data = image.read(path) if image is not None else None
        if data is None:
            if config.gpgcheck or config.repo_gpgcheck:
                raise RepoError(f"{config.label}: gpgkey {url}: no such file in the image")
            continue
        keys += load_keys(data, what=f"{config.label}: gpgkey {url}")
    return Repository(config, tuple(keys))


def load_repos(
    *,
    image: ImageFiles | None,
    options: RepoOptions,
    installed: Sequence[Header] = (),
) -> tuple[Repository, ...]:
    """The enabled repositories, in definition order, with their image keys loaded.

    ``installed`` (the image's rpmdb headers) only helps find ``$releasever``. Errors are
    :class:`RepoError` naming the file and line, or the option, at fault.
    """
    variables = _variables(image, options, installed)
    steps: list[RepoToggle | Sequence[RepoConfig]] = []
    if image is not None and options.image_repos:
        steps.append(_image_repos(image, variables))
    for action in options.actions:
        if action.kind == "repo":
            steps.append((repo_from_url(action.value),))
        elif action.kind == "repo-file":
            steps.append(_host_repo_file(action.value, variables))
        else:
            steps.append(RepoToggle(action.kind == "enable", action.value))
    return tuple(_keys(config, image) for config in select_repos(steps))
