"""``ociforge lint``: bootc's container lint checks and leaked secrets, over an image's tree."""

from __future__ import annotations

import argparse

from ..errors import PolicyError
from ..transports import open_image
from ._output import print_json

__all__ = ["register"]


def run(args: argparse.Namespace) -> int:
    """Lint one image; fail on errors (and on warnings with --strict)."""
    from ..ostree.lint import lint_tree  # noqa: PLC0415 - loaded only when the command runs
    from ..tar.flatten import flatten_image  # noqa: PLC0415 - loaded only when the command runs

    image = open_image(args.image, max_layer_size=args.max_layer_size)
    tree = flatten_image(image, heads=True)
    try:
        findings = lint_tree(tree.entries)
    finally:
        tree.close()
    if args.json:
        print_json(
            {
                "image": args.image,
                "digest": str(image.digest),
                "errors": sum(1 for f in findings if f.severity == "error"),
                "warnings": sum(1 for f in findings if f.severity == "warning"),
                "findings": [_as_dict(f) for f in findings],
            }
        )
    else:
        for finding in findings:
            print(finding)
    errors = [f for f in findings if f.severity == "error" or args.strict]
    if errors:
        raise PolicyError(f"{args.image}: {len(errors)} lint finding(s), first: {errors[0]}")
    return 0


def _as_dict(finding: object) -> dict[str, str]:
    return {k: str(getattr(finding, k)) for k in ("rule", "severity", "path", "message")}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    parser = sub.add_parser(
        "lint", help="check an image against bootc's rules", description=__doc__
    )
    parser.add_argument("image", metavar="IMAGE")
    parser.add_argument("--strict", action="store_true", help="warnings fail too")
    parser.set_defaults(func=run)
