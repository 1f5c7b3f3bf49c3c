"""Layers vs umoci: rootless unpack of a COSA-shaped image, then repack after small and larger edits.

Both tools read the same OCI layout (umoci cannot read an ociarchive). The image is made by
``benchmarks.data`` with ~32 files per MiB, which gives the file count of a real FCOS image.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .harness import Row, measure, ociforge

IMAGE_BYTES = 1100 * 1024 * 1024
FILES_PER_MIB = 32
LAYERS = 51

_MAKE = """
import sys
from pathlib import Path
from benchmarks.data import make_cosa_archive
make_cosa_archive(Path(sys.argv[1]), size=int(sys.argv[2]), layers=int(sys.argv[3]),
                  files_per_mib=int(sys.argv[4]))
"""


def _image(workdir: Path) -> tuple[Path, Path]:
    archive = workdir / "cosa-layers.ociarchive"
    if not archive.exists():
        subprocess.run(
            [
                sys.executable,
                "-c",
                _MAKE,
                str(archive),
                str(IMAGE_BYTES),
                str(LAYERS),
                str(FILES_PER_MIB),
            ],
            check=True,
            cwd=str(Path(__file__).resolve().parents[1]),
        )
    layout = workdir / "layout"
    if not layout.exists():
        measure(ociforge("copy", f"oci-archive:{archive}", f"oci:{layout}:bench"))
    return archive, layout


def _small_edit(rootfs: Path) -> None:
    target = next((rootfs / "usr/lib/pkg7").iterdir())
    with open(target, "ab") as fh:
        fh.write(b"edited\n")
    (rootfs / "usr/lib/pkg7/new-file").write_bytes(os.urandom(1 << 20))
    victim = sorted((rootfs / "usr/lib/pkg9").iterdir())[0]
    victim.unlink()


def _large_edit(rootfs: Path) -> None:
    extra = rootfs / "usr/share/extra"
    extra.mkdir(parents=True)
    for i in range(64):
        (extra / f"blob{i}").write_bytes(os.urandom(1 << 20))


def _files(rootfs: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(rootfs))


def run(workdir: Path) -> list[Row]:
    workdir.mkdir(parents=True, exist_ok=True)
    archive, layout = _image(workdir)
    size_mib = archive.stat().st_size / (1 << 20)
    ours, theirs = workdir / "ours", workdir / "umoci"
    for bundle in (ours, theirs):
        shutil.rmtree(bundle, ignore_errors=True)
    rows: list[Row] = []

    peer = measure(["umoci", "unpack", "--rootless", "--image", f"{layout}:bench", str(theirs)])
    mine = measure(ociforge("unpack", "--rootless", f"oci:{layout}:bench", str(ours)))
    files = _files(ours / "rootfs")
    assert files == _files(theirs / "rootfs"), "the two unpacks differ in file count"
    note = f"{size_mib:.0f} MiB archive, {LAYERS} gzip layers, {files} files"
    rows.append(Row("unpack --rootless (OCI layout)", mine, "umoci unpack --rootless", peer, note))
    shutil.rmtree(workdir / "ours-archive", ignore_errors=True)
    direct = measure(
        ociforge("unpack", "--rootless", f"oci-archive:{archive}", str(workdir / "ours-archive"))
    )
    rows.append(
        Row(
            "unpack --rootless (ociarchive in place)",
            direct,
            "-",
            None,
            "umoci cannot read an ociarchive",
        )
    )
    shutil.rmtree(workdir / "ours-archive", ignore_errors=True)

    for label, edit, tag in (
        ("repack after a small edit", _small_edit, "small"),
        ("repack after adding 64 MiB", _large_edit, "large"),
    ):
        edit(ours / "rootfs")
        edit(theirs / "rootfs")
        peer = measure(
            ["umoci", "repack", "--refresh-bundle", "--image", f"{layout}:umoci-{tag}", str(theirs)]
        )
        mine = measure(ociforge("repack", str(ours), f"oci:{layout}:ours-{tag}"))
        detail = (
            "1 file changed, 1 MiB added, 1 deleted"
            if tag == "small"
            else "64 files of 1 MiB added"
        )
        rows.append(Row(label, mine, "umoci repack", peer, detail))
        if tag == "small":
            # The next edit is compared with a fresh bundle, as umoci's --refresh-bundle does.
            shutil.rmtree(ours)
            measure(ociforge("unpack", "--rootless", f"oci:{layout}:ours-small", str(ours)))
    for bundle in (ours, theirs):
        shutil.rmtree(bundle, ignore_errors=True)
    return rows
