"""The ``ociforge`` command line: argument parsing and error reporting over the library."""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import traceback
from collections.abc import Sequence

from .. import __version__
from .._env import MAX_LAYER_SIZE_ENV, parse_size
from ..errors import NotFound, OciforgeError
from . import (
    append,
    completion,
    copy,
    demo,
    inspect,
    lint,
    machineconfig,
    mutate,
    push,
    query,
    rebase,
    release_info,
    repack,
    show,
    squash,
    unpack,
    verify,
)

__all__ = ["main"]

#: Each module adds its subcommand; the order is the order of ``ociforge --help``.
_COMMANDS = (
    inspect,
    show,
    copy,
    push,
    verify,
    append,
    mutate,
    lint,
    unpack,
    repack,
    squash,
    rebase,
    query,
    machineconfig,
    release_info,
    demo,
    completion,
)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
#: An image, blob, tag, file or package that does not exist (skopeo uses 2, which argparse
#: already gives usage errors here).
EXIT_NOT_FOUND = 3
EXIT_INTERRUPTED = 130

#: Boolean flags with pflag semantics, as skopeo's: alone they mean true, and a value needs
#: ``=`` (``--tls-verify=false``), so ``--tls-verify docker://x`` keeps its argument.
_PFLAG_BOOLEANS = frozenset({"--tls-verify", "--src-tls-verify", "--dest-tls-verify"})
#: Options every subcommand takes, also accepted before the subcommand.
_GLOBAL_FLAGS = (
    (("--debug",), "debug", "show tracebacks on errors"),
    (("--json",), "json", "print one JSON document on stdout (errors as JSON on stderr)"),
    (("-q", "--quiet"), "quiet", "no progress or notes on stderr"),
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = argparse.ArgumentParser(
        prog="ociforge",
        description="Build, layer and ship CoreOS-style OCI images without a container runtime.",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"ociforge {__version__}")
    for flags, dest, help_text in _GLOBAL_FLAGS:
        parser.add_argument(*flags, dest=f"global_{dest}", action="store_true", help=help_text)
    parser.add_argument(
        "--max-layer-size",
        type=_size,
        metavar="SIZE",
        help="refuse layers that decompress to more than SIZE (e.g. 16G; default 64G;"
        f" also {MAX_LAYER_SIZE_ENV})",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _COMMANDS:
        module.register(sub)
    for subparser in sub.choices.values():
        # A prefix of a flag is an error, not a guess (``--digest`` is not ``--digestfile``).
        subparser.allow_abbrev = False
        _add_common_options(subparser)
        if subparser.description:
            # Module docstrings read "``ociforge X``: does Y."; the help shows "Does Y."
            text = subparser.description.split(": ", 1)[-1]
            subparser.description = text[:1].upper() + text[1:]
    return parser


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_common_options(parser: argparse.ArgumentParser) -> None:
    """Give every subcommand --debug, --json and --quiet (unless it defines its own)."""
    present = {opt for action in parser._actions for opt in action.option_strings}
    for flags, _dest, help_text in _GLOBAL_FLAGS:
        if not present.intersection(flags):
            parser.add_argument(*flags, action="store_true", help=help_text)


def _describe_os_error(exc: OSError) -> str:
    where = exc.filename if exc.filename is not None else ""
    text = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        text = "no space left on device"
    return f"{where}: {text}" if where else text


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args([f"{w}=true" if w in _PFLAG_BOOLEANS else w for w in words])
    for _flags, dest, _help in _GLOBAL_FLAGS:
        setattr(args, dest, bool(getattr(args, dest, False) or getattr(args, f"global_{dest}")))
    try:
        return int(args.func(args) or EXIT_OK)
    except KeyboardInterrupt:
        print("ociforge: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of stdout went away (e.g. `| head`); not an error worth a message.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    except (OciforgeError, OSError, ValueError) as exc:
        if getattr(args, "debug", False):
            traceback.print_exc()
        if isinstance(exc, OSError) and not isinstance(exc, OciforgeError):
            message = _describe_os_error(exc)
        else:
            message = str(exc)
        first_line = message.splitlines()[0] if message else type(exc).__name__
        code = EXIT_NOT_FOUND if isinstance(exc, NotFound | FileNotFoundError) else EXIT_ERROR
        if getattr(args, "json", False):
            document = {"error": first_line, "kind": type(exc).__name__, "exit": code}
            print(json.dumps(document), file=sys.stderr)
        else:
            print(f"ociforge: error: {first_line}", file=sys.stderr)
        return code
