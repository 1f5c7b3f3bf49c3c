"""The ``ociforge`` command line: argument parsing and error reporting over the library."""

from __future__ import annotations

import argparse
import errno
import importlib
import json
import os
import sys
import traceback
from collections import Counter
from collections.abc import Sequence

from .. import __version__
from .._env import MAX_LAYER_SIZE_ENV, parse_size
from ..errors import NotFound, OciforgeError, RegistryError
from ._examples import epilog

__all__ = ["main"]

#: Each module adds its subcommand; the order is the order of ``ociforge --help``. They are
#: imported by :func:`build_parser`, inside :func:`main`'s handlers, so a Ctrl-C while they
#: load is "interrupted", not a traceback.
_COMMANDS = (
    "inspect",
    "show",
    "copy",
    "push",
    "index",
    "repository",
    "verify",
    "append",
    "mutate",
    "lint",
    "unpack",
    "repack",
    "squash",
    "rebase",
    "query",
    "machineconfig",
    "release_info",
    "demo",
    "completion",
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
    for name in _COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    for subparser in sub.choices.values():
        # A prefix of a flag is an error, not a guess (``--digest`` is not ``--digestfile``).
        subparser.allow_abbrev = False
        _add_common_options(subparser)
        if subparser.description:
            # Module docstrings read "``ociforge X``: does Y."; the help shows "Does Y." — the
            # first paragraph only, as the examples come from one table (_examples.py).
            text = subparser.description.split("\n\n", 1)[0].split(": ", 1)[-1]
            subparser.description = text[:1].upper() + text[1:]
        _describe_positionals(subparser)
    helps = {action.dest: action.help or "" for action in sub._choices_actions}
    shared = Counter(p.description for p in sub.choices.values())
    for name, subparser in sub.choices.items():
        if shared[subparser.description] > 1 and helps.get(name):
            # A module with several commands describes them together; each says its own part.
            subparser.description = helps[name][:1].upper() + helps[name][1:] + "."
        subparser.epilog = epilog(name)
        subparser.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


#: What an image argument accepts, for positionals that do not say.
_IMAGE_HELP = "oci-archive:PATH[:REF], oci:DIR[:REF] or docker://HOST/REPO[:TAG|@DIGEST]"
_POSITIONAL_HELP = {
    "IMAGE": _IMAGE_HELP,
    "SRC": f"the source image: {_IMAGE_HELP}",
    "DST": "where the result goes: oci-archive:PATH, oci:DIR[:REF] or docker://REF",
    "IMAGE_A": "the first image",
    "IMAGE_B": "the second image",
    "DERIVED": "the image whose added layers move",
    "BUNDLE": "an unpacked bundle directory (BUNDLE/rootfs and ociforge-bundle.json)",
}


def _describe_positionals(parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:
        if not action.option_strings and action.help is None:
            action.help = _POSITIONAL_HELP.get(str(action.metavar or action.dest))


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
    words = list(sys.argv[1:] if argv is None else argv)
    args = argparse.Namespace()
    try:
        parser = build_parser()
        args = parser.parse_args([f"{w}=true" if w in _PFLAG_BOOLEANS else w for w in words])
        for _flags, dest, _help in _GLOBAL_FLAGS:
            value = getattr(args, dest, False) or getattr(args, f"global_{dest}")
            setattr(args, dest, bool(value))
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
        if isinstance(exc, RegistryError) and exc.remedy:
            from ._registry import registry_hint  # noqa: PLC0415 - only on registry errors

            hint = registry_hint(exc)
            first_line += f" ({hint})" if hint else ""
        code = EXIT_NOT_FOUND if isinstance(exc, NotFound | FileNotFoundError) else EXIT_ERROR
        if getattr(args, "json", False):
            document = {"error": first_line, "kind": type(exc).__name__, "exit": code}
            print(json.dumps(document), file=sys.stderr)
        else:
            print(f"ociforge: error: {first_line}", file=sys.stderr)
        return code
