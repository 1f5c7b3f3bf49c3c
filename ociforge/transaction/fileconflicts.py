"""File conflicts as rpm's transaction check finds them, between installed and incoming packages.

The rules are rpm's (``rpmfilesCompare``, ``handleInstInstalledFile``, ``handleColorConflict``
in ``lib/rpmfi.cc`` and ``lib/transaction.cc``). Two packages may own one path only if the
entries agree: same mode (type and permission bits; symlinks excepted), same owner and group,
and for regular files and symlinks the same size and digest or link target. ``%ghost``
entries never conflict. Directories are held to the same rule: rpm 4.18 refuses two packages
whose ``%dir`` entries differ in mode or owner (measured), so this does too.

File colours resolve ELF clashes on multilib systems: with the transaction colour of the
image's architecture (3 on x86_64, aarch64, ppc64le, s390x; 0 elsewhere) and the preferred
colour 2, a 64-bit ELF (colour 2) beats a 32-bit one (colour 1) and neither is a conflict.
Files an installed package records as not installed (``%lang``, ``--excludedocs``) and every
file of packages being erased, replaced or obsoleted do not count.
"""

from __future__ import annotations

import stat
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from ..errors import FileConflictError
from ..rpm.files import RpmFile, file_list
from ..rpm.header import Header
from ..rpm.tags import FileState, Tag

__all__ = ["FileConflict", "check_file_conflicts", "find_file_conflicts", "transaction_color"]

_MULTILIB: Final = frozenset(
    {"x86_64", "amd64", "aarch64", "arm64", "ppc64le", "ppc64", "s390x", "sparc64"}
)
#: ``%_prefer_color``: rpm's default when the macro is unset, ELF64.
PREFERRED_COLOR: Final = 2


def transaction_color(architecture: str) -> int:
    """``%_transaction_color`` of rpm's platform macros for ``architecture``."""
    return 3 if architecture in _MULTILIB else 0


@dataclass(frozen=True, slots=True)
class FileConflict:
    """Two packages that want one path with different entries."""

    path: str
    package: str
    other: str
    other_installed: bool
    difference: str

    def __str__(self) -> str:
        if self.other_installed:
            return (
                f"file {self.path} from install of {self.package} conflicts with file from"
                f" package {self.other} ({self.difference})"
            )
        return (
            f"file {self.path} conflicts between attempted installs of {self.other} and"
            f" {self.package} ({self.difference})"
        )


@dataclass(frozen=True, slots=True)
class _Entry:
    package: str
    file: RpmFile
    color: int
    installed: bool


def _nevra(header: Header) -> str:
    epoch = header.integer(Tag.EPOCH)
    head = f"{epoch}:" if epoch else ""
    return (
        f"{header.string(Tag.NAME)}-{head}{header.string(Tag.VERSION)}-"
        f"{header.string(Tag.RELEASE)}.{header.string(Tag.ARCH) or 'noarch'}"
    )


def _entries(header: Header, *, installed: bool, tscolor: int) -> Iterator[_Entry]:
    files = file_list(header)
    colors = header.integers(Tag.FILECOLORS)
    states = header.integers(Tag.FILESTATES) if installed else ()
    if len(colors) != len(files):
        colors = (0,) * len(files)
    name = _nevra(header)
    for i, entry in enumerate(files):
        if i < len(states) and states[i] == FileState.NOTINSTALLED:
            continue
        color = colors[i]
        if tscolor and color and not color & tscolor:
            continue  # "not in our rainbow": rpm never installs it
        yield _Entry(name, entry, color, installed)


def _difference(a: RpmFile, b: RpmFile) -> str | None:
    """Why two entries for one path conflict, or None when rpm lets them share it."""
    if a.is_ghost or b.is_ghost:
        return None
    both_links = a.is_symlink and b.is_symlink
    if not both_links and a.mode != b.mode:
        if stat.S_IFMT(a.mode) != stat.S_IFMT(b.mode):
            return "different file types"
        return f"mode {a.permissions:04o} vs {b.permissions:04o}"
    if (a.is_regular or a.is_symlink) and a.size != b.size:
        return "different content"
    if (a.user, a.group) != (b.user, b.group):
        return f"owner {a.user}:{a.group} vs {b.user}:{b.group}"
    if a.is_symlink and a.linkto != b.linkto:
        return "different link targets"
    if a.is_regular and a.digest != b.digest:
        return "different content"
    return None


def _color_resolves(new: _Entry, old: _Entry, tscolor: int) -> bool:
    if not tscolor:
        return False
    ncolor, ocolor = new.color & tscolor, old.color & tscolor
    if not ncolor or not ocolor or ncolor == ocolor:
        return False
    return bool(ncolor & PREFERRED_COLOR or ocolor & PREFERRED_COLOR)


def find_file_conflicts(
    *,
    installed: Sequence[Header],
    incoming: Sequence[Header],
    erased: Collection[int] = (),
    architecture: str,
) -> tuple[FileConflict, ...]:
    """Every conflict rpm would report when installing ``incoming`` over ``installed``.

    ``erased`` are indexes into ``installed`` of packages the transaction removes
    (:attr:`~ociforge.transaction.solve.Erase.index`); their files are not compared.
    Incoming packages are compared with the installed ones and with each other, in order.
    """
    tscolor = transaction_color(architecture)
    claimed: dict[str, list[_Entry]] = {}
    new_entries = [list(_entries(h, installed=False, tscolor=tscolor)) for h in incoming]
    wanted = {entry.file.path for entries in new_entries for entry in entries}
    for index, header in enumerate(installed):
        if index in erased or header.string(Tag.NAME) == "gpg-pubkey":
            continue
        for entry in _entries(header, installed=True, tscolor=tscolor):
            if entry.file.path in wanted:
                claimed.setdefault(entry.file.path, []).append(entry)
    conflicts: list[FileConflict] = []
    for entries in new_entries:
        for entry in entries:
            owners = claimed.setdefault(entry.file.path, [])
            for other in owners:
                difference = _difference(other.file, entry.file)
                if difference is None or _color_resolves(entry, other, tscolor):
                    continue
                conflicts.append(
                    FileConflict(
                        entry.file.path, entry.package, other.package, other.installed, difference
                    )
                )
            owners.append(entry)
    return tuple(conflicts)


def check_file_conflicts(
    *,
    installed: Sequence[Header],
    incoming: Sequence[Header],
    erased: Collection[int] = (),
    architecture: str,
) -> None:
    """Raise :class:`FileConflictError` naming both packages and the path of the first conflict.

    The message also counts the others, so one line still says how much is wrong.
    """
    conflicts = find_file_conflicts(
        installed=installed, incoming=incoming, erased=erased, architecture=architecture
    )
    if conflicts:
        more = f" (and {len(conflicts) - 1} more conflicts)" if len(conflicts) > 1 else ""
        raise FileConflictError(f"{conflicts[0]}{more}")
