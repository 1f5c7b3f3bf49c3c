"""``ociforge append``: the base image plus one layer of files, RPM packages and Ignition."""

from __future__ import annotations

import argparse
import sys

from ..errors import InvalidReference
from ..transports import open_image, parse_reference
from ._machineconfig import add_machineconfig_flags, machineconfig_request
from ._registry import add_registry_flags, registry_options
from ._rpm_options import add_rpm_options, inject_options, package_request, wants_packages
from ._save import add_layer_options, print_notes, save_and_report, verify_while_reading

__all__ = ["parse_labels", "register"]


def parse_labels(pairs: list[str]) -> dict[str, str]:
    """``K=V`` strings as a dict (later ones win)."""
    labels: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidReference(f"--label {pair!r}: expected KEY=VALUE")
        labels[key] = value
    return labels


def _read_ignition(path: str | None) -> bytes | None:
    if path is None:
        return None
    if path == "-":
        return sys.stdin.buffer.read()
    with open(path, "rb") as handle:
        return handle.read()


def run(args: argparse.Namespace) -> int:
    """Append one layer and print the new manifest digest."""
    from ..recipes.append import FileAddition, append_content  # noqa: PLC0415 - loaded only when the command runs

    additions = [FileAddition.parse(text) for text in args.add]
    ignition = _read_ignition(args.ignition)
    if not (additions or wants_packages(args) or ignition is not None):
        raise InvalidReference(
            "nothing to append: give --add LOCAL:IMAGEPATH, --rpm FILE, --install NAME,"
            " --remove NAME or --ignition FILE"
        )
    destination = parse_reference(args.destination)
    machineconfig = machineconfig_request(args, destination)
    options = inject_options(args) if wants_packages(args) else None
    registry = registry_options(args)
    image = open_image(args.source, registry=registry, max_layer_size=args.max_layer_size)
    packages = package_request(args, architecture=image.config.architecture)
    result = append_content(
        image,
        additions=additions,
        packages=packages if wants_packages(args) else None,
        ignition=ignition,
        rpm_options=options,
        labels=parse_labels(args.label),
        compression=args.compression,
        created_by=args.created_by,
        strict=args.strict,
        allow_lint_errors=args.allow_lint_errors,
        verify_base=verify_while_reading(args, destination),
    )
    print_notes(
        args,
        [*result.transaction, *result.notes],
        [f"lint: {finding}" for finding in result.findings],
    )
    extra: dict[str, object] = {
        "notes": list(result.notes),
        "lint": [str(f) for f in result.findings],
    }
    if wants_packages(args):
        extra["packages"] = list(result.packages)
        extra["replaced"] = list(result.replaced)
        extra["removed"] = list(result.removed)
        extra["transaction"] = list(result.transaction)
    save_and_report(
        result,
        args,
        verb="append",
        destination=args.destination,
        extra=extra,
        registry=registry,
        machineconfig=machineconfig,
    )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    parser = sub.add_parser(
        "append",
        help="add one layer of files, RPM packages and Ignition content to an image",
        description=__doc__,
    )
    parser.add_argument("source", metavar="SRC")
    parser.add_argument("destination", metavar="DST")
    parser.add_argument(
        "--add",
        metavar="LOCAL:IMAGEPATH",
        action="append",
        default=[],
        help="a local file or directory and where it goes in the image (repeatable); a"
        " trailing / puts a file into that directory",
    )
    parser.add_argument(
        "--ignition",
        metavar="FILE",
        help="an Ignition config (spec 3.x JSON, as Butane writes it; - for stdin) whose files,"
        " directories, links and systemd units go into the layer",
    )
    parser.add_argument(
        "--label",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="set a config label (repeatable); the base's labels are kept",
    )
    add_layer_options(parser, created_by="")
    add_rpm_options(parser)
    add_registry_flags(parser)
    add_machineconfig_flags(parser)
    parser.set_defaults(func=run)
