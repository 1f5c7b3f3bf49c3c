"""``ociforge rebase``: move a derived image's layers from its old base onto a new base."""

from __future__ import annotations

import argparse

from ..transports import open_image, parse_reference
from ._registry import add_platform_flag, add_registry_flags, registry_options
from ._save import add_layer_options, print_notes, save_and_report, verify_while_reading

__all__ = ["register"]


def run(args: argparse.Namespace) -> int:
    """Rebase one image and print the new manifest digest."""
    from ..recipes.rebase import rebase_content  # noqa: PLC0415 - loaded only when the command runs

    options = registry_options(args)
    derived, old, new = (
        open_image(
            reference,
            platform=args.platform,
            registry=options,
            max_layer_size=args.max_layer_size,
        )
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
        verify=verify_while_reading(args, parse_reference(args.destination)),
    )
    print_notes(args, result.notes, result.warnings)
    extra = {
        "layers": {"added": len(result.image.layers) - len(new.layers)},
        "packages": list(result.packages),
        "fixed": list(result.rewritten),
        "removed": list(result.deleted),
        "warnings": list(result.warnings),
        "notes": list(result.notes),
    }
    save_and_report(
        result,
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
