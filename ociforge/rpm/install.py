"""One package's payload into the layer being built: placement, owners, capabilities, states.

Each file is placed by the ostree rules (:func:`~ociforge.ostree.paths.place`), owned by the
base's accounts (or the ones packages create), and streamed from the payload into the layer,
every digest checked on the way. What would be recreated at boot becomes ``tmpfiles.d`` lines;
the per-file states the rpmdb records follow what was actually laid out. Small files under the
systemd and alternatives directories, and the account files, are also kept in
:attr:`PackageWriter.tree`, so presets, alternatives and Ignition see what this layer ships.
"""

from __future__ import annotations

import stat
from typing import TYPE_CHECKING, Final

from ..errors import PolicyError, UnsupportedError
from ..ostree.accounts import GROUP_FILES, PASSWD_FILES, Accounts
from ..ostree.paths import Placement, place
from ..ostree.presets import PRESET_DIRS
from ..ostree.units import UNIT_PATHS
from ..ostree.view import MemoryTree
from ..streams import Readable
from ..tar.header import DIR, LNK, REG, SYM, TarHeader
from .caps import XATTR, encode_caps
from .files import RpmFile
from .payload import iter_payload
from .tags import FileState

if TYPE_CHECKING:
    from ..tar.flatten import FlatTree
    from .inject import EntrySink, InjectOptions, InjectReport, Plan

__all__ = ["CAPTURED", "PackageWriter"]

_SETID: Final = stat.S_ISUID | stat.S_ISGID
#: Directories whose files later steps read (units, presets, alternatives state).
CAPTURED: Final = (
    *UNIT_PATHS["system"],
    *UNIT_PATHS["user"],
    *PRESET_DIRS["system"],
    *PRESET_DIRS["user"],
    "/etc/alternatives",
    "/usr/lib/alternatives",
    "/etc/alternatives-admindir",
    "/var/lib/alternatives",
)
_CAPTURE_LIMIT: Final = 1 << 20
_PREFIXES: Final = tuple(d + "/" for d in CAPTURED)
_EXACT: Final = frozenset({*PASSWD_FILES, *GROUP_FILES})


def _tmpfiles_line(file: RpmFile, path: str, user: str, group: str) -> str:
    if file.is_dir:
        return f"d {path} {file.permissions:04o} {user} {group} - -"
    if file.is_symlink:
        return f"L {path} - - - - {file.linkto}"
    return f"f {path} {file.permissions:04o} {user} {group} - -"


class PackageWriter:
    """Writes packages' files into ``sink`` over ``base``, recording what went where."""

    def __init__(
        self, base: FlatTree, sink: EntrySink, options: InjectOptions, report: InjectReport
    ) -> None:
        self.base = base
        self.sink = sink
        self.options = options
        self.report = report
        self.placed: dict[str, str] = {}
        self.tree = MemoryTree()
        passwd = [t.decode("utf-8", "replace") for p in PASSWD_FILES if (t := base.read(p))]
        group = [t.decode("utf-8", "replace") for p in GROUP_FILES if (t := base.read(p))]
        self.accounts = Accounts(passwd, group)

    def owner(self, file: RpmFile, what: str) -> tuple[int, int, int]:
        """uid, gid and mode for ``file``, from the accounts (rpm's root fallback if allowed)."""
        uid, gid = self.accounts.uid(file.user), self.accounts.gid(file.group)
        mode = file.permissions
        if uid is None or gid is None:
            missing = f"user {file.user}" if uid is None else f"group {file.group}"
            if not self.options.unknown_owner_root:
                raise PolicyError(
                    f"{what}: {file.path} belongs to {missing}, which the base image does not"
                    " have and no package creates; pass --unknown-owner-root for rpm's"
                    " fallback to root"
                )
            self.report.notes.append(f"{what}: {file.path}: {missing} unknown, using root")
            mode &= ~_SETID  # rpm drops set-id bits when it falls back to root
            uid, gid = uid or 0, gid or 0
        return uid, gid, mode

    def add(self, header: TarHeader, data: bytes | Readable | None, what: str) -> None:
        """Add one entry; a path two packages ship (other than a directory) is refused."""
        path = "/" + header.name
        if path in self.placed and not (header.is_dir and self.placed[path] == DIR):
            raise PolicyError(f"{what}: {path} is also installed by {self.placed[path]}")
        if path.startswith(_PREFIXES) or path in _EXACT:
            data = self._capture(path, header, data)
        # Package files keep the package's mtimes even under SOURCE_DATE_EPOCH (they are
        # already reproducible), so the rpmdb and `rpm -V` agree with the tree.
        self.sink.add_entry(header, data, clamp_mtime=False)
        self.placed[path] = DIR if header.is_dir else what

    def _capture(
        self, path: str, header: TarHeader, data: bytes | Readable | None
    ) -> bytes | Readable | None:
        if header.is_symlink:
            self.tree.links[path] = header.linkname
        elif header.is_dir:
            self.tree.directories.add(path)
        elif header.is_file and header.size <= _CAPTURE_LIMIT:
            raw = data if isinstance(data, bytes) else _read_all(data, header.size)
            self.tree.files[path] = raw
            return raw
        return data

    def install(self, plan: Plan) -> None:
        """Lay out ``plan``'s package: place every file, stream the payload, record states."""
        package = plan.package
        what = package.nevra
        placements: dict[int, Placement] = {}
        states = [FileState.NORMAL] * len(package.files)
        for f in package.files:
            if f.is_ghost:
                continue
            content = f.is_regular and f.size > 0
            placement = place(f.path, self.base, what=what, directory=f.is_dir, content=content)
            placements[f.index] = placement
            if placement.note:
                self.report.notes.append(f"{what}: {placement.note}")
            plan.tmpfiles.extend(placement.links)
            if placement.how == "tmpfiles":
                user, group = f.user, f.group
                if not f.is_symlink:
                    uid, gid, _mode = self.owner(f, what)  # checked like files in the layer
                    user = user if self.accounts.uid(user) == uid else "root"
                    group = group if self.accounts.gid(group) == gid else "root"
                plan.tmpfiles.append(_tmpfiles_line(f, placement.path, user, group))
                if f.is_regular and f.size:
                    states[f.index] = FileState.NOTINSTALLED
                    self.report.notes.append(
                        f"{what}: {f.path}: {f.size} bytes of content not carried (created empty)"
                    )
            elif placement.how == "dropped":
                states[f.index] = FileState.NOTINSTALLED
        by_path = {f.path: f for f in package.files}
        # The stream is where _open_packages left it: at the payload.
        for item in iter_payload(package, plan.stream):
            f = item.file
            placement = placements[f.index]
            if placement.how != "layer":
                continue
            uid, gid, mode = self.owner(f, what)
            name = placement.path.lstrip("/")
            proto = TarHeader(name, REG, mode=mode, uid=uid, gid=gid, mtime=f.mtime)
            if item.link:
                target = placements[by_path[item.link].index]
                if target.how != "layer":
                    raise UnsupportedError(f"{what}: hard link {f.path} to content not kept")
                link = target.path.lstrip("/")
                self.add(proto.evolve(type=LNK, linkname=link), None, what)
            elif f.is_dir:
                self.add(proto.evolve(type=DIR), None, what)
            elif f.is_symlink:
                self.add(proto.evolve(type=SYM, linkname=f.linkto, mode=0o777), None, what)
            elif f.is_regular:
                xattrs = {}
                if f.caps and (value := encode_caps(f.caps, what=f"{what}: {f.path}")):
                    xattrs[XATTR] = value
                self.add(proto.evolve(size=f.size, xattrs=xattrs), item.data, what)
            else:
                raise UnsupportedError(
                    f"{what}: {f.path} is a device or FIFO, which ostree cannot import"
                )
        plan.states = states

    def add_symlink(self, path: str, target: str) -> None:
        """Add a generated symlink (a preset's enable link, an alternatives link)."""
        header = TarHeader(path.lstrip("/"), SYM, mode=0o777, linkname=target)
        self.add(header, None, "ociforge")

    def keep_as(self, path: str, saved: str) -> None:
        """Write the base's ``path`` at ``saved`` (a modified ``%config`` file's ``.rpmsave``)."""
        entry = self.base.entry(path)
        data = self.base.read(path)
        if entry is None or data is None:
            return
        header = TarHeader(
            saved.lstrip("/"),
            REG,
            mode=entry.mode & 0o7777,
            uid=entry.uid,
            gid=entry.gid,
            size=len(data),
            mtime=entry.mtime,
        )
        self.add(header, data, "ociforge")

    def write_bytes(self, path: str, data: bytes | str, *, mode: int = 0o644) -> None:
        """Write a generated file (the base's owner and mode kept when it has one)."""
        if isinstance(data, str):
            data = data.encode()
        self.report.notes.append(f"wrote {path}")
        base = self.base.entry(path)
        uid, gid = (base.uid, base.gid) if base is not None else (0, 0)
        if base is not None and base.kind == "file":
            mode = base.mode & 0o7777
        header = TarHeader(path.lstrip("/"), REG, mode=mode, uid=uid, gid=gid, size=len(data))
        self.add(header, data, "ociforge")


def _read_all(data: Readable | None, size: int) -> bytes:
    if data is None:
        return b""
    raw = data.read(size)
    if len(raw) != size:
        raise UnsupportedError(f"payload file ended {size - len(raw)} bytes early")
    return raw
