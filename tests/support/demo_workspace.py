"""A directory as a reader has it after ``ociforge demo``, with ``ociforge`` on PATH.

The README, the how-tos and every command's ``--help`` examples run in such a directory: it
holds what ``ociforge demo`` writes and nothing else, and ``ociforge`` runs this checkout.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from tests.support.cli import ROOT

#: The inputs the docs use, as the demo writes them.
DEMO_INPUTS = ("fcos.ociarchive", "hello-agent-1.0-1.noarch.rpm", "config.ign")


def run_demo(out: Path) -> Path:
    """``ociforge demo -o OUT`` through the CLI, as a reader runs it."""
    subprocess.run(
        [sys.executable, "-m", "ociforge", "demo", "-o", str(out)],
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    return out


def fill_workspace(directory: Path, demo_output: Path) -> dict[str, str]:
    """Copy the demo's files into ``directory``; the environment that finds ``ociforge``."""
    for name in (*DEMO_INPUTS, "derived.ociarchive"):
        shutil.copyfile(demo_output / name, directory / name)
    shim = directory / ".bin" / "ociforge"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m ociforge "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    return {
        **os.environ,
        "PATH": f"{shim.parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": ROOT,
    }
