"""Package transactions: what to install and erase, and whether the files fit together.

:func:`solve` (libsolv) turns the image's installed headers, fetched repositories and local
RPMs into a :class:`Transaction`: ordered installs, each with its origin and the reason it
is there, and erasures with theirs. After download, :func:`check_file_conflicts` applies
rpm's file-conflict rules to the incoming headers (pure code, :mod:`.fileconflicts`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .fileconflicts import FileConflict, check_file_conflicts, find_file_conflicts

if TYPE_CHECKING:
    from .solve import Erase, Install, LocalOrigin, Nevra, RepoOrigin, Transaction, solve

__all__ = [
    "Erase",
    "FileConflict",
    "Install",
    "LocalOrigin",
    "Nevra",
    "RepoOrigin",
    "Transaction",
    "check_file_conflicts",
    "find_file_conflicts",
    "solve",
]

_SOLVE = ("Erase", "Install", "LocalOrigin", "Nevra", "RepoOrigin", "Transaction", "solve")
_LAZY = dict.fromkeys(_SOLVE, ".solve")


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)
