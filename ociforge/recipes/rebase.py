"""Rebase a derived image and fix what its layers copied from the old base: rpmdb, accounts.

Restacking (:func:`~ociforge.mutate.rebase.restack`) carries the added layers byte for byte,
which is right for what they add but wrong for a *whole-file copy* of a file the base owns:
an ``append --rpm`` layer ships the old base's rpmdb plus its packages, and the old base's
``/etc/passwd`` plus its users. On a new base those copies would undo every change the new
base made to them. So the three trees are compared (the added layers alone, the old base, the
new base; layers read as streams, only the files compared kept, nothing unpacked to disk) and
the result gets **one small fix-up layer on top**:

- the rpmdb: the new base's database with the packages the derived image added or replaced
  (their installed headers copied as they are, install-time tags included) in place of the new
  base's packages of those names; those packages are first re-checked against the new base
  (downgrade, Obsoletes, Conflicts);
- account files: the entries the derived image added or changed, merged into the new base's
  files; a uid/gid clash is an error;
- whiteouts for files of the new base's version of a replaced package that the derived version
  does not ship (what installing over the new base would remove), and the new base's own
  copies of files the derived layers deleted only because the old base's package owned them.

A fix-up layer rather than a rewrite of the added layer that holds the copy: the added layers
stay byte-identical (a registry already holding them skips or mounts them, and their digests,
history and signatures keep meaning what they meant), and rewriting a layer would mean
decompressing and recompressing all of it for a file of a few megabytes. The price is the
stale copy still stored, hidden, in the layer below.

Any other file the added layers overwrite that the new base changed is reported as a warning
(with ``strict``, an error): the derived version wins, which may or may not be what the user
meant; so is an added directory where the new base now has a symlink. Restored files keep the
new base's owner, mode and mtime but not its extended attributes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from .. import mediatypes as mt
from .._env import build_time
from ..errors import PolicyError
from ..image import Image
from ..layer import Layer
from ..mutate import HistoryEntry, append_layers
from ..mutate.rebase import RebasePlan, plan_rebase, restack
from ..ostree.accountmerge import ACCOUNT_FILES, id_map, merge_account_file
from ..rpm.dbmerge import PackageDelta, merge_rpmdb, package_delta
from ..rpm.files import file_list
from ..rpm.inject import BASE_FILES, find_rpmdb
from ..rpm.recheck import recheck_packages
from ..rpm.rpmdb import InstalledPackage, Rpmdb, db_byteorder
from ..tar.build import LayerBuilder
from ..tar.flatten import FlatTree, flatten_image, flatten_layers, wanted_paths
from ..tar.header import REG, SYM, TarHeader
from ..tar.tree import TreeEntry
from . import Derived

__all__ = ["Fixup", "PackageChanges", "package_changes", "plan_fixup", "rebase_content"]

#: Account files that belong together: a change to one may clash with an entry added to another.
_FAMILIES = (
    ("/etc/passwd", "/usr/lib/passwd", "/etc/shadow"),
    ("/etc/group", "/usr/lib/group", "/etc/gshadow"),
)


@dataclass(frozen=True, slots=True)
class PackageChanges:
    """What the added layers did to the old base's packages, read from the two rpmdbs."""

    db_path: str = ""
    old_db: bytes | None = None
    delta: PackageDelta = field(default_factory=lambda: PackageDelta((), ()))
    old_identities: frozenset[bytes] = frozenset()

    def restorable(self) -> list[str]:
        """Files of old-base packages the derived image dropped: the new base may own some."""
        return list(_plain_files(self.delta.removed))


@dataclass(slots=True)
class Fixup:
    """What goes into the fix-up layer, and what to tell the user."""

    files: dict[str, tuple[TreeEntry, bytes]] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _text(tree: FlatTree, path: str) -> str:
    raw = tree.read(path)
    return raw.decode("utf-8", "surrogateescape") if raw is not None else ""


def _unchanged(path: str, old: FlatTree, new: FlatTree) -> bool:
    a, b = old.entry(path), new.entry(path)
    if a is None or b is None:
        return a is b
    if (a.kind, a.mode, a.uid, a.gid, a.linkname) != (b.kind, b.mode, b.uid, b.gid, b.linkname):
        return False
    return a.kind != "file" or (a.size == b.size and old.read(path) == new.read(path))


def _entry_for(path: str, new: FlatTree, added: FlatTree) -> TreeEntry:
    """Owner and mode for a rewritten file: the new base's, as installing there would keep."""
    entry = new.entry(path)
    if entry is None or entry.kind != "file":
        entry = added.entries.get(path) or TreeEntry("file", mode=0o644)
    return dataclasses.replace(entry, mtime=0)


def _packages(data: bytes | None, what: str, architecture: str) -> list[InstalledPackage]:
    if data is None:
        return []
    with Rpmdb(data, what=what, byteorder=db_byteorder(architecture)) as db:
        return db.packages()


def _paths(packages: Iterable[InstalledPackage]) -> set[str]:
    return {f.path for p in packages for f in file_list(p.header)}


def _plain_files(packages: Iterable[InstalledPackage]) -> Iterator[str]:
    for package in packages:
        for f in file_list(package.header):
            if not f.is_dir and not f.is_ghost:
                yield f.path


def package_changes(added: FlatTree, old: FlatTree, *, architecture: str) -> PackageChanges:
    """Compare the rpmdb the added layers carry with the old base's (none: nothing changed)."""
    old_dir, old_db = find_rpmdb(old)
    derived_path = f"{old_dir}/rpmdb.sqlite"
    if derived_path not in added.entries:
        return PackageChanges(old_db=old_db)
    old_packages = _packages(old_db, f"old base {derived_path}", architecture)
    derived = _packages(added.read(derived_path), f"derived {derived_path}", architecture)
    return PackageChanges(
        derived_path,
        old_db,
        package_delta(old_packages, derived),
        frozenset(p.identity for p in old_packages),
    )


def plan_fixup(
    changes: PackageChanges,
    added: FlatTree,
    old: FlatTree,
    new: FlatTree,
    *,
    architecture: str,
    allow_downgrade: bool = False,
) -> Fixup:
    """The fix-up layer's content for moving ``added`` from ``old`` onto ``new`` (no I/O).

    ``added`` is the flattened added layers alone, ``old`` and ``new`` the two bases with the
    files the comparison needs captured. Raises :class:`PolicyError` when an added package
    cannot go onto the new base or an added account clashes.
    """
    fixup = Fixup()
    new_packages = _merge_rpmdb(fixup, changes, added, new, architecture, allow_downgrade)
    _merge_accounts(fixup, added, old, new)
    _warn_stale(fixup, changes, added, old, new)
    delta = changes.delta
    gone = [p for p in new_packages if p.name in delta.names]
    if gone or delta.removed:
        kept = [p for p in new_packages if p.name not in delta.names]
        owned = _paths(kept) | _paths(delta.added)
        visible = added.over(new)
        _whiteouts(fixup, gone, owned, added, visible)
        _restores(fixup, delta, owned, added, new, visible)
    return fixup


def _merge_rpmdb(
    fixup: Fixup,
    changes: PackageChanges,
    added: FlatTree,
    new: FlatTree,
    architecture: str,
    allow_downgrade: bool,
) -> list[InstalledPackage]:
    """Re-check the added packages and merge the rpmdb when the new base's differs."""
    if not changes.db_path:
        return []
    new_dir, new_db = find_rpmdb(new)
    path = f"{new_dir}/rpmdb.sqlite"
    new_packages = _packages(new_db, f"new base {path}", architecture)
    recheck_packages(
        changes.delta.added,
        new_packages,
        old_base=changes.old_identities,
        allow_downgrade=allow_downgrade,
    )
    fixup.packages = [p.nevra for p in changes.delta.added]
    if new_db == changes.old_db and path == changes.db_path:
        return new_packages  # the derived copy is already the new base's database plus its own
    with Rpmdb(new_db, what=f"new base {path}", byteorder=db_byteorder(architecture)) as db:
        gone = merge_rpmdb(db, changes.delta)
        data = db.finish()
    fixup.files[path] = (_entry_for(path, new, added), data)
    fixup.notes.extend(f"{p.nevra} of the new base replaced" for p in gone)
    return new_packages


def _merge_accounts(fixup: Fixup, added: FlatTree, old: FlatTree, new: FlatTree) -> None:
    """Merge the account files the derived layers carry whose family the new base changed."""
    for family in _FAMILIES:
        if not any(p in added.entries for p in family):
            continue
        if all(_unchanged(p, old, new) for p in family):
            continue
        ids = id_map([_text(new, p) for p in family[:2]])
        for path in family:
            if path not in added.entries:
                continue
            derived = _text(added, path)
            merged = merge_account_file(
                ACCOUNT_FILES[path],
                old=_text(old, path),
                derived=derived,
                new=_text(new, path),
                ids=ids,
                path=path,
            )
            if merged != derived:
                data = merged.encode("utf-8", "surrogateescape")
                fixup.files[path] = (_entry_for(path, new, added), data)


def _warn_stale(
    fixup: Fixup, changes: PackageChanges, added: FlatTree, old: FlatTree, new: FlatTree
) -> None:
    """Warn about other copies of base files the new base changed, and hidden symlinks."""
    handled = {changes.db_path, *ACCOUNT_FILES}
    for path, entry in sorted(added.entries.items()):
        before, after = old.entry(path), new.entry(path)
        if before is None or path in handled:
            continue
        if entry.kind == "dir":
            if before.kind == "dir" and after is not None and after.kind == "symlink":
                fixup.warnings.append(
                    f"{path}: the derived layers make this a directory; the new base has a"
                    f" symlink to {after.linkname} here, which they hide"
                )
        elif before.kind != "dir" and not _unchanged(path, old, new):
            fixup.warnings.append(
                f"{path}: the derived layers overwrite this file of the old base, which the"
                " new base changed; the derived version is kept"
            )


def _whiteouts(
    fixup: Fixup,
    gone: Sequence[InstalledPackage],
    owned: set[str],
    added: FlatTree,
    visible: FlatTree,
) -> None:
    """Remove files of replaced new-base packages that no remaining package ships."""
    for path in sorted(set(_plain_files(gone))):
        if path in owned or path in added.entries or visible.entry(path) is None:
            continue
        fixup.removed.append(path)


def _restores(
    fixup: Fixup,
    delta: PackageDelta,
    owned: set[str],
    added: FlatTree,
    new: FlatTree,
    visible: FlatTree,
) -> None:
    """Bring back new-base files the derived layers deleted for an old-base package only."""
    for path in sorted(set(_plain_files(delta.removed))):
        entry = new.entry(path)
        if path not in owned or path in added.entries or visible.entry(path) is not None:
            continue
        if entry is None or entry.kind == "dir":
            continue
        data = new.read(path) if entry.kind == "file" else b""
        if entry.kind not in ("file", "symlink") or data is None:
            fixup.warnings.append(f"{path}: deleted by the derived layers, not restored")
            continue
        fixup.files[path] = (entry, data)
        fixup.notes.append(f"{path}: restored (a package of the new base owns it)")


def _fixup_layer(fixup: Fixup, *, compression: mt.Compression, docker: bool) -> Layer:
    """The fix-up layer: rewritten and restored files, then whiteouts; no parent entries."""
    builder = LayerBuilder(compression=compression, docker=docker, parents=False)
    try:
        for path, (entry, data) in sorted(fixup.files.items()):
            name = path.lstrip("/")
            if entry.kind == "symlink":
                header = TarHeader(name, SYM, mode=0o777, linkname=entry.linkname)
            else:
                header = TarHeader(name, REG, mode=entry.mode & 0o7777, size=len(data))
            # Restored files keep the new base's mtime, so `rpm -V` agrees; rewritten ones have 0.
            header = header.evolve(uid=entry.uid, gid=entry.gid, mtime=entry.mtime)
            builder.add_entry(header, data if header.is_file else None, clamp_mtime=False)
        for path in fixup.removed:
            builder.add_whiteout(path)
        return builder.build()
    except BaseException:
        builder.close()
        raise


def rebase_content(
    derived: Image,
    *,
    old_base: Image,
    new_base: Image,
    strict: bool = False,
    allow_downgrade: bool = False,
    compression: mt.Compression = "gzip",
    created_by: str = "",
    created: _dt.datetime | None = None,
    verify: bool = True,
) -> Derived:
    """``derived`` moved from ``old_base`` onto ``new_base``, as if derived from it directly.

    The added layers are restacked as :func:`~ociforge.mutate.rebase.restack` does; when they
    carry copies of base files the new base changed (rpmdb, account files), one fix-up layer
    on top holds the merged versions (see the module docs). Raises
    :class:`~ociforge.errors.PolicyError` before anything is built when ``old_base`` is not a
    prefix of ``derived``, an added package would downgrade a package the new base updated
    (unless ``allow_downgrade``), is obsoleted by or conflicts with a new-base package, or an
    added account clashes; with ``strict``, also for any other stale overwrite (otherwise a
    warning). ``created`` defaults to ``SOURCE_DATE_EPOCH`` or now. ``verify=False`` skips
    hashing the new base's and the added layers while reading them, for callers whose sink
    verifies every blob it copies (the old base, which is not part of the result, is always
    verified).
    """
    when = created or build_time()
    plan = plan_rebase(derived, old_base=old_base)
    restacked = restack(plan, new_base, created=when)
    with contextlib.ExitStack() as stack:
        fixup = _compare(plan, old_base, new_base, stack, allow_downgrade, verify)
    if fixup is None:
        return Derived(image=restacked)
    if strict and fixup.warnings:
        raise PolicyError(f"--strict: {fixup.warnings[0]}")
    image, layer = restacked, None
    if fixup.files or fixup.removed:
        built = _fixup_layer(
            fixup, compression=compression, docker=mt.is_docker(new_base.media_type)
        )
        paths = sorted(fixup.files)
        what = ", ".join(paths[:5] + ([f"{len(paths) - 5} more"] if len(paths) > 5 else []))
        if fixup.removed:
            what += f"{', ' if what else ''}{len(fixup.removed)} removed"
        entry = HistoryEntry(created_by=created_by or f"ociforge rebase: {what}")
        image = append_layers(restacked, [built], history=[entry], created=when)
        layer = image.layers[-1]
    return Derived(
        image=image,
        layer=layer,
        notes=tuple(fixup.notes),
        warnings=tuple(fixup.warnings),
        packages=tuple(fixup.packages),
        rewritten=tuple(sorted(fixup.files)),
        deleted=tuple(fixup.removed),
    )


def _compare(
    plan: RebasePlan,
    old_base: Image,
    new_base: Image,
    stack: contextlib.ExitStack,
    allow_downgrade: bool,
    verify: bool,
) -> Fixup | None:
    """Flatten the three trees (each read once) and plan the fix-up; None if nothing was added."""
    added = flatten_layers(plan.added, wanted=wanted_paths(BASE_FILES), verify=verify)
    stack.callback(added.close)
    if not added.entries:
        return None
    candidates = [p for p, e in added.entries.items() if e.kind != "dir"]
    old = flatten_image(old_base, wanted=wanted_paths([*BASE_FILES, *candidates]))
    stack.callback(old.close)
    arch = new_base.config.architecture
    changes = package_changes(added, old, architecture=arch)
    wanted = wanted_paths([*BASE_FILES, *candidates, *changes.restorable()])
    new = flatten_image(new_base, wanted=wanted, verify=verify)
    stack.callback(new.close)
    return plan_fixup(changes, added, old, new, architecture=arch, allow_downgrade=allow_downgrade)
