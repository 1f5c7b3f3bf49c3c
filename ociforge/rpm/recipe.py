"""Derive an image with RPMs: base + exactly one new layer holding packages (and any files).

The base is scanned once (path kinds, accounts, rpmdb); the packages, extra steps (``--add``
files) and generated files go into one :class:`~ociforge.tar.build.LayerBuilder`; the new layer
is linted over the base; the config gains one history entry naming the packages and keeps
every base label (``ostree.*``, ``containers.bootc``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .. import mediatypes as mt
from ..errors import PolicyError
from ..image import Image
from ..mutate import HistoryEntry, append_layers
from ..ostree.lint import Finding, lint_tree
from ..tar.build import LayerBuilder
from .basetree import scan_image, wanted_paths
from .inject import BASE_FILES, InjectOptions, InjectReport, inject_rpms

__all__ = ["RpmAppendResult", "append_rpms", "lint_new_layer"]

#: bootc rules about the whole tree, which a layer can break without touching the path.
_GLOBAL_RULES = frozenset({"kernel", "etc-usretc", "var-run"})


@dataclass(frozen=True, slots=True)
class RpmAppendResult:
    """The new image, what the injection did, and the lint findings about the new layer."""

    image: Image
    report: InjectReport
    findings: tuple[Finding, ...]


def lint_new_layer(findings: Sequence[Finding], layer_paths: set[str]) -> tuple[Finding, ...]:
    """The findings a new layer is responsible for: on its paths, or tree-wide rules."""
    return tuple(f for f in findings if f.rule in _GLOBAL_RULES or f.path in layer_paths)


def append_rpms(
    image: Image,
    rpm_paths: Sequence[str | os.PathLike[str]],
    *,
    options: InjectOptions | None = None,
    extra_steps: Sequence[Callable[[LayerBuilder], None]] = (),
    labels: Mapping[str, str] | None = None,
    compression: mt.Compression = "gzip",
    created_by: str = "",
    strict: bool = False,
    verify_base: bool = True,
) -> RpmAppendResult:
    """``image`` plus one layer with ``rpm_paths`` installed (and ``extra_steps``' entries).

    With ``strict`` any lint finding about the new layer is an error; otherwise findings are
    returned for the caller to show as warnings. ``verify_base=False`` skips hashing the base
    layers while scanning them: only for callers whose sink verifies every base blob.
    """
    if not rpm_paths:
        raise PolicyError("no packages given")
    # The caller's sink verifies every base blob before committing (see scan_image).
    base = scan_image(image, wanted=wanted_paths(BASE_FILES), heads=True, verify=verify_base)
    builder = LayerBuilder(compression=compression, docker=mt.is_docker(image.media_type))
    try:
        for step in extra_steps:
            step(builder)
        report = inject_rpms(
            base, rpm_paths, builder, options=options, architecture=image.config.architecture
        )
        layer = builder.build()
    except BaseException:
        builder.close()
        base.close()
        raise
    try:
        new_paths = base.overlay(layer)
        findings = lint_new_layer(lint_tree(base.entries), new_paths)
    finally:
        base.close()
    if strict and findings:
        raise PolicyError(f"--strict: the new layer fails lint: {findings[0]}")
    names = " ".join(report.packages)
    history = HistoryEntry(created_by=created_by or f"ociforge append --rpm {names}".strip())
    new_image = append_layers(image, [layer], history=[history], labels=labels)
    return RpmAppendResult(new_image, report, findings)
