"""Pure model of a stack of layers: what one layer must hold to have the same effect.

Feed every member header of the stack in order (:meth:`Overlay.add`); :meth:`Overlay.plan`
then says which members survive and under which paths, and which whiteouts must remain
because they delete content of the layers *below* the stack. Content added and deleted
inside the stack disappears, which is the point of squashing. The rules are the ones
:mod:`ociforge.tar.unpack` applies, so squashing never changes what an unpack produces.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import TarError, UnsupportedError
from .header import TarHeader
from .names import Parts, join, split_member_name
from .whiteout import classify

__all__ = ["Member", "Overlay", "Plan"]


@dataclass(frozen=True, slots=True, order=True)
class Member:
    """Where a member sits in the stack: layer number and position in that layer."""

    layer: int
    index: int


@dataclass(slots=True)
class _Node:
    member: Member
    header: TarHeader
    content: Member | None = None  # the member that made this path's inode (non-directories)
    base_link: Parts | None = None  # a hard link to content below the stack


@dataclass(frozen=True, slots=True)
class Plan:
    """What the folded layer holds.

    ``entries`` are headers that need nothing from the layers (directories, hard links to
    content below the stack). ``members`` maps each surviving file, symlink or device member
    to the paths that show it: the first gets the member itself (with its data), the others
    become hard links to it, which keeps a link whose target was later deleted or replaced.
    ``whiteouts`` and ``opaques`` delete or hide content of the layers below the stack.
    """

    entries: tuple[TarHeader, ...]
    members: Mapping[Member, tuple[Parts, ...]]
    whiteouts: tuple[Parts, ...]
    opaques: tuple[Parts, ...]


@dataclass(slots=True)
class Overlay:
    """Accumulates the effect of member headers, layer by layer."""

    _nodes: dict[Parts, _Node] = field(default_factory=dict)
    _children: dict[Parts, set[str]] = field(default_factory=dict)
    # Deletions of content below the stack, each with the layer that made it.
    _hidden: dict[Parts, int] = field(default_factory=dict)
    _opaque: dict[Parts, int] = field(default_factory=dict)

    # -- tree bookkeeping --------------------------------------------------------------------

    def _set(self, parts: Parts, node: _Node) -> None:
        self._nodes[parts] = node
        for depth in range(len(parts)):
            names = self._children.setdefault(parts[:depth], set())
            if parts[depth] in names:
                continue
            names.add(parts[depth])

    def _discard(self, parts: Parts) -> None:
        self._nodes.pop(parts, None)
        self._children.pop(parts, None)
        if parts:
            siblings = self._children.get(parts[:-1])
            if siblings is not None:
                siblings.discard(parts[-1])

    def _remove_subtree(self, parts: Parts) -> None:
        for name in list(self._children.get(parts, ())):
            self._remove_subtree((*parts, name))
        self._discard(parts)

    def _prune(self, parts: Parts, layer: int) -> bool:
        """Drop what layers before ``layer`` put at and below ``parts``; True if any remains.

        A directory from below that holds content of ``layer`` itself stays, as in unpack.
        """
        kept = False
        for name in list(self._children.get(parts, ())):
            kept = self._prune((*parts, name), layer) or kept
        node = self._nodes.get(parts)
        if kept or (node is not None and node.member.layer >= layer):
            return True
        if node is not None:
            self._discard(parts)
        return False

    # -- applying ----------------------------------------------------------------------------

    def add(self, member: Member, header: TarHeader) -> None:
        """Apply one member of layer ``member.layer`` (layers in order, members in order)."""
        parts = split_member_name(header.name)
        whiteout = classify(parts)
        if whiteout is not None:
            layer = member.layer
            if whiteout.kind == "opaque":
                # As in unpack, the opaque directory exists afterwards (made if need be).
                self._make_directories(whiteout.directory, layer, itself=True)
                for name in list(self._children.get(whiteout.directory, ())):
                    self._prune((*whiteout.directory, name), layer)
                self._forget(whiteout.directory, before=layer, itself=False)
                self._opaque[whiteout.directory] = layer
            elif whiteout.kind == "file" and not self._below_non_directory(whiteout.target):
                self._prune(whiteout.target, layer)
                self._forget(whiteout.target, before=layer, itself=True)
                self._hidden[whiteout.target] = layer
            return
        if not parts:
            return  # the root's own metadata is not carried over
        self._make_directories(parts, member.layer, itself=False)
        existing = self._nodes.get(parts)
        if header.is_dir:
            if existing is not None and existing.header.is_dir:
                existing.member, existing.header = member, header
                return
            if existing is not None:
                self._replace_by_directory(parts, member.layer)
            self._set(parts, _Node(member, header))
            return
        node = _Node(member, header, content=member)
        if header.is_hardlink:
            target = split_member_name(header.linkname, what=f"hard link {header.name!r} target")
            if target == parts:
                return
            source = self._nodes.get(target)
            if source is not None:
                if source.header.is_dir:
                    raise TarError(f"hard link {header.name!r}: target is a directory")
                node.content, node.base_link = source.content, source.base_link
            elif self._below_non_directory(target) or self._covered(target):
                raise TarError(f"hard link {header.name!r}: target {header.linkname!r} is gone")
            else:
                node.content, node.base_link = None, target
        self._remove_subtree(parts)
        self._set(parts, node)
        self._forget(parts, before=None, itself=True)

    def _forget(self, parts: Parts, *, before: int | None, itself: bool) -> None:
        """Drop deletions below ``parts`` made by layers before ``before`` (or by any).

        What they deleted is gone or replaced anyway, and replaying them would bring back
        directories that no longer exist. ``itself`` includes the opaque mark of ``parts``.
        """
        n = len(parts)

        def stale(path: Parts, layer: int, *, opaque: bool) -> bool:
            inside = path[:n] == parts and (len(path) > n or (opaque and itself))
            return inside and (before is None or layer < before)

        self._opaque = {p: w for p, w in self._opaque.items() if not stale(p, w, opaque=True)}
        self._hidden = {p: w for p, w in self._hidden.items() if not stale(p, w, opaque=False)}

    def _replace_by_directory(self, parts: Parts, layer: int) -> None:
        """A directory takes the place of a non-directory of the stack.

        The non-directory had already replaced whatever the base had there, so the new
        directory must not let the base's old children show through.
        """
        self._remove_subtree(parts)
        self._opaque[parts] = layer

    def _make_directories(self, parts: Parts, layer: int, *, itself: bool) -> None:
        """Replace non-directories of the stack above ``parts`` (and at it) by directories."""
        for depth in range(1, len(parts) + (1 if itself else 0)):
            node = self._nodes.get(parts[:depth])
            if node is not None and not node.header.is_dir:
                self._replace_by_directory(parts[:depth], layer)

    def _below_non_directory(self, parts: Parts) -> bool:
        """True if a non-directory of the stack sits above ``parts`` (so nothing is there)."""
        return any(
            (node := self._nodes.get(parts[:depth])) is not None and not node.header.is_dir
            for depth in range(1, len(parts))
        )

    def _covered(self, parts: Parts) -> bool:
        """True if content below the stack at ``parts`` is deleted, hidden or replaced."""
        if any(parts[:depth] in self._hidden for depth in range(1, len(parts) + 1)):
            return True
        return any(parts[:depth] in self._opaque for depth in range(len(parts) + 1))

    # -- result ------------------------------------------------------------------------------

    def plan(self) -> Plan:
        """The folded layer's content."""
        entries: list[TarHeader] = []
        members: dict[Member, list[Parts]] = {}
        for parts, node in self._nodes.items():
            if node.header.is_dir:
                entries.append(node.header.evolve(name=join(parts)))
            elif node.base_link is not None:
                target = node.base_link
                if (
                    target in self._nodes
                    or self._below_non_directory(target)
                    or self._covered(target)
                ):
                    raise UnsupportedError(
                        f"cannot squash: hard link /{join(parts)} points to"
                        f" /{join(node.base_link)} below the squashed layers, which a later"
                        " layer replaces or deletes"
                    )
                entries.append(node.header.evolve(name=join(parts), linkname=join(node.base_link)))
            else:
                assert node.content is not None
                members.setdefault(node.content, []).append(parts)
        whiteouts = tuple(
            sorted(
                p
                for p in self._hidden
                if not any(p[:d] in self._hidden or p[:d] in self._opaque for d in range(len(p)))
            )
        )
        return Plan(
            tuple(entries),
            {m: tuple(sorted(paths)) for m, paths in members.items()},
            whiteouts,
            tuple(sorted(self._opaque)),
        )
