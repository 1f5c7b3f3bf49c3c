"""Pure OCI whiteout rules: which member names delete lower content, and how to name deletions.

``dir/.wh.NAME`` deletes ``dir/NAME`` from the layers below; ``dir/.wh..wh..opq`` hides
everything below in ``dir``. Names that would make a whiteout reach outside its directory
(``.wh.``, ``.wh..``, ``.wh...``) or use a whiteout as a directory (``.wh.../x``) are refused,
because implementations that strip the prefix from the whole path turn them into ``..``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import UnsafePath
from .names import OPAQUE_MARKER, WHITEOUT_PREFIX, Parts, join

__all__ = ["Whiteout", "classify", "is_whiteout_name", "opaque_parts", "whiteout_parts"]

#: aufs keeps its own bookkeeping under ``.wh..wh.*`` (``.wh..wh.plnk``…); it means nothing here.
_AUFS_META = WHITEOUT_PREFIX + WHITEOUT_PREFIX


@dataclass(frozen=True, slots=True)
class Whiteout:
    """A whiteout entry: delete ``directory/name``, or (opaque) hide all of ``directory``.

    ``kind`` is ``"meta"`` for aufs bookkeeping names, which are skipped.
    """

    directory: Parts
    name: str
    kind: Literal["file", "opaque", "meta"]

    @property
    def target(self) -> Parts:
        """The path deleted (the directory itself for an opaque whiteout)."""
        return (*self.directory, self.name) if self.kind == "file" else self.directory


def is_whiteout_name(component: str) -> bool:
    """True if a file of this name would be read as a whiteout, so it cannot be stored as one."""
    return component.startswith(WHITEOUT_PREFIX)


def classify(parts: Parts, *, what: str = "tar entry") -> Whiteout | None:
    """The whiteout a member path stands for, or ``None`` for ordinary content."""
    for component in parts[:-1]:
        if is_whiteout_name(component):
            raise UnsafePath(f"{what} {join(parts)!r}: a whiteout name used as a directory")
    if not parts or not is_whiteout_name(parts[-1]):
        return None
    last = parts[-1]
    if last == OPAQUE_MARKER:
        return Whiteout(parts[:-1], "", "opaque")
    if last.startswith(_AUFS_META):
        return Whiteout(parts[:-1], last, "meta")
    name = last[len(WHITEOUT_PREFIX) :]
    if name in ("", ".", ".."):
        raise UnsafePath(f"{what} {join(parts)!r}: whiteout without a valid target name")
    return Whiteout(parts[:-1], name, "file")


def whiteout_parts(target: Parts) -> Parts:
    """The member path that deletes ``target``."""
    if not target:
        raise UnsafePath("the root directory cannot be whited out")
    return (*target[:-1], WHITEOUT_PREFIX + target[-1])


def opaque_parts(directory: Parts) -> Parts:
    """The member path that hides everything below ``directory`` in lower layers."""
    return (*directory, OPAQUE_MARKER)
