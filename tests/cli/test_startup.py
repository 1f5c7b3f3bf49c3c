"""Start-up: a Ctrl-C while the commands load is a clean "interrupted", not a traceback."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

from tests.support.cli import ROOT

# The user's Ctrl-C arrives while a command module is being imported.
_INTERRUPT_DURING_IMPORT = """
import sys

class Interrupting:
    def find_spec(self, name, path=None, target=None):
        if name == "ociforge.cli.append":
            raise KeyboardInterrupt
        return None

sys.meta_path.insert(0, Interrupting())
from ociforge.cli import main
raise SystemExit(main(["inspect", "oci-archive:nothing.ociarchive"]))
"""


def test_ctrl_c_while_commands_load_is_one_line_and_exit_130() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _INTERRUPT_DURING_IMPORT],
        env={**os.environ, "PYTHONPATH": ROOT},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr == "ociforge: interrupted\n"
    assert proc.stdout == ""


def test_the_library_does_not_load_the_commands() -> None:
    """``import ociforge`` (and its CLI entry module) loads no command and no recipe."""
    code = (
        "import sys, ociforge, ociforge.cli;"
        "print(sorted(m for m in sys.modules if m.startswith('ociforge.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": ROOT},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    loaded = ast.literal_eval(out)
    assert "ociforge.cli.append" not in loaded
    assert not [m for m in loaded if m.startswith(("ociforge.recipes", "ociforge.transports"))]
