"""Benchmark data, generated in a child process so the harness itself stays small.

``python -m benchmarks.data corpus PATH`` writes ~512 MiB of this machine's real files as a tar;
``python -m benchmarks.data cosa PATH [--size BYTES] [--layers N]`` writes a COSA-shaped
ociarchive (gzip layers of incompressible files, ostree labels, no ``./`` prefix, no ref name).
Both are deterministic for a given machine and reused if PATH exists.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import subprocess
import sys
import tarfile
from pathlib import Path

CORPUS_BYTES = 512 * 1024 * 1024


def make_corpus(path: Path, *, limit: int = CORPUS_BYTES) -> Path:
    """About ``limit`` bytes of real files (binaries, libraries, text) as one tar."""
    if path.exists():
        return path
    tmp = path.with_suffix(".tmp")
    total = 0
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tf:
        for root in ("/usr/lib", "/usr/share", "/usr/bin", "/usr/libexec", "/usr/local/lib"):
            for dirpath, _dirs, files in os.walk(root):
                for name in sorted(files):
                    full = os.path.join(dirpath, name)
                    try:
                        if os.path.islink(full) or not os.path.isfile(full):
                            continue
                        size = os.path.getsize(full)
                        if size > 64 << 20:
                            continue
                        tf.add(full, recursive=False)
                    except OSError:
                        continue
                    total += size
                    if total >= limit:
                        break
                if total >= limit:
                    break
            if total >= limit:
                break
    tmp.rename(path)
    return path


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_cosa_archive(
    path: Path, *, size: int = 1 << 30, layers: int = 51, files_per_mib: int = 4
) -> Path:
    """A COSA-shaped ociarchive of about ``size`` bytes, written member by member (flat RSS)."""
    if path.exists():
        return path
    rng = random.Random(1)
    per_layer = size // layers
    tmp = path.with_suffix(".tmp")
    blobs: list[tuple[str, int, str]] = []  # digest, size, diff_id
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as out:
        for d in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            out.addfile(info)
        for n in range(layers):
            raw = io.BytesIO()
            with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
                for dirname in ("usr", "usr/lib", f"usr/lib/pkg{n}"):
                    info = tarfile.TarInfo(dirname)
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    tf.addfile(info)
                left, i = per_layer, 0
                file_size = max(4096, (1 << 20) // files_per_mib)
                while left > 0:
                    chunk = min(left, file_size)
                    info = tarfile.TarInfo(f"usr/lib/pkg{n}/f{i}")
                    info.size = chunk
                    tf.addfile(info, io.BytesIO(rng.randbytes(chunk)))
                    left -= chunk
                    i += 1
            data = raw.getvalue()
            blob = subprocess.run(
                ["gzip", "-1", "-n", "-c"], input=data, capture_output=True, check=True
            ).stdout
            digest = _sha(blob)
            info = tarfile.TarInfo("blobs/sha256/" + digest.split(":")[1])
            info.size = len(blob)
            out.addfile(info, io.BytesIO(blob))
            blobs.append((digest, len(blob), _sha(data)))
        labels = {
            "containers.bootc": "1",
            "ostree.bootable": "true",
            "ostree.final-diffid": blobs[-1][2],
            "org.opencontainers.image.version": "43.20261122.0",
        }
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {"Labels": labels},
                "rootfs": {"type": "layers", "diff_ids": [b[2] for b in blobs]},
                "history": [{"created_by": f"chunk {i}"} for i in range(layers)],
            },
            separators=(",", ":"),
        ).encode()
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": _sha(config),
                    "size": len(config),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": d,
                        "size": s,
                    }
                    for d, s, _ in blobs
                ],
                "annotations": labels,
            },
            separators=(",", ":"),
        ).encode()
        index = json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": _sha(manifest),
                        "size": len(manifest),
                    }
                ],
            }
        ).encode()
        for name, data in (
            ("blobs/sha256/" + _sha(config).split(":")[1], config),
            ("blobs/sha256/" + _sha(manifest).split(":")[1], manifest),
            ("index.json", index),
            ("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    tmp.rename(path)
    return path


def ensure(kind: str, path: Path, *extra: str) -> Path:
    """Create benchmark data in a child process (keeps the caller's RSS small); return the path."""
    if not path.exists():
        subprocess.run(
            [sys.executable, "-m", "benchmarks.data", kind, str(path), *extra],
            check=True,
            cwd=str(Path(__file__).resolve().parents[1]),
        )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.data")
    parser.add_argument("kind", choices=["corpus", "cosa"])
    parser.add_argument("path", type=Path)
    parser.add_argument("--size", type=int, default=1 << 30)
    parser.add_argument("--layers", type=int, default=51)
    args = parser.parse_args()
    if args.kind == "corpus":
        make_corpus(args.path)
    else:
        make_cosa_archive(args.path, size=args.size, layers=args.layers)


if __name__ == "__main__":
    main()
