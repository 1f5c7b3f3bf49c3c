"""Registry push and pull vs ``skopeo copy``, each against its own fresh local registry.

A COSA-shaped ociarchive (≥ 1 GiB, 51 gzip layers, from :mod:`benchmarks.data`) is pushed by
ociforge and by skopeo to two fresh CNCF distribution registries on 127.0.0.1, pushed again
by ociforge (no blob may move), then pulled back into ociarchives by both. The registries'
own logs count the uploads, so the re-push row states what the server saw.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.support.registry import Registry, start_registry

from .data import ensure
from .harness import Measurement, Row, measure, ociforge

SIZE = int(os.environ.get("OCIFORGE_BENCH_REGISTRY_BYTES", str(1 << 30)))
REPO = "bench/fcos"


def _env() -> dict[str, str]:
    # No periodic progress lines in the measured runs (the harness drops the bytecode switch).
    return {**os.environ, "OCIFORGE_PROGRESS_INTERVAL": "3600"}


def _skopeo(*args: str) -> list[str]:
    return ["skopeo", "--insecure-policy", *args]


def _uploads(registry: Registry, since: int) -> int:
    return sum(1 for r in registry.requests()[since:] if r.method == "POST")


def run(workdir: Path) -> list[Row]:
    workdir.mkdir(parents=True, exist_ok=True)
    archive = ensure("cosa", workdir / "cosa.ociarchive", "--size", str(SIZE))
    size_gib = archive.stat().st_size / (1 << 30)
    env = _env()
    measure(ociforge("--version"), env=env)  # compile and cache bytecode once
    ours = start_registry(workdir / "registry-ours")
    peer = start_registry(workdir / "registry-skopeo")
    rows: list[Row] = []
    try:
        push: Measurement = measure(
            ociforge(
                "push", f"oci-archive:{archive}", ours.ref(f"{REPO}:v1"), "--tls-verify=false"
            ),
            env=env,
        )
        skopeo_push = measure(
            _skopeo(
                "copy", "--dest-tls-verify=false", f"oci-archive:{archive}", peer.ref(f"{REPO}:v1")
            )
        )
        rows.append(Row(f"push {size_gib:.2f} GiB, 51 layers", push, "skopeo copy", skopeo_push))
        seen = len(ours.requests())
        again = measure(
            ociforge(
                "push", f"oci-archive:{archive}", ours.ref(f"{REPO}:v1"), "--tls-verify=false"
            ),
            env=env,
            repeat=3,
        )
        moved = _uploads(ours, seen)
        note = f"best of 3; registry log: {moved} uploads started"
        rows.append(Row("re-push (all present)", again, "", None, note))
        pulled_ours = workdir / "pulled-ours.ociarchive"
        pulled_peer = workdir / "pulled-skopeo.ociarchive"
        pull = measure(
            ociforge(
                "copy", ours.ref(f"{REPO}:v1"), f"oci-archive:{pulled_ours}", "--tls-verify=false"
            ),
            env=env,
        )
        skopeo_pull = measure(
            _skopeo(
                "copy",
                "--src-tls-verify=false",
                peer.ref(f"{REPO}:v1"),
                f"oci-archive:{pulled_peer}",
            )
        )
        rows.append(Row("pull to ociarchive", pull, "skopeo copy", skopeo_pull))
    finally:
        ours.stop()
        peer.stop()
        for path in (workdir / "registry-ours", workdir / "registry-skopeo"):
            shutil.rmtree(path, ignore_errors=True)
    return rows
