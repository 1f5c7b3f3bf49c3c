"""Flatten an image's layers into a read-only view of its filesystem, without writing to disk.

Unlike :mod:`ociforge.tar.unpack`, nothing is written to disk: every layer is read once (in
parallel), whiteouts (named by :func:`ociforge.tar.whiteout.classify`) are applied to an
in-memory map holding one :class:`TreeEntry` per path, and only the contents of the few paths
a caller asks for are kept. A wanted path that is a hard link (ostree layers link the tree to
``sysroot/ostree/repo/objects``) is captured in a second pass over just the layers that need
it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import posixpath
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Final, cast

from .._env import cpu_count
from ..compression import open_decompressor
from ..image import Image
from ..layer import Layer
from ..streams import CHUNK_SIZE, RangeReader, Readable
from .header import TarHeader
from .names import split_member_name
from .reader import iter_verified
from .tree import HEAD_BYTES, EntryKind, TreeEntry, normalize
from .whiteout import classify

__all__ = ["FlatTree", "flatten_image", "flatten_layers", "wanted_paths"]

_MAX_LINKS: Final = 40


def _kind(header: TarHeader) -> EntryKind:
    if header.is_dir:
        return "dir"
    if header.is_symlink:
        return "symlink"
    if header.is_hardlink:
        return "hardlink"
    if header.is_file:
        return "file"
    return "other"


@dataclass(slots=True)
class _LayerScan:
    """What one layer says: (path, entry or None for a whiteout, opaque) in order."""

    events: list[tuple[str, TreeEntry | None, bool]] = field(default_factory=list)
    contents: dict[str, IO[bytes]] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)


def _spool(reader: Readable) -> IO[bytes]:
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=1 << 20)  # noqa: SIM115
    while chunk := reader.read(CHUNK_SIZE):
        spool.write(chunk)
    spool.seek(0)
    return spool


@contextlib.contextmanager
def _open_layer(layer: Layer, verify: bool) -> Iterator[IO[bytes]]:
    if verify:
        with layer.open_uncompressed() as stream:
            yield stream
        return
    with layer.source.blob_range(layer.descriptor) as span:
        if span is None:
            raw: IO[bytes] = layer.open_compressed()
        else:
            raw = cast(IO[bytes], RangeReader(span.fd, span.offset, span.size))
        what = f"{layer.source.name}: layer {layer.digest}"
        with open_decompressor(raw, layer.compression, limit=layer.max_size, what=what) as stream:
            yield stream


def _scan_layer(
    layer: Layer,
    wanted: Callable[[str], bool],
    heads: bool,
    capture: frozenset[str] = frozenset(),
    *,
    verify: bool = True,
    digests: bool = False,
) -> _LayerScan:
    scan = _LayerScan()
    what = f"layer {layer.digest}"
    with _open_layer(layer, verify) as stream:
        for member, data in iter_verified(stream, what=what):
            header = member.header
            path = _record(scan, header, what)
            if path is None or not header.is_file:
                continue
            head = b""
            digest = ""
            if wanted(path) or path in capture:
                spool = _spool(data)
                scan.contents[path] = spool
                head = spool.read(HEAD_BYTES)
                if digests:
                    digest = _sha256(head, spool)
                spool.seek(0)
            elif heads or digests:
                first = data.read(HEAD_BYTES)
                head = first if heads else b""
                if digests:
                    digest = _sha256(first, data)
            if head or digest:
                event_path, entry, opaque = scan.events[-1]
                assert entry is not None
                changed = dataclasses.replace(entry, head=head, digest=digest)
                scan.events[-1] = (event_path, changed, opaque)
    return scan


def _sha256(head: bytes, rest: Readable) -> str:
    hasher = hashlib.sha256(head)
    while chunk := rest.read(CHUNK_SIZE):
        hasher.update(chunk)
    return hasher.hexdigest()


def _record(scan: _LayerScan, header: TarHeader, what: str) -> str | None:
    """Add the event of one member to ``scan``; its path if it is an entry (not a whiteout)."""
    parts = split_member_name(header.name, what=what)
    if not parts:
        return None
    whiteout = classify(parts, what=what)
    if whiteout is not None:
        if whiteout.kind != "meta":
            target = "/" + "/".join(whiteout.target)
            scan.events.append((target, None, whiteout.kind == "opaque"))
        return None
    path = "/" + "/".join(parts)
    kind = _kind(header)
    link = header.linkname
    if kind == "hardlink":
        link = normalize(link)
        if link == path:
            return None  # a link to itself changes nothing, as in unpack and overlay
        scan.links[path] = link
    entry = TreeEntry(
        kind, link, header.mode, header.uid, header.gid, header.size, mtime=header.mtime
    )
    scan.events.append((path, entry, False))
    return path


class FlatTree:
    """A flattened stack of layers: :meth:`entry` for any path, :meth:`read` for wanted files.

    ``deleted`` and ``opaque`` remember what the layers whited out (paths, and directories
    made opaque), and ``dangling`` the hard links whose target is not in these layers, so a
    tree of some layers alone can later be laid over another tree (:meth:`over`) with the
    same result as flattening all of them together.
    """

    def __init__(
        self,
        entries: dict[str, TreeEntry],
        contents: dict[str, IO[bytes]],
        *,
        deleted: set[str] | None = None,
        opaque: set[str] | None = None,
    ) -> None:
        self.entries = entries
        self._contents = contents
        self.deleted = deleted if deleted is not None else set()
        self.opaque = opaque if opaque is not None else set()
        self.dangling: dict[str, str] = {}
        self.cleared: set[str] = set()  # paths a non-directory took, and the lower tree below
        self.link_targets: dict[str, str] = {}  # hard link -> the path holding its content

    def over(self, lower: FlatTree) -> FlatTree:
        """The entries of this tree's layers applied on top of ``lower`` (no contents kept)."""
        entries = dict(lower.entries)
        for directory in self.opaque | self.deleted:
            prefix = directory.rstrip("/") + "/"
            for path in [p for p in entries if p.startswith(prefix)]:
                del entries[path]
        for path in self.deleted:
            entries.pop(path, None)
        # A directory replaced by a file or link takes its lower contents with it.
        if self.cleared:
            for path in [p for p in entries if _below_any(p, self.cleared)]:
                del entries[path]
        upper = dict(self.entries)
        for path, target in self.dangling.items():
            # The target existed below when the link was made (else it could not be made),
            # whatever these layers deleted afterwards.
            found = lower.entries.get(target)
            if found is not None and path in upper:
                upper[path] = found
        entries.update(upper)
        return FlatTree(entries, {})

    def entry(self, path: str) -> TreeEntry | None:
        """The entry at ``path`` (hard links report their target's kind)."""
        return self.entries.get(normalize(path))

    def resolve(self, path: str) -> str:
        """``path`` with every symlink followed (within the image)."""
        parts = normalize(path).strip("/").split("/")
        done: list[str] = []
        hops = 0
        while parts:
            candidate = "/" + "/".join([*done, parts[0]])
            entry = self.entries.get(candidate)
            if entry is not None and entry.kind == "symlink":
                hops += 1
                if hops > _MAX_LINKS:
                    return candidate
                target = entry.linkname
                if not target.startswith("/"):
                    target = posixpath.join("/" + "/".join(done), target)
                parts = [p for p in normalize(target).split("/") if p] + parts[1:]
                done = []
                continue
            done.append(parts[0])
            parts = parts[1:]
        return "/" + "/".join(done)

    def read(self, path: str) -> bytes | None:
        """The content of a wanted regular file at ``path`` (symlinks followed), or None."""
        spool = self._contents.get(self.resolve(path))
        if spool is None:
            return None
        spool.seek(0)
        return spool.read()

    def overlay(self, layer: Layer, *, heads: bool = True) -> set[str]:
        """Apply one more layer on top (read once, nothing kept); returns the paths it adds."""
        return self._merge(_scan_layer(layer, lambda _path: False, heads))

    def overlay_headers(
        self, members: Iterable[tuple[TarHeader, bytes]], *, what: str = "new layer"
    ) -> set[str]:
        """Apply a layer given as its members' headers and first bytes (what a builder wrote).

        The same rules as :meth:`overlay`, without reading any layer: a recipe lints the layer
        it just built from what the builder already holds. Returns the paths it adds.
        """
        scan = _LayerScan()
        for header, head in members:
            path = _record(scan, header, what)
            if path is not None and head:
                event_path, entry, opaque = scan.events[-1]
                assert entry is not None
                scan.events[-1] = (event_path, dataclasses.replace(entry, head=head), opaque)
        return self._merge(scan)

    def _merge(self, scan: _LayerScan) -> set[str]:
        origin = dict.fromkeys(self.entries, -1)
        for _link in _apply(self.entries, origin, self._contents, scan, 0, self):
            pass
        return {path for path, entry, _opaque in scan.events if entry is not None}

    def close(self) -> None:
        """Drop the captured contents."""
        for spool in self._contents.values():
            spool.close()
        self._contents.clear()


def _below_any(path: str, directories: set[str]) -> bool:
    """Whether one of ``path``'s ancestors is in ``directories``."""
    parent = path.rpartition("/")[0]
    while parent:
        if parent in directories:
            return True
        parent = parent.rpartition("/")[0]
    return False


def _gone_here(path: str, tree: FlatTree) -> bool:
    """Whether these layers already removed ``path`` of the layers below (a link to nothing)."""
    if path in tree.deleted:
        return True
    return _below_any(path, tree.deleted | tree.opaque | tree.cleared)


def _apply(
    entries: dict[str, TreeEntry],
    origin: dict[str, int],
    contents: dict[str, IO[bytes]],
    scan: _LayerScan,
    index: int,
    tree: FlatTree,
) -> Iterator[tuple[str, str]]:
    """Merge one layer's events; yields wanted hard links (path, target) left to resolve.

    Whiteouts are also recorded in ``tree.deleted`` and ``tree.opaque``.
    """

    def drop_below(directory: str, only_lower: bool) -> None:
        prefix = directory.rstrip("/") + "/"
        for path in [p for p in entries if p.startswith(prefix)]:
            if not only_lower or origin[path] < index:
                del entries[path]
                origin.pop(path, None)
                # Not closed: the layer being applied may hand the same spool to a later
                # entry of that path; dropped spools close when nothing refers to them.
                contents.pop(path, None)

    for path, entry, opaque in scan.events:
        if opaque:
            drop_below(path, only_lower=True)
            tree.opaque.add(path)
            continue
        if entry is None:
            # image-spec: a whiteout hides lower layers only, never entries of its own layer.
            tree.deleted.add(path)
            drop_below(path, only_lower=True)
            prefix = path + "/"
            own_children = any(p.startswith(prefix) for p in entries)
            if origin.get(path, -1) < index and not own_children:
                entries.pop(path, None)
                origin.pop(path, None)
                contents.pop(path, None)
                tree.dangling.pop(path, None)
                tree.link_targets.pop(path, None)
            continue
        old = entries.get(path)
        if old is not None and old.kind == "dir" and entry.kind != "dir":
            drop_below(path, only_lower=False)
        if entry.kind != "dir":
            tree.cleared.add(path)
        if entry.kind == "hardlink":
            # A hard link is whatever its target is (ostree links the tree to repo objects);
            # a link to a link shares the first one's content.
            final = tree.link_targets.get(entry.linkname, entry.linkname)
            held = contents.get(entry.linkname)
            target = entries.get(entry.linkname)
            entries[path] = target if target is not None else TreeEntry("file")
            if entry.linkname in tree.dangling:  # a link to a link to the layers below
                tree.dangling[path] = tree.dangling[entry.linkname]
            elif target is None and not _gone_here(entry.linkname, tree):
                tree.dangling[path] = entry.linkname  # its target is in layers below these
            else:
                tree.dangling.pop(path, None)
            tree.link_targets[path] = final
            origin[path] = index
            contents.pop(path, None)
            if held is not None:
                contents[path] = held  # the same bytes: one spool serves both paths
            else:
                yield path, final
            continue
        entries[path] = entry
        tree.dangling.pop(path, None)
        tree.link_targets.pop(path, None)
        origin[path] = index
        contents.pop(path, None)  # an earlier content is not this entry's
        if path in scan.contents:
            contents[path] = scan.contents[path]


def flatten_image(
    image: Image,
    *,
    wanted: Callable[[str], bool] = lambda _path: False,
    heads: bool = False,
    threads: int | None = None,
    verify: bool = True,
    digests: bool = False,
) -> FlatTree:
    """Flatten ``image``'s layers into a :class:`FlatTree`.

    ``wanted(path)`` selects regular files whose content to keep (spooled, not in memory when
    large); ``heads`` keeps the first bytes of every file (for lint's key detection);
    ``digests`` records every file's sha256 (to compare trees).
    ``verify=False`` reads local layer blobs without hashing them (neither digest nor
    diff_id): only for a caller that writes the image to a sink which verifies every base blob
    before anything is committed, so nothing read here can reach an output unchecked.
    """
    return flatten_layers(
        image.layers, wanted=wanted, heads=heads, threads=threads, verify=verify, digests=digests
    )


def flatten_layers(
    layers: Sequence[Layer],
    *,
    wanted: Callable[[str], bool] = lambda _path: False,
    heads: bool = False,
    threads: int | None = None,
    verify: bool = True,
    digests: bool = False,
) -> FlatTree:
    """Flatten ``layers`` (bottom first) into a :class:`FlatTree`, as :func:`flatten_image` does.

    A whiteout removes only what the given layers hold: over no layers, the tree is just the
    paths these layers add.
    """
    layers = list(layers)
    workers = max(1, min(threads or cpu_count(), len(layers) or 1))
    with ThreadPoolExecutor(workers) as pool:
        scans = list(
            pool.map(
                lambda layer: _scan_layer(layer, wanted, heads, verify=verify, digests=digests),
                layers,
            )
        )
    entries: dict[str, TreeEntry] = {}
    origin: dict[str, int] = {}
    contents: dict[str, IO[bytes]] = {}
    tree = FlatTree(entries, contents)
    # Wanted hard links: the layer holding the target's content -> (path, target, link layer).
    second: dict[int, list[tuple[str, str, int]]] = {}
    for index, scan in enumerate(scans):
        for path, target in _apply(entries, origin, contents, scan, index, tree):
            if wanted(path) and path not in contents:
                # The content is in the layer that wrote the target, maybe an earlier one.
                layer = origin.get(target, index)
                second.setdefault(layer, []).append((path, target, index))
    for index, links in sorted(second.items()):
        targets = frozenset(target for _path, target, _link in links)
        scan = _scan_layer(layers[index], wanted, False, targets, verify=verify)
        for path, target, link_layer in links:
            # Only if the link is still what the stack leaves at that path.
            if target in scan.contents and origin.get(path) == link_layer:
                contents[path] = _spool(scan.contents[target])
                scan.contents[target].seek(0)
        for spool in scan.contents.values():
            spool.close()
    return tree


def wanted_paths(paths: Iterable[str]) -> Callable[[str], bool]:
    """A ``wanted`` predicate for exact paths and ``dir/*`` prefixes."""
    exact = {normalize(p) for p in paths if not p.endswith("/*")}
    prefixes = tuple(normalize(p[:-2]) + "/" for p in paths if p.endswith("/*"))
    return lambda path: path in exact or path.startswith(prefixes)
