"""Recipes: read content, build exactly one new layer, finish with :mod:`ociforge.mutate`.

The content tier (go-containerregistry's ``crane`` over ``mutate``): :mod:`.append` (files,
RPM packages, Ignition), :mod:`.rebase` (restack plus a fix-up layer), :mod:`.squash` and
:mod:`.bundle` (umoci-style unpack and repack). Each returns a :class:`Derived`: the image and
the one layer it added, with everything building that layer had to say, so callers never
guess the new layer from ``layers[-1]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..image import Image
    from ..layer import Layer
    from ..ostree.lint import Finding
    from ..tar.diff import Changes

__all__ = ["Derived"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Derived:
    """What a recipe made: the image, its one new layer, and what building that layer reported.

    ``layer`` is None when nothing needed adding (a rebase whose restack was enough, a squash
    with nothing to fold). ``notes`` are informational, ``warnings`` need a look, ``findings``
    are the lint results for the new layer. ``packages``, ``replaced`` and ``removed`` name
    RPM packages (NEVRA) the layer installs, replaces and removes, and ``transaction`` says
    why, one line per package (``install strace-6.1-1.x86_64 (from fedora): requested``);
    ``rewritten`` and ``deleted`` list base paths it rewrites and whites out; ``changes``
    counts a repack's paths.
    """

    image: Image
    layer: Layer | None = None
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    packages: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    transaction: tuple[str, ...] = ()
    rewritten: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    changes: Changes | None = None
