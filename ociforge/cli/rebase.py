"""``ociforge rebase``: move a derived image's layers from its old base onto a new base."""

from __future__ import annotations

import argparse
import sys

from ..rebase_fixup import rebase_content
from ..registry.reference import RegistryReference
from ..transports import open_image, parse_reference
from ._registry import add_platform_flag, add_registry_flags, registry_options
from ._save import add_layer_options, save_and_report

__all__ = ["register"]


def run(args: argparse.Namespace) -> int:
    """Rebase one image and print the new manifest digest."""
    options = registry_options(args)
    derived, old, new = (
        open_image(reference, platform=args.platform, registry=options)
        for reference in (args.derived, args.old_base, args.new_base)
    )
    result = rebase_content(
        derived,
        old_base=old,
        new_base=new,
        strict=args.strict,
        allow_downgrade=args.allow_downgrade,
        compression=args.compression,
        created_by=args.created_by,
        # A local sink verifies every blob it copies before it commits anything (unless told
        # not to); a registry skips the blobs it already has, so then they are checked here.
        verify=args.no_verify or isinstance(parse_reference(args.destination), RegistryReference),
    )
    if not (args.quiet or args.json):
        for note in result.notes:
            print(f"ociforge: note: {note}", file=sys.stderr)
        for warning in result.warnings:
            print(f"ociforge: warning: {warning}", file=sys.stderr)
    extra = {
        "layers": {"added": len(result.image.layers) - len(new.layers)},
        "packages": list(result.packages),
        "fixed": list(result.fixed),
        "removed": list(result.removed),
        "warnings": list(result.warnings),
        "notes": list(result.notes),
    }
    save_and_report(
        result.image,
        args,
        verb="rebase",
        destination=args.destination,
        extra=extra,
        registry=options,
    )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    parser = sub.add_parser(
        "rebase",
        help="move the layers a derived image added from its old base onto a new base",
        description=__doc__,
    )
    parser.add_argument("derived", metavar="DERIVED")
    parser.add_argument("destination", metavar="DST")
    parser.add_argument(
        "--old-base", required=True, metavar="OLD", help="the image DERIVED was built on"
    )
    parser.add_argument("--new-base", required=True, metavar="NEW", help="the base to move to")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail when the added layers overwrite a base file the new base changed (default:"
        " warn); the rpmdb and account files are always merged",
    )
    parser.add_argument(
        "--allow-downgrade",
        action="store_true",
        help="keep an added package although the new base has a newer version of it",
    )
    add_layer_options(parser, created_by="")
    add_platform_flag(parser)
    add_registry_flags(parser)
    parser.set_defaults(func=run)
