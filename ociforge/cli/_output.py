"""Output helpers shared by the subcommands: JSON on stdout, digest files."""

from __future__ import annotations

import json
import sys
from typing import Any

from .._fs import write_file_atomic

__all__ = ["print_json", "write_digestfile"]


def print_json(document: Any) -> None:
    """One JSON document on stdout, indented for people, parseable by machines."""
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def write_digestfile(path: str | None, digest: str) -> None:
    """Write ``digest`` (no newline, as skopeo does) to ``path`` if one was given."""
    if path:
        write_file_atomic(path, digest.encode())
