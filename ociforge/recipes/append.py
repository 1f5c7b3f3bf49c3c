"""The ``append`` recipe: base + exactly one new layer of RPM packages, files and Ignition content.

The base is flattened (read, never written) only when packages or Ignition need to know what
it holds: accounts, the rpmdb, existing units. Everything then goes into one
:class:`~ociforge.tar.build.LayerBuilder`, packages first; the new layer is linted from the
entries the builder wrote (it is never read back), and the config gains one history entry.
Base blobs are carried as they are.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from .. import mediatypes as mt
from .._env import build_time
from ..coreos.ignition import ignition_entries, parse_ignition
from ..errors import InvalidReference, NotFound, PolicyError
from ..image import Image
from ..mutate import HistoryEntry, append_layers
from ..ostree.accounts import GROUP_FILES, PASSWD_FILES, Accounts
from ..ostree.lint import lint_new_layer, lint_tree
from ..ostree.paths import needs_base, place
from ..ostree.units import find_unit
from ..ostree.view import FlatTreeReader, LayeredTree, MemoryTree, TreeReader
from ..tar.build import EntryData, LayerBuilder
from ..tar.flatten import FlatTree, flatten_image, wanted_paths
from ..tar.header import TarHeader
from ..tar.local import local_file, local_tree
from ..tar.names import split_image_path
from ..tar.tree import TreeEntry, TreeView
from . import Derived

if TYPE_CHECKING:
    from ..rpm.inject import InjectOptions, RpmSource
    from .packages import PackageRequest

__all__ = ["FileAddition", "Step", "add_files", "append_content", "is_bootable"]

#: Adds entries to the layer being built.
Step = Callable[[LayerBuilder], None]


@dataclass(frozen=True, slots=True)
class FileAddition:
    """A local file or directory tree and the image path it goes to."""

    local: str
    image_path: str

    @classmethod
    def parse(cls, text: str) -> FileAddition:
        """Parse ``LOCAL:IMAGEPATH`` (split at the last ``:``; the image path must be absolute)."""
        local, sep, image_path = text.rpartition(":")
        if not sep or not local or not image_path.startswith("/"):
            raise InvalidReference(
                f"--add {text!r}: expected LOCAL:IMAGEPATH with an absolute image path"
                " (e.g. ./motd:/etc/motd)"
            )
        return cls(local, image_path)


def add_files(
    builder: LayerBuilder,
    additions: Sequence[FileAddition],
    *,
    replace: bool = False,
    base: TreeView | None = None,
    notes: list[str] | None = None,
    bootable: bool = True,
) -> None:
    """Add each local file or directory tree at its image path, placed by the ostree rules.

    A directory's contents go to the image path; a file goes to it, or into it when the image
    path ends with ``/`` (``./tool:/usr/bin/`` gives ``/usr/bin/tool``), as ``COPY`` does.
    ``replace`` lets them take the place of entries already in the layer (package files).
    In a ``bootable`` (ostree) image paths are placed over ``base``
    (:func:`~ociforge.ostree.paths.place`): through its symlinks, ``/var`` content shipped in
    ``/usr/share/factory`` and copied at boot; what the placement did is appended to
    ``notes``. Other images take every path as given.
    """
    placer = _Placer(
        builder, base, notes if notes is not None else [], replace=replace, bootable=bootable
    )
    for addition in additions:
        if os.path.isdir(addition.local):
            entries = local_tree(addition.local, split_image_path(addition.image_path))
        elif os.path.lexists(addition.local):
            target = addition.image_path
            if target.endswith("/"):
                target += os.path.basename(os.path.normpath(addition.local))
            entries = iter([local_file(addition.local, split_image_path(target))])
        else:
            raise NotFound(f"{addition.local}: no such file or directory")
        for header, data in entries:
            placer.add(header, data, origin=f"--add {addition.local}")
    placer.finish("ociforge-add")


class _Placer:
    """Puts entries into the builder where the ostree rules place them; collects tmpfiles lines."""

    def __init__(
        self,
        builder: LayerBuilder,
        base: TreeView | None,
        notes: list[str],
        *,
        replace: bool,
        bootable: bool = True,
    ) -> None:
        self.builder = builder
        self.base: TreeView = base if base is not None else _EMPTY
        self.notes = notes
        self.replace = replace
        self.bootable = bootable
        self.moved: dict[str, str] = {}
        self.tmpfiles: list[str] = []

    def add(self, header: TarHeader, data: EntryData, *, origin: str) -> None:
        path = "/" + header.name.strip("/")
        if path == "/":
            return
        if not self.bootable:
            self.builder.add_entry(header, data, replace=self.replace and not header.is_dir)
            return
        placement = place(
            path,
            self.base,
            what=origin,
            directory=header.is_dir,
            content=header.is_file and header.size > 0,
            factory=True,
        )
        if placement.note:
            self.notes.append(f"{origin}: {placement.note}")
        self.tmpfiles.extend(placement.links)
        if placement.how == "tmpfiles":
            self.tmpfiles.append(_tmpfiles_line(header, placement.path))
            return
        if placement.how == "dropped":
            return
        self.moved[path] = placement.path
        if header.is_hardlink:
            target = "/" + header.linkname.strip("/")
            header = header.evolve(linkname=self.moved.get(target, target).lstrip("/"))
        entry = header.evolve(name=placement.path.lstrip("/"))
        self.builder.add_entry(entry, data, replace=self.replace and not header.is_dir)

    def finish(self, name: str) -> None:
        """Write the tmpfiles.d fragment the placements need, if any."""
        if self.tmpfiles:
            text = "".join(line + "\n" for line in dict.fromkeys(self.tmpfiles))
            path = f"/usr/lib/tmpfiles.d/{name}.conf"
            self.builder.add_bytes(path, text.encode(), replace=True)
            self.notes.append(f"wrote {path}")


def _tmpfiles_line(header: TarHeader, path: str) -> str:
    """The tmpfiles.d line recreating an entry at boot (owners as numbers)."""
    owner = f"{header.uid} {header.gid}"
    if header.is_dir:
        return f"d {path} {header.mode & 0o7777:04o} {owner} - -"
    if header.is_symlink:
        return f"L {path} - - - - {header.linkname}"
    return f"f {path} {header.mode & 0o7777:04o} {owner} - -"


def is_bootable(image: Image) -> bool:
    """Whether ``image`` is an ostree/bootc OS image, whose paths follow the ostree rules."""
    labels = image.config.labels
    return labels.get("containers.bootc") == "1" or labels.get("ostree.bootable") in (
        "true",
        "1",
    )


class _EmptyTree:
    def entry(self, path: str) -> TreeEntry | None:
        return None


_EMPTY: Final = _EmptyTree()


def _ignition_lookups(
    tree: TreeReader,
) -> tuple[Callable[[str, str], int | None], Callable[[str], tuple[str, str] | None]]:
    """Owner names and units for Ignition, from the base with the new layer's files on top."""

    def text(paths: Sequence[str]) -> list[str]:
        return [raw.decode("utf-8", "replace") for p in paths if (raw := tree.read(p))]

    accounts = Accounts(text(PASSWD_FILES), text(GROUP_FILES))

    def resolve(kind: str, name: str) -> int | None:
        return accounts.uid(name) if kind == "user" else accounts.gid(name)

    def lookup(name: str) -> tuple[str, str] | None:
        unit = find_unit(name, tree)
        if unit is None or unit.state != "file":
            return None
        return unit.path, unit.text

    return resolve, lookup


def append_content(
    image: Image,
    *,
    additions: Sequence[FileAddition] = (),
    rpms: Sequence[RpmSource] = (),
    remove: Sequence[str] = (),
    packages: PackageRequest | None = None,
    ignition: bytes | None = None,
    steps: Sequence[Step] = (),
    rpm_options: InjectOptions | None = None,
    labels: Mapping[str, str] | None = None,
    compression: mt.Compression = "gzip",
    created_by: str = "",
    created: _dt.datetime | None = None,
    strict: bool = False,
    allow_lint_errors: bool = False,
    verify_base: bool = True,
) -> Derived:
    """``image`` plus exactly one layer holding RPM packages, local files and Ignition content.

    Packages go in first; local files (``additions``), the Ignition config's files, links and
    units, and any custom ``steps`` follow and take the place of package files at the same
    path. ``rpms`` are paths or ``(name, opener)`` pairs; each is opened once. The new layer
    is linted over the base (or on its own when the base was not read): a lint error (a
    private key, an entitlement certificate …) refuses the append unless
    ``allow_lint_errors``; with ``strict`` any finding does, otherwise warnings are returned.
    ``created`` defaults to ``SOURCE_DATE_EPOCH`` or now. ``verify_base=False`` skips hashing
    base layers while flattening them, for callers whose sink verifies every base blob before
    committing (:func:`ociforge.transports.sink_verifies_copies`).
    """
    request = packages
    if rpms or remove:
        from .packages import PackageRequest  # noqa: PLC0415 - the package machinery loads on use

        request = dataclasses.replace(
            packages or PackageRequest(),
            rpms=[*(packages.rpms if packages else ()), *rpms],
            remove=[*(packages.remove if packages else ()), *remove],
        )
    if not (additions or request or steps or ignition is not None):
        raise InvalidReference("nothing to append: give files, packages or an Ignition config")
    base: FlatTree | None = None
    bootable = is_bootable(image)
    if (
        request
        or ignition is not None
        or (bootable and needs_base(a.image_path for a in additions))
    ):
        # Files for plain /usr and /etc need nothing from the base; anything else is placed
        # through its symlinks and linted over it. Packages also need /etc's content: a
        # modified %config file of a package that goes is kept as .rpmsave.
        from ..rpm.inject import BASE_FILES  # noqa: PLC0415 - loaded only when the base is read
        from .packages import IMAGE_FILES  # noqa: PLC0415

        wanted = wanted_paths([*BASE_FILES, *(IMAGE_FILES if request else ())])
        base = flatten_image(image, wanted=wanted, heads=True, verify=verify_base)
    notes: list[str] = []
    try:
        content = None
        builder = LayerBuilder(compression=compression, docker=mt.is_docker(image.media_type))
        try:
            report = None
            resolved = None
            if request:
                from ..rpm.inject import inject_rpms  # noqa: PLC0415 - loaded only when used
                from .packages import resolve_packages  # noqa: PLC0415

                assert base is not None
                architecture = image.config.architecture
                resolved = resolve_packages(
                    request, base=base, architecture=architecture, options=rpm_options
                )
                notes.extend(resolved.notes)
                report = inject_rpms(
                    base,
                    resolved.sources,
                    builder,
                    erase=resolved.erase,
                    options=rpm_options,
                    architecture=architecture,
                )
                notes.extend(report.notes)
            rules = base if base is not None else _EMPTY
            add_files(builder, additions, replace=True, base=rules, notes=notes, bootable=bootable)
            if ignition is not None:
                assert base is not None
                # Units and users the packages of this same append bring count too.
                shipped = report.tree if report is not None else MemoryTree()
                resolve, lookup = _ignition_lookups(LayeredTree(shipped, FlatTreeReader(base)))
                content = parse_ignition(ignition, resolve=resolve, lookup_unit=lookup)
                notes.extend(content.notes)
                placer = _Placer(builder, rules, notes, replace=True, bootable=bootable)
                for header, data in ignition_entries(content):
                    placer.add(header, data, origin="--ignition")
                placer.finish("ociforge-ignition")
            for step in steps:
                step(builder)
            layer = builder.build()
        except BaseException:
            builder.close()
            raise
        tree = base if base is not None else FlatTree({}, {})
        written = ((entry.header, entry.head) for entry in builder.built_entries())
        new_paths = tree.overlay_headers(written)
        findings = lint_new_layer(lint_tree(tree.entries), new_paths)
    finally:
        if base is not None:
            base.close()
    if strict and findings:
        raise PolicyError(f"--strict: the new layer fails lint: {findings[0]}")
    errors = [f for f in findings if f.severity == "error"]
    if errors and not allow_lint_errors:
        raise PolicyError(
            f"the new layer fails lint: {errors[0]}; pass --allow-lint-errors to write it anyway"
        )
    what = []
    if report is not None and report.packages:
        what.append("--rpm " + " ".join(report.packages))
    if report is not None and report.removed:
        what.append("--remove " + " ".join(report.removed))
    if additions:
        what.append("--add " + " ".join(a.image_path for a in additions))
    if content is not None:
        what.append(f"--ignition ({len(content.paths)} paths)")
    history = HistoryEntry(created_by=created_by or "ociforge append " + " ".join(what))
    new_image = append_layers(
        image, [layer], history=[history], labels=labels, created=created or build_time()
    )
    return Derived(
        image=new_image,
        layer=new_image.layers[-1],
        notes=tuple(notes),
        findings=findings,
        packages=tuple(report.packages) if report is not None else (),
        replaced=tuple(report.replaced) if report is not None else (),
        removed=tuple(report.removed) if report is not None else (),
        transaction=tuple(resolved.transaction.describe()) if resolved is not None else (),
    )
