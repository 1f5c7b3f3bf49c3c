"""What translated scriptlets leave in the tree: preset links, alternatives links and state.

``%systemd_post`` asks for ``systemctl preset``; ``alternatives --install`` for links and a
state file. Both are computed over the base with the new layer on top (a unit or a preset file
shipped by a package of the same append counts, as in the tree rpm-ostree assembles) by
:mod:`ociforge.ostree.presets` and :mod:`ociforge.ostree.alternatives`, and returned as plain
entries for the layer. Pure: it reads two tree views and returns values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..errors import PolicyError
from ..ostree.alternatives import alternatives_entries
from ..ostree.presets import apply_presets
from ..ostree.view import TreeReader
from .scriptlets import ScriptletPlan

__all__ = ["Effects", "scriptlet_effects"]


@dataclass(frozen=True, slots=True)
class Effects:
    """Entries for the layer: symlinks to add, paths to remove, files to write, notes."""

    links: Mapping[str, str] = field(default_factory=dict)
    remove: tuple[str, ...] = ()
    files: Mapping[str, bytes] = field(default_factory=dict)
    tmpfiles: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def scriptlet_effects(plans: Sequence[tuple[str, ScriptletPlan]], *, tree: TreeReader) -> Effects:
    """The preset and alternatives entries for ``plans`` (``(NEVRA, plan)``, in install order).

    ``tree`` is the base with the new layer's files on top. Presets run first (systemd's
    ``%post`` order does not matter for them), then every alternatives command in order.
    """
    presets = [preset for _nevra, plan in plans for preset in plan.presets]
    commands = [command for _nevra, plan in plans for command in plan.alternatives]
    links: dict[str, str] = {}
    remove: list[str] = []
    notes: list[str] = []
    if presets:
        result = apply_presets(presets, tree=tree)
        links.update(result.add)
        remove.extend(result.remove)
        notes.extend(f"preset: {note}" for note in result.notes)
        enabled = sorted(result.add)
        if enabled:
            notes.append(f"presets enabled {len(enabled)} link(s): {', '.join(enabled)}")
    files: dict[str, bytes] = {}
    tmpfiles: tuple[str, ...] = ()
    if commands:
        try:
            alternatives = alternatives_entries(commands, tree=tree)
        except ValueError as exc:
            owners = ", ".join(nevra for nevra, plan in plans if plan.alternatives)
            raise PolicyError(f"{owners}: alternatives: {exc}") from None
        links.update(alternatives.links)
        remove.extend(alternatives.remove)
        files.update(alternatives.files)
        tmpfiles = alternatives.tmpfiles
        notes.extend(alternatives.notes)
    return Effects(links, tuple(sorted(set(remove))), files, tmpfiles, tuple(notes))
