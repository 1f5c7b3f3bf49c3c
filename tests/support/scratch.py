"""Scratch OS trees described as dicts: written to disk for a peer tool, and as a MemoryTree.

A tree is ``{path: text | Link(target)}``; the same description drives the oracle (real
``systemctl --root``, Debian ``update-alternatives --root``) and ociforge's pure appliers.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ociforge.ostree.view import MemoryTree
from tests.support.tools import need


@dataclass(frozen=True)
class Link:
    target: str


Tree = Mapping[str, "str | bytes | Link"]


def write(root: Path, tree: Tree) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for path, node in tree.items():
        dest = root / path.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(node, Link):
            dest.symlink_to(node.target)
        elif isinstance(node, bytes):
            dest.write_bytes(node)
        else:
            dest.write_text(node)
    return root


def memory(tree: Tree) -> MemoryTree:
    files = {
        p: (n if isinstance(n, bytes) else n.encode())
        for p, n in tree.items()
        if not isinstance(n, Link)
    }
    links = {p: n.target for p, n in tree.items() if isinstance(n, Link)}
    return MemoryTree(files, links)


def links_under(root: Path, *directories: str) -> dict[str, str]:
    """Every symlink below ``directories`` of ``root``: image path → target."""
    out = {}
    for directory in directories:
        top = root / directory.lstrip("/")
        for base, dirs, files in os.walk(top):
            for name in dirs + files:
                path = Path(base) / name
                if path.is_symlink():
                    out["/" + str(path.relative_to(root))] = os.readlink(path)
    return out


def apply(
    links: Mapping[str, str], add: Mapping[str, str], remove: Sequence[str]
) -> dict[str, str]:
    out = {p: t for p, t in links.items() if p not in remove}
    out.update(add)
    return out


def systemctl_preset(
    root: Path, units: Sequence[str], *, user: bool = False
) -> subprocess.CompletedProcess[str]:
    need("systemctl")
    argv = ["systemctl", f"--root={root}", *(["--global"] if user else []), "preset", *units]
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def update_alternatives(root: Path, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Debian's ``update-alternatives`` on ``root`` (state in ``root/var/lib/dpkg/alternatives``)."""
    need("update-alternatives")
    admin = root / "var/lib/dpkg/alternatives"
    admin.mkdir(parents=True, exist_ok=True)
    (root / "etc/alternatives").mkdir(parents=True, exist_ok=True)
    base = [
        "update-alternatives",
        "--root",
        str(root),
        "--admindir",
        str(admin),
        "--log",
        "/dev/null",
    ]
    # chkconfig's newer spelling; Debian only knows the old one, which chkconfig also accepts.
    args = ["--slave" if arg == "--follower" else arg for arg in argv[1:]]
    return subprocess.run([*base, *args], capture_output=True, text=True, check=False)
