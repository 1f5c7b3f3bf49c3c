"""``ociforge completion|man``: shell completion scripts and man pages, made from the parser.

Install them once::

    ociforge completion bash > ~/.local/share/bash-completion/completions/ociforge
    ociforge completion zsh > "${fpath[1]}/_ociforge"
    ociforge completion fish > ~/.config/fish/completions/ociforge.fish
    ociforge man --output-dir ~/.local/share/man/man1    # then: man ociforge-append
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import sys

__all__ = ["register"]


def run_completion(args: argparse.Namespace) -> int:
    """Print the completion script for one shell."""
    from . import _reference, build_parser  # noqa: PLC0415 - the parser imports this module

    parser = build_parser()
    script = {
        "bash": _reference.bash_script,
        "zsh": _reference.zsh_script,
        "fish": _reference.fish_script,
    }[args.shell](parser)
    sys.stdout.write(script)
    return 0


def run_man(args: argparse.Namespace) -> int:
    """Print one man page, or write all of them to a directory."""
    from .. import __version__  # noqa: PLC0415
    from .._fs import write_file_atomic  # noqa: PLC0415
    from ..errors import NotFound  # noqa: PLC0415
    from . import _reference, build_parser  # noqa: PLC0415

    parser = build_parser()
    # Dated by SOURCE_DATE_EPOCH when set, so packaged pages are reproducible.
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    date = (
        _dt.datetime.fromtimestamp(int(epoch), _dt.UTC).date()
        if epoch.isdigit()
        else _dt.date.today()
    )
    if args.output_dir:
        os.makedirs(args.output_dir, exist_ok=True)
        for name, page in _reference.all_pages(parser, version=__version__, date=date):
            write_file_atomic(os.path.join(args.output_dir, name), page.encode(), mode=0o644)
        if not args.quiet:
            print(f"wrote the man pages to {args.output_dir}", file=sys.stderr)
        return 0
    try:
        page = _reference.man_page(parser, args.command or None, version=__version__, date=date)
    except KeyError:
        raise NotFound(f"man {args.command}: no such command") from None
    sys.stdout.write(page)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommands."""
    parser = sub.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh, fish)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("shell", choices=["bash", "zsh", "fish"])
    parser.set_defaults(func=run_completion)
    parser = sub.add_parser(
        "man",
        help="print a man page, or write them all with --output-dir",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", metavar="COMMAND", nargs="?", default="")
    parser.add_argument("--output-dir", metavar="DIR", help="write ociforge.1 and every page here")
    parser.set_defaults(func=run_man)
