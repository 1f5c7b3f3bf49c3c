"""Recipes that derive an image: base + exactly one new layer filled by steps, base blobs untouched.

A step is a function that adds entries to the new layer's :class:`LayerBuilder`; files and
directory trees are one kind of step (:func:`add_files`), RPM payloads another. All steps of one
derivation go into the same layer, so the result is always the base plus one layer.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from . import mediatypes as mt
from .accounts import GROUP_FILES, PASSWD_FILES, Accounts
from .errors import InvalidReference, NotFound, PolicyError
from .flatten import BaseTree, scan_image, wanted_paths
from .ignition import add_ignition_content, parse_ignition
from .image import Image
from .mutate import HistoryEntry, append_layers
from .ostree.lint import Finding, lint_new_layer, lint_tree
from .rpm.inject import BASE_FILES, InjectOptions, InjectReport, inject_rpms
from .tar.build import LayerBuilder

__all__ = [
    "AppendResult",
    "FileAddition",
    "Step",
    "add_files",
    "append_content",
    "append_files",
    "derive_image",
]

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


def derive_image(
    image: Image,
    steps: Sequence[Step],
    *,
    labels: Mapping[str, str] | None = None,
    compression: mt.Compression = "gzip",
    history: HistoryEntry | None = None,
) -> Image:
    """``image`` plus one layer built by ``steps``; labels added to the config.

    The new layer uses the base's media-type family (OCI or Docker). Every label the base
    carries stays as it was unless ``labels`` overrides it, so ``ostree.final-diffid``,
    ``ostree.bootable`` and ``containers.bootc`` keep describing the ostree part.
    """
    builder = LayerBuilder(compression=compression, docker=mt.is_docker(image.media_type))
    try:
        for step in steps:
            step(builder)
    except BaseException:
        builder.close()
        raise
    layer = builder.build()
    entry = history or HistoryEntry(created_by="ociforge append")
    return append_layers(image, [layer], history=[entry], labels=labels)


def append_files(
    image: Image,
    additions: Sequence[FileAddition],
    *,
    labels: Mapping[str, str] | None = None,
    compression: mt.Compression = "gzip",
    history: HistoryEntry | None = None,
) -> Image:
    """``image`` plus one layer holding local files and trees at their image paths."""
    return derive_image(
        image,
        [lambda builder: add_files(builder, additions)],
        labels=labels,
        compression=compression,
        history=history,
    )


#: Where systemd units of the base live, so ``--ignition`` can enable them without contents.
_UNIT_DIRECTORIES = ("/etc/systemd/system", "/usr/lib/systemd/system")


@dataclass(frozen=True, slots=True)
class AppendResult:
    """The derived image and what building its one new layer reported."""

    image: Image
    report: InjectReport | None
    notes: tuple[str, ...]
    findings: tuple[Finding, ...]


def _ignition_lookups(
    base: BaseTree,
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
    rpms: Sequence[str | os.PathLike[str]] = (),
    ignition: bytes | None = None,
    steps: Sequence[Step] = (),
    rpm_options: InjectOptions | None = None,
    labels: Mapping[str, str] | None = None,
    compression: mt.Compression = "gzip",
    created_by: str = "",
    strict: bool = False,
    verify_base: bool = True,
) -> AppendResult:
    """``image`` plus exactly one layer holding RPM packages, local files and Ignition content.

    Packages go in first; local files (``additions``), the Ignition config's files, links and
    units, and any custom ``steps`` follow and take the place of package files at the same
    path. The base is
    flattened (read, never written) only when packages or Ignition need to know what it holds:
    accounts, the rpmdb, existing units. The new layer is linted over the base (or on its own
    when the base was not read); with ``strict`` a finding is an error, otherwise it is returned
    as a warning. ``verify_base=False`` skips hashing base layers while flattening them, for
    callers whose sink verifies every base blob before committing.
    """
    if not (additions or rpms or steps or ignition is not None):
        raise InvalidReference("nothing to append: give files, packages or an Ignition config")
    base: BaseTree | None = None
    if rpms or ignition is not None:
        wanted = wanted_paths([*BASE_FILES, *(f"{d}/*" for d in _UNIT_DIRECTORIES)])
        base = scan_image(image, wanted=wanted, heads=True, verify=verify_base)
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
        tree = base if base is not None else BaseTree({}, {})
        new_paths = tree.overlay(layer)
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
    new_image = append_layers(image, [layer], history=[history], labels=labels)
    return AppendResult(new_image, report, tuple(notes), findings)
