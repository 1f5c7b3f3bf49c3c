"""A repository once configured (:class:`Repository`) and once fetched (:class:`RepoMetadata`).

Pure values, so the resolver (:mod:`ociforge.transaction`) can take them without loading
any network code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..rpm.signature import PublicKey
from .config import RepoConfig
from .repomd import Repomd

__all__ = ["RepoMetadata", "Repository"]


@dataclass(frozen=True, slots=True)
class Repository:
    """An enabled repository and the OpenPGP keys read for it from the image.

    ``keys`` come from ``gpgkey=file://`` URLs, read from the *image* (never the host);
    ``https://`` keys are fetched with the metadata.
    """

    config: RepoConfig
    keys: tuple[PublicKey, ...] = field(default=(), repr=False)

    @property
    def id(self) -> str:
        """The repository id."""
        return self.config.id


@dataclass(frozen=True, slots=True)
class RepoMetadata:
    """A repository whose ``repomd.xml`` was verified and whose metadata sits decompressed on disk.

    ``baseurls`` are the mirrors to download packages from, the one that served
    ``repomd.xml`` first. ``primary`` and ``filelists`` are paths of verified, decompressed
    XML files in the cache (``filelists`` may be None when the repository has none).
    ``keys`` are every key the repository trusts (image files and fetched URLs).
    """

    repository: Repository
    baseurls: tuple[str, ...]
    repomd: Repomd
    primary: str
    filelists: str | None
    keys: tuple[PublicKey, ...] = field(default=(), repr=False)
    notes: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        """The repository id."""
        return self.repository.config.id

    @property
    def config(self) -> RepoConfig:
        """The repository's configuration."""
        return self.repository.config
