"""The ``append`` recipe: base + exactly one new layer of RPM packages, files and Ignition content.

The base is flattened (read, never written) only when packages or Ignition need to know what
it holds: accounts, the rpmdb, existing units. Everything then goes into one
:class:`~ociforge.tar.build.LayerBuilder`, packages first; the new layer is linted from the
entries the builder wrote (it is never read back), and the config gains one history entry.
Base blobs are carried as they are.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .. import mediatypes as mt
from .._env import build_time
from ..coreos.ignition import add_ignition_content, parse_ignition
from ..errors import InvalidReference, NotFound, PolicyError
from ..image import Image
from ..mutate import HistoryEntry, append_layers
from ..ostree.accounts import GROUP_FILES, PASSWD_FILES, Accounts
from ..ostree.lint import lint_new_layer, lint_tree
from ..rpm.inject import BASE_FILES, InjectOptions, RpmSource, inject_rpms
from ..tar.build import LayerBuilder
from ..tar.flatten import FlatTree, flatten_image, wanted_paths
from . import Derived

__all__ = ["FileAddition", "Step", "add_files", "append_content"]

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
    builder: LayerBuilder, additions: Sequence[FileAddition], *, replace: bool = False
) -> None:
    """Add each local file or directory tree at its image path.

    A directory's contents go to the image path; a file goes to it, or into it when the image
    path ends with ``/`` (``./tool:/usr/bin/`` gives ``/usr/bin/tool``), as ``COPY`` does.
    ``replace`` lets them take the place of entries already in the layer (package files).
    """
    for addition in additions:
        if os.path.isdir(addition.local):
            builder.add_tree(addition.local, addition.image_path, replace=replace)
        elif os.path.lexists(addition.local):
            target = addition.image_path
            if target.endswith("/"):
                target += os.path.basename(os.path.normpath(addition.local))
            builder.add_file(addition.local, target, replace=replace)
        else:
            raise NotFound(f"{addition.local}: no such file or directory")


#: Where systemd units of the base live, so ``--ignition`` can enable them without contents.
_UNIT_DIRECTORIES = ("/etc/systemd/system", "/usr/lib/systemd/system")


def _ignition_lookups(
    base: FlatTree,
) -> tuple[Callable[[str, str], int | None], Callable[[str], tuple[str, str] | None]]:
    def text(paths: Sequence[str]) -> list[str]:
        return [raw.decode("utf-8", "replace") for p in paths if (raw := base.read(p))]

    accounts = Accounts(text(PASSWD_FILES), text(GROUP_FILES))

    def resolve(kind: str, name: str) -> int | None:
        return accounts.uid(name) if kind == "user" else accounts.gid(name)

    def lookup(name: str) -> tuple[str, str] | None:
        for directory in _UNIT_DIRECTORIES:
            raw = base.read(f"{directory}/{name}")
            if raw is not None:
                return f"{directory}/{name}", raw.decode("utf-8", "replace")
        return None

    return resolve, lookup


def append_content(
    image: Image,
    *,
    additions: Sequence[FileAddition] = (),
    rpms: Sequence[RpmSource] = (),
    ignition: bytes | None = None,
    steps: Sequence[Step] = (),
    rpm_options: InjectOptions | None = None,
    labels: Mapping[str, str] | None = None,
    compression: mt.Compression = "gzip",
    created_by: str = "",
    created: _dt.datetime | None = None,
    strict: bool = False,
    verify_base: bool = True,
) -> Derived:
    """``image`` plus exactly one layer holding RPM packages, local files and Ignition content.

    Packages go in first; local files (``additions``), the Ignition config's files, links and
    units, and any custom ``steps`` follow and take the place of package files at the same
    path. ``rpms`` are paths or ``(name, opener)`` pairs; each is opened once. The new layer
    is linted over the base (or on its own when the base was not read); with ``strict`` a
    finding is an error, otherwise it is returned. ``created`` defaults to
    ``SOURCE_DATE_EPOCH`` or now. ``verify_base=False`` skips hashing base layers while
    flattening them, for callers whose sink verifies every base blob before committing
    (:func:`ociforge.transports.sink_verifies_copies`).
    """
    if not (additions or rpms or steps or ignition is not None):
        raise InvalidReference("nothing to append: give files, packages or an Ignition config")
    base: FlatTree | None = None
    if rpms or ignition is not None:
        wanted = wanted_paths([*BASE_FILES, *(f"{d}/*" for d in _UNIT_DIRECTORIES)])
        base = flatten_image(image, wanted=wanted, heads=True, verify=verify_base)
    notes: list[str] = []
    try:
        content = None
        if ignition is not None:
            assert base is not None
            resolve, lookup = _ignition_lookups(base)
            content = parse_ignition(ignition, resolve=resolve, lookup_unit=lookup)
            notes.extend(content.notes)
        builder = LayerBuilder(compression=compression, docker=mt.is_docker(image.media_type))
        try:
            report = None
            if rpms:
                assert base is not None
                report = inject_rpms(
                    base, rpms, builder, options=rpm_options, architecture=image.config.architecture
                )
                notes[:0] = report.notes
            add_files(builder, additions, replace=True)
            if content is not None:
                add_ignition_content(builder, content)
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
    what = []
    if report is not None:
        what.append("--rpm " + " ".join(report.packages))
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
    )
