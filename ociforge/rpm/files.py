"""An RPM's file list from its header arrays: paths, modes, owners, flags, digests, hardlinks."""

from __future__ import annotations

import stat
from dataclasses import dataclass
from typing import Final

from ..errors import RpmError
from .header import Header
from .tags import FileFlag, Tag

__all__ = ["DIGEST_ALGORITHMS", "RpmFile", "digest_algorithm", "file_list", "hardlink_sets"]

#: FILEDIGESTALGO values (``include/rpm/rpmcrypto.h``) to hashlib names; absent means MD5.
DIGEST_ALGORITHMS: Final = {1: "md5", 2: "sha1", 8: "sha256", 9: "sha384", 10: "sha512"}


@dataclass(frozen=True, slots=True)
class RpmFile:
    """One file as the header describes it; ``path`` is absolute and normalised."""

    index: int
    path: str
    mode: int
    size: int
    mtime: int
    user: str
    group: str
    flags: FileFlag
    linkto: str
    digest: str
    rdev: int
    device: int
    inode: int
    caps: str
    lang: str

    @property
    def is_dir(self) -> bool:
        """A directory."""
        return stat.S_ISDIR(self.mode)

    @property
    def is_symlink(self) -> bool:
        """A symbolic link (``linkto`` is its target)."""
        return stat.S_ISLNK(self.mode)

    @property
    def is_regular(self) -> bool:
        """A regular file."""
        return stat.S_ISREG(self.mode)

    @property
    def is_ghost(self) -> bool:
        """``%ghost``: recorded in the rpmdb, never in the payload, never created."""
        return bool(self.flags & FileFlag.GHOST)

    @property
    def is_config(self) -> bool:
        """``%config``."""
        return bool(self.flags & FileFlag.CONFIG)

    @property
    def permissions(self) -> int:
        """The mode's permission bits (``0o7777``)."""
        return stat.S_IMODE(self.mode)


def digest_algorithm(header: Header) -> str:
    """The hashlib name of the algorithm of FILEDIGESTS."""
    code = header.integer(Tag.FILEDIGESTALGO, 1)
    try:
        return DIGEST_ALGORITHMS[code or 1]
    except KeyError:
        raise RpmError(f"{header.what}: unknown file digest algorithm {code}") from None


def _normal_dir(dirname: str, what: str) -> str:
    if not dirname.startswith("/"):
        raise RpmError(f"{what}: directory name {dirname!r} is not absolute")
    parts = [p for p in dirname.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise RpmError(f"{what}: directory name {dirname!r} leaves the root (..)")
    return "/" + "/".join(parts) + ("/" if parts else "")


def file_list(header: Header) -> tuple[RpmFile, ...]:
    """Every file of the package, in header order, with each array's length checked."""
    what = header.what
    basenames = header.strings(Tag.BASENAMES)
    n = len(basenames)
    if n == 0:
        return ()
    dirnames = [_normal_dir(d, what) for d in header.strings(Tag.DIRNAMES)]
    dirindexes = header.integers(Tag.DIRINDEXES)

    def check(tag: Tag, count: int) -> None:
        if count != n:
            raise RpmError(f"{what}: {tag.name} has {count} entries for {n} files")

    def ints(tag: Tag, default: int | None = None) -> tuple[int, ...]:
        values = header.integers(tag)
        if not values and default is not None:
            return (default,) * n
        check(tag, len(values))
        return values

    def strs(tag: Tag, default: str | None = None) -> tuple[str, ...]:
        values = header.strings(tag)
        if not values and default is not None:
            return (default,) * n
        check(tag, len(values))
        return values

    long_sizes = Tag.LONGFILESIZES in header
    sizes = ints(Tag.LONGFILESIZES if long_sizes else Tag.FILESIZES)
    modes, mtimes, flags = ints(Tag.FILEMODES), ints(Tag.FILEMTIMES, 0), ints(Tag.FILEFLAGS, 0)
    users, groups = strs(Tag.FILEUSERNAME), strs(Tag.FILEGROUPNAME)
    links, digests = strs(Tag.FILELINKTOS, ""), strs(Tag.FILEDIGESTS, "")
    rdevs, devices, inodes = (
        ints(Tag.FILERDEVS, 0),
        ints(Tag.FILEDEVICES, 1),
        ints(Tag.FILEINODES, 0),
    )
    caps, langs = strs(Tag.FILECAPS, ""), strs(Tag.FILELANGS, "")
    check(Tag.DIRINDEXES, len(dirindexes))
    files = []
    for i, base in enumerate(basenames):
        if not base or "/" in base or base in (".", ".."):
            raise RpmError(f"{what}: invalid file name {base!r}")
        dx = dirindexes[i]
        if not 0 <= dx < len(dirnames):
            raise RpmError(f"{what}: DIRINDEXES entry {dx} has no directory")
        files.append(
            RpmFile(
                index=i,
                path=dirnames[dx] + base,
                mode=modes[i],
                size=sizes[i],
                mtime=mtimes[i],
                user=users[i],
                group=groups[i],
                flags=FileFlag(flags[i]),
                linkto=links[i],
                digest=digests[i].lower(),
                rdev=rdevs[i],
                device=devices[i],
                inode=inodes[i],
                caps=caps[i],
                lang=langs[i],
            )
        )
    return tuple(files)


def hardlink_sets(files: tuple[RpmFile, ...]) -> dict[int, tuple[int, ...]]:
    """File index → the indexes of its hardlink set (regular, non-ghost, same dev/inode).

    Only sets of two or more appear. As in ``rpmfilesBuildNLink``, the payload carries the
    data on the set's last member.
    """
    groups: dict[tuple[int, int], list[int]] = {}
    for f in files:
        if f.is_regular and not f.is_ghost:
            groups.setdefault((f.device, f.inode), []).append(f.index)
    out: dict[int, tuple[int, ...]] = {}
    for members in groups.values():
        if len(members) > 1:
            for index in members:
                out[index] = tuple(members)
    return out
