"""Run the ``ociforge`` command as a user would: a separate process, exit status and streams."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

#: The checkout under test, so subprocesses import this tree's ociforge whatever the cwd.
ROOT = str(Path(__file__).resolve().parents[2])


@dataclass
class Result:
    code: int
    out: str
    err: str


def ociforge(
    *args: str,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
) -> Result:
    full_env = dict(os.environ if env is None else env)
    full_env["PYTHONPATH"] = ROOT + os.pathsep + full_env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-m", "ociforge", *args],
        capture_output=True,
        input=input,
        env=full_env,
        cwd=cwd,
        timeout=600,
        check=False,
    )
    return Result(
        proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
    )


def assert_clean_error(result: Result, *fragments: str) -> None:
    """A failed command: non-zero, one stderr line starting 'ociforge: error:', no traceback."""
    assert result.code != 0, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("ociforge: error: "), result.err
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
