"""Restack the layers a derived image added on its old base onto a new base (metadata only)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import PolicyError
from ..image import Image
from ..layer import Layer
from . import append_layers

__all__ = ["RebasePlan", "plan_rebase", "rebase_image", "restack"]

#: Label prefixes that describe the base's ostree content; the new base's values always win.
_BASE_OWNED_PREFIXES = ("ostree.", "rpmostree.")


@dataclass(frozen=True, slots=True)
class RebasePlan:
    """What a rebase carries over: the added layers, their history, the user's labels."""

    added: tuple[Layer, ...]
    history: tuple[Mapping[str, Any], ...]
    labels: Mapping[str, str]
    annotations: Mapping[str, str]


def _user_changes(derived: Mapping[str, str], old: Mapping[str, str]) -> dict[str, str]:
    """Entries the derived image added or changed relative to its old base."""
    return {
        key: value
        for key, value in derived.items()
        if old.get(key) != value and not key.startswith(_BASE_OWNED_PREFIXES)
    }


def _added_history(derived: Image, old_base: Image) -> list[Mapping[str, Any]]:
    """The history records that belong to the added layers."""
    ours, theirs = list(derived.config.history), list(old_base.config.history)
    if ours[: len(theirs)] == theirs:
        return ours[len(theirs) :]
    # The prefix was rewritten (some tools restamp times): cut after the record of the old
    # base's last layer, counting non-empty records.
    remaining = len(old_base.layers)
    for i, record in enumerate(ours):
        if remaining == 0:
            return ours[i:]
        if not record.get("empty_layer"):
            remaining -= 1
    return []


def plan_rebase(derived: Image, *, old_base: Image) -> RebasePlan:
    """Check that ``old_base`` is a prefix of ``derived`` and work out what it added.

    "Prefix" means the derived image's first layers are the old base's, digest and diff_id
    alike; anything else raises :class:`PolicyError` naming the first layer that differs. The
    plan keeps the added layers' history only when it lines up with them, and the labels and
    annotations the derived image added or changed. Nothing is read beyond the manifests and
    configs: :func:`restack` applies the plan to a new base.
    """
    old = old_base.layers
    if len(derived.layers) < len(old):
        raise PolicyError(
            f"{derived.name}: has {len(derived.layers)} layers,"
            f" fewer than the old base's {len(old)}"
        )
    for i, (ours, theirs) in enumerate(zip(derived.layers, old, strict=False)):
        if (ours.digest, ours.diff_id) != (theirs.digest, theirs.diff_id):
            raise PolicyError(
                f"{derived.name}: is not built on {old_base.name}: layer {i} is {ours.digest},"
                f" the old base has {theirs.digest}"
            )
    added = derived.layers[len(old) :]
    history = _added_history(derived, old_base)
    if history and sum(1 for r in history if not r.get("empty_layer")) != len(added):
        # History that does not line up with the layers is dropped rather than misattributed.
        history = []
    return RebasePlan(
        added=added,
        history=tuple(history),
        labels=_user_changes(derived.config.labels, old_base.config.labels),
        annotations=_user_changes(derived.manifest.annotations, old_base.manifest.annotations),
    )


def restack(plan: RebasePlan, new_base: Image, *, created: _dt.datetime | None = None) -> Image:
    """``new_base`` plus the layers ``plan`` carries, with their history, labels, annotations.

    The new base's config (and its ostree labels, version, …) is kept; labels and annotations
    the derived image added or changed are applied on top, except ``ostree.*`` keys, which
    describe the base content. Added layers are carried as they are: no blob is opened.
    """
    if not plan.added:
        return new_base
    return append_layers(
        new_base,
        plan.added,
        history_records=plan.history if plan.history else None,
        labels=plan.labels or None,
        annotations=plan.annotations or None,
        created=created,
    )


def rebase_image(
    derived: Image, *, old_base: Image, new_base: Image, created: _dt.datetime | None = None
) -> Image:
    """``new_base`` plus the layers ``derived`` added on top of ``old_base`` (:func:`restack`).

    Only metadata changes; for a rebase that also fixes the copies of base files the added
    layers carry (rpmdb, accounts), use :func:`ociforge.recipes.rebase.rebase_content`.
    """
    return restack(plan_rebase(derived, old_base=old_base), new_base, created=created)
