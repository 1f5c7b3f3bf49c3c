"""Random stacks of layers over a few paths, as stdlib tar entries, for the overlay properties.

Three implementations apply a stack of layers (``tar.unpack`` to a directory, ``tar.flatten``
to memory, ``tar.overlay`` to a one-layer plan); the properties that compare them, and squash
with them, draw their stacks here. Like real tools, each entry is preceded by entries for the
parent directories it writes in. These helpers never import ociforge.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from tests.support.images import Entry, directory, file, hardlink, symlink

#: The few paths a stack writes: parents and children, so whiteouts and opaques hit something.
PATHS = ("a", "a/x", "a/y", "b", "b/z", "c")
#: Every kind of entry a stack may hold.
KINDS = ("file", "dir", "whiteout", "opaque", "link", "symlink")


def whiteout(name: str) -> Entry:
    """An OCI whiteout entry (an empty regular file with a ``.wh.`` name)."""
    return file(name, b"")


def base_layer() -> list[Entry]:
    """What sits below a stack: a directory with a file, a top-level file, an empty directory."""
    return [directory("a"), file("a/x", "base"), file("c", "base"), directory("b")]


@st.composite
def stacks(
    draw: st.DrawFn,
    *,
    kinds: Sequence[str] = KINDS,
    layers: tuple[int, int] = (2, 4),
    entries: tuple[int, int] = (1, 5),
    metadata: bool = False,
) -> list[list[Entry]]:
    """Random layers over :data:`PATHS`; ``metadata`` also varies modes, owners and sizes."""

    def meta(mode: int) -> dict[str, int]:
        if not metadata:
            return {"mode": mode}
        return {
            "mode": draw(st.sampled_from([mode, 0o700, 0o750, 0o4755])),
            "uid": draw(st.sampled_from([0, 7, 1000])),
            "gid": draw(st.sampled_from([0, 8, 1000])),
        }

    out = []
    for _ in range(draw(st.integers(*layers))):
        layer: list[Entry] = []
        for _ in range(draw(st.integers(*entries))):
            path = draw(st.sampled_from(PATHS))
            kind = draw(st.sampled_from(list(kinds)))
            parents = path.split("/")[:-1] if kind != "opaque" else path.split("/")
            layer += [directory("/".join(parents[: d + 1])) for d in range(len(parents))]
            if kind == "file":
                layer.append(file(path, draw(st.sampled_from(["1", "22", "333"])), **meta(0o644)))
            elif kind == "dir":
                layer.append(directory(path, **meta(0o755)))
            elif kind == "whiteout":
                head, _, tail = path.rpartition("/")
                layer.append(whiteout(f"{head}/.wh.{tail}".lstrip("/")))
            elif kind == "opaque":
                layer.append(whiteout(f"{path}/.wh..wh..opq"))
            elif kind == "link":
                layer.append(hardlink(path, draw(st.sampled_from(PATHS))))
            else:
                layer.append(symlink(path, draw(st.sampled_from([*PATHS, "../c", "/a"]))))
        out.append(layer)
    return out
