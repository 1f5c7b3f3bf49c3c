"""Derive an image with RPMs: base + exactly one new layer holding packages (and any files).

A thin entry point over :func:`ociforge.derive.append_content`: the base is scanned once (path
kinds, accounts, rpmdb); the packages and any extra steps go into one
:class:`~ociforge.tar.build.LayerBuilder`; the new layer is linted over the base; the config
gains one history entry naming the packages and keeps every base label (``ostree.*``,
``containers.bootc``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from .. import mediatypes as mt
from ..derive import AppendResult, Step, append_content
from ..errors import PolicyError
from ..image import Image
from .inject import InjectOptions

__all__ = ["append_rpms"]


def append_rpms(
    image: Image,
    rpm_paths: Sequence[str | os.PathLike[str]],
    *,
    options: InjectOptions | None = None,
    extra_steps: Sequence[Step] = (),
    labels: Mapping[str, str] | None = None,
    compression: mt.Compression = "gzip",
    created_by: str = "",
    strict: bool = False,
    verify_base: bool = True,
) -> AppendResult:
    """``image`` plus one layer with ``rpm_paths`` installed (and ``extra_steps``' entries).

    With ``strict`` any lint finding about the new layer is an error; otherwise findings are
    returned for the caller to show as warnings. ``verify_base=False`` skips hashing the base
    layers while scanning them: only for callers whose sink verifies every base blob.
    """
    if not rpm_paths:
        raise PolicyError("no packages given")
    return append_content(
        image,
        rpms=rpm_paths,
        steps=extra_steps,
        rpm_options=options,
        labels=labels,
        compression=compression,
        created_by=created_by,
        strict=strict,
        verify_base=verify_base,
    )
