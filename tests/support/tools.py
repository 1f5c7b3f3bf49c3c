"""Gate tests on real peer tools: skip locally, fail in CI (OCIFORGE_REQUIRE_TOOLS=1)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

REQUIRED = os.environ.get("OCIFORGE_REQUIRE_TOOLS") == "1"


def need(*tools: str) -> None:
    """Skip (or, in CI, fail) unless every tool is on PATH."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        message = f"needs {', '.join(missing)} (apt-get install; see .ci/run)"
        if REQUIRED:
            pytest.fail(message + " but OCIFORGE_REQUIRE_TOOLS=1")
        pytest.skip(message)


def run(argv: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a peer tool, failing the test with its output if it fails."""
    proc = subprocess.run(list(argv), capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def skopeo(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """skopeo with the signature policy switched off (tests use throwaway images)."""
    need("skopeo")
    return run(["skopeo", "--insecure-policy", *args], **kwargs)


def ostree_import(blob: bytes, workdir: Path) -> Path:
    """Commit a layer blob into a fresh bare-user ostree repo (branch ``layer``); return the repo.

    This is how ostree-ext imports a derived layer: ``--tree=tar=`` with parents auto-created.
    """
    need("ostree")
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "layer.blob"
    path.write_bytes(blob)
    repo = workdir / "repo"
    run(["ostree", "init", "--mode=bare-user", f"--repo={repo}"])
    run(
        [
            "ostree",
            "commit",
            f"--repo={repo}",
            "-b",
            "layer",
            f"--tree=tar={path}",
            "--tar-autocreate-parents",
            "--no-bindings",
        ]
    )
    return repo
