r"""``ociforge mutate``: change an image's labels, env, entrypoint, cmd, user or workdir.

No layer is added and none is opened: a new config and manifest over the same blobs. Examples::

    ociforge mutate oci-archive:fcos.ociarchive oci-archive:out.ociarchive \
        --label com.example.team=infra --remove-label io.buildah.version --env TZ=UTC
"""

from __future__ import annotations

import argparse
import json

from ..errors import InvalidReference
from ..transports import open_image
from ._registry import add_registry_flags, registry_options
from ._save import save_and_report

__all__ = ["register"]


def _pairs(values: list[str], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise InvalidReference(f"{flag} {value!r}: expected KEY=VALUE")
        out[key] = rest
    return out


def _argv(value: str | None, flag: str) -> list[str] | None:
    """``--entrypoint '["/bin/sh","-c"]'`` (JSON, as Containerfiles write it) or a plain word."""
    if value is None:
        return None
    if value.startswith("["):
        try:
            parsed = json.loads(value)
        except ValueError:
            raise InvalidReference(f"{flag} {value!r}: not a JSON list") from None
        if not isinstance(parsed, list) or not all(isinstance(v, str) for v in parsed):
            raise InvalidReference(f"{flag} {value!r}: expected a JSON list of strings")
        return parsed
    return [value] if value else []


def run(args: argparse.Namespace) -> int:
    """Change one image's config and print the new manifest digest."""
    from .._env import build_time  # noqa: PLC0415 - loaded only when the command runs
    from ..mutate.config import ConfigChange, change_config  # noqa: PLC0415
    from ..recipes import Derived  # noqa: PLC0415

    for value in args.env:
        if "=" not in value:
            raise InvalidReference(f"--env {value!r}: expected KEY=VALUE")
    change = ConfigChange(
        labels=_pairs(args.label, "--label"),
        remove_labels=args.remove_label,
        annotations=_pairs(args.annotation, "--annotation"),
        remove_annotations=args.remove_annotation,
        env=args.env,
        entrypoint=_argv(args.entrypoint, "--entrypoint"),
        cmd=_argv(args.cmd, "--cmd"),
        user=args.user,
        workdir=args.workdir,
    )
    registry = registry_options(args)
    image = open_image(args.source, registry=registry, max_layer_size=args.max_layer_size)
    changed = change_config(image, change, created=build_time())
    save_and_report(
        Derived(image=changed), args, verb="mutate", destination=args.destination, registry=registry
    )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    parser = sub.add_parser(
        "mutate",
        help="change config fields (labels, env, entrypoint…) without adding a layer",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("source", metavar="SRC")
    parser.add_argument("destination", metavar="DST")
    for flag, text in (
        ("--label", "set a label KEY=VALUE (repeatable)"),
        ("--remove-label", "remove a label (repeatable)"),
        ("--annotation", "set a manifest annotation KEY=VALUE (repeatable)"),
        ("--remove-annotation", "remove a manifest annotation (repeatable)"),
        ("--env", "set an environment variable KEY=VALUE (repeatable)"),
    ):
        parser.add_argument(flag, action="append", default=[], metavar="VALUE", help=text)
    parser.add_argument("--entrypoint", metavar="JSON|WORD", help="e.g. '[\"/usr/bin/x\"]'")
    parser.add_argument("--cmd", metavar="JSON|WORD", help="the default arguments")
    parser.add_argument("--user", metavar="USER[:GROUP]")
    parser.add_argument("--workdir", metavar="DIR")
    parser.add_argument("--digestfile", metavar="FILE", help="also write the digest to FILE")
    add_registry_flags(parser)
    parser.set_defaults(func=run)
