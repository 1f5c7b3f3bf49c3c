"""Where a package to install comes from: a repository (to download, verified) or a local file."""

from __future__ import annotations

from dataclasses import dataclass

from .repomd import Checksum

__all__ = ["LocalOrigin", "RepoOrigin"]


@dataclass(frozen=True, slots=True)
class RepoOrigin:
    """A package to download: repository id, ``location href`` and the checksum to verify."""

    repo: str
    href: str
    checksum: Checksum
    size: int | None = None

    def __str__(self) -> str:
        return self.repo


@dataclass(frozen=True, slots=True)
class LocalOrigin:
    """A package given as a local file."""

    path: str

    def __str__(self) -> str:
        return self.path
