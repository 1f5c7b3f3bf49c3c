"""Start-up: how long ``ociforge --help`` and ``ociforge inspect`` of a small image take.

The floor is the interpreter itself (``python -c pass``, shown as its own row); the peers are
skopeo's ``--help`` and ``inspect`` of the same archive (a static Go binary: no interpreter to
start, but it unpacks an ociarchive into a temporary directory before reading it).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from ociforge.archive import OciArchive

from .harness import Measurement, Row, measure, ociforge

_REPEAT = 7


def run(workdir: Path) -> list[Row]:
    workdir.mkdir(parents=True, exist_ok=True)
    demo = workdir / "demo"
    measure(ociforge("demo", "-q", "-o", str(demo)))
    path = demo / "fcos.ociarchive"
    archive = f"oci-archive:{path}"
    with OciArchive(str(path)) as opened:
        layers = len(opened.image().layers)
    size = f"the demo's base: {layers} layers, {path.stat().st_size // 1024} KiB"
    skopeo = shutil.which("skopeo")

    def peer(*args: str) -> Measurement | None:
        return measure([skopeo, *args], repeat=_REPEAT) if skopeo else None

    floor = measure([sys.executable, "-c", "pass"], repeat=_REPEAT)
    bare = measure([sys.executable, "-c", "import ociforge"], repeat=_REPEAT)
    rows = [
        Row("python -c pass (the floor)", floor, "-", None, "interpreter start-up alone"),
        Row("python -c 'import ociforge'", bare, "-", None, "public API, loaded lazily"),
        Row(
            "ociforge --help",
            measure(ociforge("--help"), repeat=_REPEAT),
            "skopeo --help",
            peer("--help"),
        ),
        Row(
            "ociforge append --help",
            measure(ociforge("append", "--help"), repeat=_REPEAT),
            "skopeo copy --help",
            peer("copy", "--help"),
        ),
        Row(
            "ociforge inspect (small ociarchive)",
            measure(ociforge("inspect", archive), repeat=_REPEAT),
            "skopeo inspect",
            peer("inspect", archive),
            size,
        ),
    ]
    return rows
