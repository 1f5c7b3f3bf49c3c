"""Streaming core vs peers: sha256, gzip vs pigz, zstd vs zstd, archive copy vs cp."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from .data import ensure
from .harness import Measurement, Row, measure, ociforge

CORPUS_BYTES = 512 * 1024 * 1024
ARCHIVE_BYTES = 1024 * 1024 * 1024

# Python snippets run in a fresh interpreter each, so every row has its own peak RSS.
_HASHLIB = """
import hashlib, sys
h = hashlib.sha256(); buf = bytearray(1 << 20); mv = memoryview(buf)
with open(sys.argv[1], 'rb', buffering=0) as f:
    while n := f.readinto(buf):
        h.update(mv[:n])
print(h.hexdigest())
"""
_OURS_SHA = """
import sys
from ociforge.streams import HashingWriter, copy_stream
w = HashingWriter(None)
with open(sys.argv[1], 'rb', buffering=0) as f:
    copy_stream(f, w)
print(w.digest())
"""
_OURS_COMPRESS = """
import sys
from ociforge.compression import LayerWriter
codec, level, src, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
with open(src, 'rb', buffering=0) as f, open(dst, 'wb') as out:
    w = LayerWriter(out, codec, level=level)
    while chunk := f.read(1 << 20):
        w.write(chunk)
    print(w.close())
"""


def _ratio(src: Path, out: Path) -> float:
    return src.stat().st_size / out.stat().st_size


def _python(script: str, *args: str) -> list[str]:
    return [sys.executable, "-c", script, *args]


def run(workdir: Path) -> list[Row]:
    workdir.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    corpus = ensure("corpus", workdir / "corpus.tar")
    mib = corpus.stat().st_size / (1 << 20)
    note = f"{mib:.0f} MiB of real files"

    ours = measure(_python(_OURS_SHA, str(corpus)), repeat=3)
    rows.append(
        Row(
            "sha256 (HashingWriter)",
            ours,
            "sha256sum",
            measure(["sha256sum", str(corpus)], repeat=3),
            note,
        )
    )
    rows.append(
        Row(
            "sha256 (HashingWriter)",
            ours,
            "raw hashlib",
            measure(_python(_HASHLIB, str(corpus)), repeat=3),
            note,
        )
    )

    out = workdir / "out.bin"
    pigz: dict[int, tuple[Measurement, float]] = {}
    for pigz_level in (1, 2, 3, 4, 6):
        timing = measure(["sh", "-c", f"pigz -c -p 2 -{pigz_level} {corpus} > {out}"], repeat=2)
        pigz[pigz_level] = (timing, _ratio(corpus, out))
    for level in (1, 2, 3):
        ours = measure(_python(_OURS_COMPRESS, "gzip", str(level), str(corpus), str(out)), repeat=2)
        ratio = _ratio(corpus, out)
        # Compare with pigz at the level whose ratio is closest to ours ("at equal ratio").
        pigz_level = min(pigz, key=lambda lvl: abs(pigz[lvl][1] - ratio))
        timing, pigz_ratio = pigz[pigz_level]
        rows.append(
            Row(
                f"gzip L{level} + both digests",
                ours,
                f"pigz -p2 -{pigz_level}",
                timing,
                f"ratio ours {ratio:.3f} vs pigz {pigz_ratio:.3f}",
            )
        )

    ours = measure(_python(_OURS_COMPRESS, "zstd", "3", str(corpus), str(out)), repeat=2)
    ratio = _ratio(corpus, out)
    peer = measure(["sh", "-c", f"zstd -q -3 -T0 -c {corpus} > {out}"], repeat=2)
    peer_ratio = _ratio(corpus, out)
    rows.append(
        Row(
            "zstd L3 + both digests",
            ours,
            "zstd -3 -T0",
            peer,
            f"ratio ours {ratio:.3f} vs {peer_ratio:.3f}",
        )
    )

    # The same job as ours: compress and know both digests (input and output).
    peer = measure(
        [
            "bash",
            "-c",
            f"sha256sum {corpus} > /dev/null & zstd -q -3 -T0 -c {corpus} | tee >(sha256sum > /dev/null) > {out}; wait",
        ],
        repeat=2,
    )
    rows.append(
        Row(
            "zstd L3 + both digests",
            ours,
            "zstd -3 -T0 + 2× sha256sum",
            peer,
            "same job: compress, hash input and output",
        )
    )

    archive = ensure("cosa", workdir / "cosa-1g.ociarchive")
    gib = archive.stat().st_size / (1 << 30)
    dst = workdir / "copy.ociarchive"
    ours = measure(ociforge("copy", "-q", f"oci-archive:{archive}", f"oci-archive:{dst}"), repeat=3)
    dst.unlink()
    peer = measure(["cp", str(archive), str(dst)], repeat=3)
    rows.append(
        Row(
            "copy ociarchive → ociarchive (verified)", ours, "cp", peer, f"{gib:.2f} GiB, 51 layers"
        )
    )
    dst.unlink()
    synced = measure(["sh", "-c", f"cp {archive} {dst} && sync {dst}"], repeat=3)
    rows.append(
        Row(
            "copy ociarchive → ociarchive (verified)",
            ours,
            "cp + sync",
            synced,
            "ours fsyncs before the rename",
        )
    )
    dst.unlink()
    ours = measure(
        ociforge("copy", "-q", "--no-verify", f"oci-archive:{archive}", f"oci-archive:{dst}"),
        repeat=3,
    )
    rows.append(
        Row(
            "copy ociarchive → ociarchive --no-verify",
            ours,
            "cp",
            peer,
            "sizes checked, no re-hash",
        )
    )
    rows.append(Row("copy ociarchive → ociarchive --no-verify", ours, "cp + sync", synced, ""))
    dst.unlink()
    payload = workdir / "payload"
    payload.mkdir(exist_ok=True)
    (payload / "blob.bin").write_bytes(os.urandom(10 << 20))
    append = [
        "append",
        "-q",
        f"oci-archive:{archive}",
        f"oci-archive:{dst}",
        "--add",
        f"{payload}:/usr/share/payload",
    ]
    ours = measure(ociforge(*append), repeat=3)
    rows.append(
        Row("append 10 MiB to the archive (verified)", ours, "cp", peer, "one new gzip layer")
    )
    rows.append(Row("append 10 MiB to the archive (verified)", ours, "cp + sync", synced, ""))
    ours = measure(ociforge(*append, "--no-verify"), repeat=3)
    rows.append(Row("append 10 MiB to the archive --no-verify", ours, "cp", peer, ""))
    rows.append(Row("append 10 MiB to the archive --no-verify", ours, "cp + sync", synced, ""))
    shutil.rmtree(workdir / "layout", ignore_errors=True)
    ours = measure(
        ociforge("copy", "-q", f"oci-archive:{archive}", f"oci:{workdir / 'layout'}"), repeat=1
    )
    rows.append(Row("copy ociarchive → oci layout (verified)", ours, "cp", peer, f"{gib:.2f} GiB"))
    ours = measure(ociforge("verify", "-q", f"oci-archive:{archive}"), repeat=1)
    rows.append(Row("verify (digests + diff_ids)", ours, "cp", peer, "decompresses every layer"))
    out.unlink(missing_ok=True)
    dst.unlink(missing_ok=True)
    return rows
