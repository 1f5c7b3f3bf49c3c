"""``ociforge append``: the base image plus one layer of files, RPM packages and Ignition."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from ..errors import InvalidReference
from ..transports import open_image, parse_reference
from ._machineconfig import add_machineconfig_flags, machineconfig_request
from ._registry import add_registry_flags, registry_options
from ._rpm_options import add_rpm_options, inject_options, package_request, wants_packages
from ._save import add_layer_options, print_notes, save_and_report, verify_while_reading

if TYPE_CHECKING:
    from ..recipes.append import FileAddition
    from ..rpm.inject import InjectOptions
    from ..transports import ImageReference

__all__ = ["parse_labels", "register", "rpms_for"]


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
    if args.all_platforms:
        return _append_all_platforms(args, additions, ignition, options, destination)
    image = open_image(args.source, registry=registry, max_layer_size=args.max_layer_size)
    packages = package_request(args, architecture=image.config.architecture)
    result = append_content(
        image,
        additions=additions,
        packages=packages if wants_packages(args) else None,
        ignition=ignition,
        rpm_options=options,
        **_recipe_options(args, destination),
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


def _recipe_options(args: argparse.Namespace, destination: ImageReference) -> dict[str, Any]:
    """The append_content options that are the same for every platform."""
    return {
        "labels": parse_labels(args.label),
        "compression": args.compression,
        "created_by": args.created_by,
        "strict": args.strict,
        "allow_lint_errors": args.allow_lint_errors,
        "verify_base": verify_while_reading(args, destination),
    }


#: RPM architectures by OCI architecture, to pick each platform's --rpm files by name.
_RPM_ARCH = {"amd64": "x86_64", "arm64": "aarch64", "386": "i686", "arm": "armv7hl"}


def rpms_for(paths: list[str], architecture: str) -> list[str]:
    """The ``--rpm`` files for one platform: ``*.noarch.rpm``, ``*.ARCH.rpm`` and unnamed ones.

    A file named for another architecture (``NAME-V-R.aarch64.rpm`` for amd64) is left out.
    """
    wanted = _RPM_ARCH.get(architecture, architecture)
    chosen = []
    for path in paths:
        parts = path.rsplit(".", 2)
        arch = parts[-2] if len(parts) == 3 and parts[-1] == "rpm" else ""
        if arch in ("", "noarch", wanted) or "/" in arch:
            chosen.append(path)
    return chosen


def _append_all_platforms(
    args: argparse.Namespace,
    additions: list[FileAddition],
    ignition: bytes | None,
    options: InjectOptions | None,
    destination: ImageReference,
) -> int:
    """One derived image per platform of the source index, then a new index naming them."""
    import copy  # noqa: PLC0415

    from ..image import ImageIndex  # noqa: PLC0415 - loaded only when the command runs
    from ..mutate.index import replace_images  # noqa: PLC0415
    from ..recipes.append import append_content  # noqa: PLC0415
    from ..transports import open_image_or_index, save_image  # noqa: PLC0415
    from ._progress import BlobProgress  # noqa: PLC0415
    from ._save import report_saved  # noqa: PLC0415

    registry = registry_options(args)
    document = open_image_or_index(
        args.source, registry=registry, max_layer_size=args.max_layer_size
    )
    if not isinstance(document, ImageIndex):
        raise InvalidReference(f"{args.source}: --all-platforms needs an index; this is one image")
    derived = {}
    platforms = []
    notes: list[str] = []
    for descriptor, image in document.images():
        platform = str(descriptor.platform or image.config.platform)
        per_arch = copy.copy(args)
        per_arch.rpm = rpms_for(list(args.rpm), image.config.architecture)
        packages = (
            package_request(per_arch, architecture=image.config.architecture)
            if wants_packages(per_arch)
            else None
        )
        result = append_content(
            image,
            additions=additions,
            packages=packages,
            ignition=ignition,
            rpm_options=options if packages is not None else None,
            **_recipe_options(args, destination),
        )
        notes += [f"{platform}: {note}" for note in [*result.transaction, *result.notes]]
        derived[image.digest] = result.image
        platforms.append({"platform": platform, "digest": str(result.image.digest)})
    index, left_out = replace_images(document, derived, what=args.destination)
    print_notes(args, [*notes, *left_out], [])
    progress = BlobProgress("append", [d for d, _ in index.blobs()], quiet=args.quiet)
    saved = save_image(
        index,
        destination,
        progress=progress,
        registry=registry,
        verify=not args.no_verify,
    )
    progress.finish()
    report_saved(
        args,
        saved,
        destination,
        destination=args.destination,
        extra={"platforms": platforms, "notes": notes},
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
        "--all-platforms",
        action="store_true",
        help="derive every platform's image of an index source (each --rpm file used where its"
        " name's architecture fits) and write a new index naming them",
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
