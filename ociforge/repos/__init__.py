"""rpm-md (yum/dnf) repositories: configuration, verified metadata, verified package downloads.

How ``append --install NAME`` uses it::

    repos = load_repos(image=files, options=RepoOptions(actions=[...], architecture="x86_64"),
                       installed=headers)            # .repo files, vars, image keys
    metadata = fetch_metadata(repos)                 # verified, cached, decompressed
    txn = ociforge.transaction.solve(installed=headers, repos=metadata, install=["strace"],
                                     architecture="x86_64")
    packages = download(txn.installs, metadata)      # verified files + read headers

Pure modules: :mod:`.config` (``.repo`` INI, variables, enable/disable), :mod:`.mirrors`
(metalink, mirrorlist), :mod:`.repomd` (``repomd.xml``), :mod:`.metadata` (the values passed
between steps). I/O: :mod:`.load` (reads the image through :class:`ImageFiles` and the
user's files), :mod:`.client` (HTTP/file access with TLS, proxies and redirect rules),
:mod:`.fetch` and :mod:`.download`. The network half is imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .config import RepoConfig, RepoToggle, parse_repo_file, repo_from_url, select_repos
from .metadata import RepoMetadata, Repository

if TYPE_CHECKING:
    from .download import Downloaded, download
    from .fetch import fetch_metadata
    from .load import ImageFiles, MappingImageFiles, RepoAction, RepoOptions, load_repos
    from .options import FetchOptions, cache_directory

__all__ = [
    "Downloaded",
    "FetchOptions",
    "ImageFiles",
    "MappingImageFiles",
    "RepoAction",
    "RepoConfig",
    "RepoMetadata",
    "RepoOptions",
    "RepoToggle",
    "Repository",
    "cache_directory",
    "download",
    "fetch_metadata",
    "load_repos",
    "parse_repo_file",
    "repo_from_url",
    "select_repos",
]

_LAZY = {
    "Downloaded": ".download",
    "download": ".download",
    "FetchOptions": ".options",
    "cache_directory": ".options",
    "fetch_metadata": ".fetch",
    "ImageFiles": ".load",
    "MappingImageFiles": ".load",
    "RepoAction": ".load",
    "RepoOptions": ".load",
    "load_repos": ".load",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)
