"""Generate docs/cli.md (every command's --help) and docs/api.md (the public API's docstrings).

``python docs/tools/reference.py`` rewrites both files; ``--check`` exits 1 if they are stale
(the test suite runs the check, so the references cannot drift from the code).
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

CLI_INTRO = """# CLI reference

Generated from the argument parser by `docs/tools/reference.py`; do not edit by hand.

Every command also takes `--json` (one JSON document on stdout; errors then become one JSON
object on stderr: `{"error": …, "kind": …, "exit": …}`), `-q/--quiet` (no progress or notes on
stderr) and `--debug` (a traceback with errors), after the command or before it (`ociforge
--json inspect …`). Exit status: 0 success; 1 an error, reported as one line `ociforge: error:
…` on stderr; 2 a usage error; 3 something that does not exist (an image, tag, blob, file or
package; skopeo uses 2 for this, which argparse gives usage errors); 130 interrupted. Flags are
never abbreviated, and `--tls-verify` (like skopeo's) means true on its own: a value needs `=`
(`--tls-verify=false`).
Progress goes to stderr (a live line on a terminal, a plain line every few seconds otherwise),
so stdout stays machine-readable.
"""

API_INTRO = """# API reference

Generated from the docstrings of `ociforge.__all__` by `docs/tools/reference.py`; do not edit
by hand. Everything not listed here is internal.
"""


def cli_reference() -> str:
    os.environ["COLUMNS"] = "100"
    from ociforge.cli import build_parser

    parser = build_parser()
    parts = [CLI_INTRO, "## ociforge\n", "```text\n" + parser.format_help().rstrip() + "\n```\n"]
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        command.prog = f"ociforge {name}"
        parts.append(f"## ociforge {name}\n")
        parts.append("```text\n" + command.format_help().rstrip() + "\n```\n")
    return "\n".join(parts)


def _default(value: object) -> str:
    if callable(value):
        return getattr(value, "__name__", "…")
    return repr(value)


def _signature(obj: object) -> str:
    """A signature with annotations as written (no quotes) and stable defaults."""
    try:
        sig = inspect.signature(obj)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "(…)"
    parts = []
    seen_star = False
    for param in sig.parameters.values():
        if param.kind is param.KEYWORD_ONLY and not seen_star:
            parts.append("*")
            seen_star = True
        if param.kind is param.VAR_POSITIONAL:
            seen_star = True
        text = {param.VAR_POSITIONAL: "*", param.VAR_KEYWORD: "**"}.get(param.kind, "") + param.name
        if param.annotation is not param.empty:
            text += (
                f": {param.annotation}"
                if isinstance(param.annotation, str)
                else f": {param.annotation!r}"
            )
        if param.default is not param.empty:
            text += f" = {_default(param.default)}"
        parts.append(text)
    result = f"({', '.join(parts)})"
    if sig.return_annotation is not sig.empty:
        result += f" -> {sig.return_annotation}"
    return result


def _docstring(obj: object, indent: str = "") -> str:
    """The whole docstring, paragraphs kept, each line indented (for list items)."""
    doc = inspect.getdoc(obj) or ""
    return "\n".join(indent + line if line else "" for line in doc.splitlines()).strip()


def _fields(cls: type) -> list[str]:
    """A dataclass's fields as ``name: type = default`` lines."""
    if not dataclasses.is_dataclass(cls):
        return []
    comments = _field_comments(cls)
    lines = []
    for field in dataclasses.fields(cls):
        if not field.init or field.name.startswith("_"):
            continue
        kind = field.type if isinstance(field.type, str) else repr(field.type)
        text = f"`{field.name}: {kind}"
        if field.default is not dataclasses.MISSING:
            text += f" = {_default(field.default)}"
        elif field.default_factory is not dataclasses.MISSING:
            factory = field.default_factory
            made = factory() if factory in (list, dict, tuple, set, frozenset) else None
            text += f" = {made!r}" if made is not None else f" = {factory.__name__}()"
        comment = comments.get(field.name)
        lines.append(f"- {text}`" + (f": {comment}" if comment else ""))
    return lines


def _field_comments(cls: type) -> dict[str, str]:
    """The comment on a field's line, or the comment lines just above it, in the class source."""
    try:
        source = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):
        return {}
    found: dict[str, str] = {}
    above: list[str] = []
    for line in source:
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped.lstrip("#:").strip())
            continue
        match = re.match(r"(\w+)\s*:[^=#]*(?:=[^#]*)?(?:#\s*(.*))?$", stripped)
        if match and not stripped.startswith(("def ", "return ")):
            text = (match.group(2) or "").lstrip(":").strip() or " ".join(above)
            if text:
                found.setdefault(match.group(1), text)
        above = []
    return found


def api_reference() -> str:
    import ociforge

    groups: dict[str, list[str]] = {"Functions": [], "Classes": [], "Exceptions": [], "Other": []}
    for name in ociforge.__all__:
        obj = getattr(ociforge, name)
        if name == "__version__":
            continue
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            bases = ", ".join(b.__name__ for b in obj.__bases__)
            groups["Exceptions"].append(f"- **`{name}`**({bases}): {_docstring(obj, '  ')}")
        elif inspect.isclass(obj):
            lines = [f"### `{name}`\n", f"*{obj.__module__}*\n", _docstring(obj) + "\n"]
            fields = _fields(obj)
            if fields:
                lines += ["Fields:\n", *fields, ""]
            members = [
                (m, getattr(obj, m))
                for m in sorted(vars(obj))
                if not m.startswith("_")
                and (callable(getattr(obj, m)) or isinstance(getattr(obj, m), property))
            ]
            if members:
                lines.append("Members:\n")
            for member, value in members:
                doc = _docstring(value, "  ")
                if doc:
                    lines.append(f"- `{member}`: {doc}")
            groups["Classes"].append("\n".join(lines) + "\n")
        elif callable(obj):
            signature = _signature(obj)
            groups["Functions"].append(
                f"### `{name}{signature}`\n\n*{obj.__module__}*\n\n{_docstring(obj)}\n"
            )
        else:
            groups["Other"].append(f"- `{name}`")
    out = [API_INTRO]
    for title, items in groups.items():
        if items:
            out.append(f"## {title}\n")
            out.append("\n".join(items) + "\n")
    return "\n".join(out)


def main() -> int:
    check = "--check" in sys.argv[1:]
    stale = []
    for path, text in (
        (ROOT / "docs" / "cli.md", cli_reference()),
        (ROOT / "docs" / "api.md", api_reference()),
    ):
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
    if stale:
        print(f"stale: {', '.join(stale)} (run python docs/tools/reference.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
