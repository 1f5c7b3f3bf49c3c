"""How repository data is fetched: where it is cached, how it is retried, how big it may be."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from ..registry.options import RetryPolicy

__all__ = ["MAX_METADATA_BYTES", "FetchOptions", "cache_directory"]

#: Largest decompressed metadata file accepted when repomd.xml gives no open-size for it.
MAX_METADATA_BYTES: Final = 4 * 1024**3


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchOptions:
    """Where to cache, how to retry, how many downloads at once, and the metadata bound.

    ``note`` receives one line per thing worth telling the user (a repository skipped by
    ``skip_if_unavailable``, a package not signature-checked); None drops them.
    """

    cache_dir: str | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    jobs: int = 4
    max_metadata_size: int = MAX_METADATA_BYTES
    note: Callable[[str], None] | None = field(default=None, compare=False)

    def tell(self, message: str) -> None:
        """Pass a note on."""
        if self.note is not None:
            self.note(message)

    @property
    def directory(self) -> str:
        """The cache root."""
        return self.cache_dir or cache_directory()


def cache_directory() -> str:
    """``$XDG_CACHE_HOME/ociforge/repos``, ``~/.cache/ociforge/repos`` without it."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "ociforge", "repos")
