"""Timing and peak-RSS measurement of commands, and the Markdown table the results go into."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])
_TIME = "/usr/bin/time"


@dataclass(frozen=True)
class Measurement:
    seconds: float
    max_rss_mib: float


def measure(
    argv: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    repeat: int = 1,
    stdin: int | None = subprocess.DEVNULL,
) -> Measurement:
    """Best wall time of ``repeat`` runs, with the peak RSS of that run."""
    best: Measurement | None = None
    full_env = dict(os.environ if env is None else env)
    full_env["PYTHONPATH"] = ROOT + os.pathsep + full_env.get("PYTHONPATH", "")
    # An installed package runs from cached bytecode; without this, every measured Python
    # process would first compile each module it imports.
    full_env.pop("PYTHONDONTWRITEBYTECODE", None)
    for _ in range(repeat):
        # Linux charges an exec'd child with the peak RSS of the process it was spawned from
        # (this harness, tens of MiB), so wait4 alone over-reports small tools. GNU time's
        # children start from its own tiny image; it writes their true peak to a file.
        with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
            wrapped = [_TIME, "-f", "%M", "-o", rss_file.name] if os.path.exists(_TIME) else []
            start = time.perf_counter()
            proc = subprocess.Popen(
                [*wrapped, *argv],
                env=full_env,
                cwd=cwd,
                stdin=stdin,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            _, status, usage = os.wait4(proc.pid, 0)
            elapsed = time.perf_counter() - start
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            if proc.stderr:
                proc.stderr.close()
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode != 0:
                raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {err[-2000:]}")
            lines = rss_file.read().split()
            rss_kib = int(lines[-1]) if wrapped and lines else usage.ru_maxrss
        current = Measurement(elapsed, rss_kib / 1024)
        if best is None or current.seconds < best.seconds:
            best = current
    assert best is not None
    return best


def ociforge(*args: str) -> list[str]:
    """argv running this checkout's ociforge."""
    return [sys.executable, "-m", "ociforge", *args]


@dataclass(frozen=True)
class Row:
    """One comparison: an operation, ociforge's measurement and the peer's."""

    operation: str
    ours: Measurement
    peer_name: str
    peer: Measurement | None
    note: str = ""

    def cells(self) -> list[str]:
        peer_s = f"{self.peer.seconds:.2f}" if self.peer else "–"
        ratio = (
            f"{self.peer.seconds / self.ours.seconds:.2f}×"
            if self.peer and self.ours.seconds
            else "–"
        )
        peer_rss = f"{self.peer.max_rss_mib:.0f}" if self.peer else "–"
        return [
            self.operation,
            f"{self.ours.seconds:.2f}",
            f"{self.ours.max_rss_mib:.0f}",
            self.peer_name,
            peer_s,
            peer_rss,
            ratio,
            self.note,
        ]


HEADER = [
    "operation",
    "ociforge s",
    "ociforge RSS MiB",
    "peer",
    "peer s",
    "peer RSS MiB",
    "speed-up (peer/ours)",
    "note",
]


def markdown(rows: Sequence[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r.cells()) + " |" for r in rows]
    return "\n".join(lines)
