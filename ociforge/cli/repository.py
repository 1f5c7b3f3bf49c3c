"""``ociforge tags|tag|delete``: list a repository's tags, tag a manifest anew, delete one.

The verbs a crane or skopeo user reaches for, straight over the distribution API: ``tags``
(also ``ls``) lists what ``skopeo list-tags`` lists, ``tag`` puts the exact manifest bytes under
another tag without moving a blob, ``delete`` removes a manifest by digest.
"""

from __future__ import annotations

import argparse
import sys

from ._output import print_json
from ._registry import add_registry_flags, registry_options

__all__ = ["register"]


def _reference(text: str, *, verb: str) -> object:
    from ..errors import InvalidReference  # noqa: PLC0415 - loaded only when the command runs
    from ..registry.reference import DOCKER_PREFIX, parse_registry_reference  # noqa: PLC0415

    if not text.startswith(DOCKER_PREFIX):
        raise InvalidReference(f"{text}: {verb} works on registries; give docker://HOST/REPO")
    return parse_registry_reference(text)


def run_tags(args: argparse.Namespace) -> int:
    """Print every tag of the repository, one per line (or skopeo's JSON)."""
    from ..registry.client import RegistryClient  # noqa: PLC0415 - requests loads lazily
    from ..registry.reference import RegistryReference  # noqa: PLC0415

    reference = _reference(args.repository, verb="tags")
    assert isinstance(reference, RegistryReference)
    client = RegistryClient(reference, options=registry_options(args), label=reference.name)
    try:
        tags = client.list_tags()
    finally:
        client.close()
    if args.json:
        print_json({"Repository": reference.name, "Tags": tags})
    else:
        sys.stdout.write("".join(f"{tag}\n" for tag in tags))
    return 0


def run_tag(args: argparse.Namespace) -> int:
    """Put IMAGE's manifest under NEWTAG in the same repository; print the new pull spec."""
    from ..digest import Digest  # noqa: PLC0415 - loaded only when the command runs
    from ..errors import InvalidReference  # noqa: PLC0415
    from ..registry.client import RegistryClient  # noqa: PLC0415
    from ..registry.reference import RegistryReference, parse_registry_reference  # noqa: PLC0415

    reference = _reference(args.image, verb="tag")
    assert isinstance(reference, RegistryReference)
    try:
        target = parse_registry_reference(f"docker://{reference.name}:{args.tag}")
    except InvalidReference:
        raise InvalidReference(f"{args.tag!r}: not a valid tag") from None
    if target.tag != args.tag:
        raise InvalidReference(f"{args.tag!r}: give a tag alone, not a reference")
    client = RegistryClient(reference, options=registry_options(args), label=str(reference))
    try:
        raw, media_type = client.get_manifest(reference.reference)
        if not media_type:
            from ..spec import parse_manifest_or_index  # noqa: PLC0415

            media_type = parse_manifest_or_index(raw, what=str(reference)).media_type
        client.put_manifest(args.tag, raw, media_type)
    finally:
        client.close()
    digest = Digest.of_bytes(raw)
    if args.json:
        print_json({"reference": f"{target.name}:{args.tag}", "digest": str(digest)})
    else:
        print(f"{target.name}:{args.tag}@{digest}")
    return 0


def run_delete(args: argparse.Namespace) -> int:
    """Delete a manifest (by digest, or the one a tag names now); print its digest."""
    from ..registry.client import RegistryClient  # noqa: PLC0415 - requests loads lazily
    from ..registry.reference import RegistryReference  # noqa: PLC0415
    from ..registry.source import resolve_digest  # noqa: PLC0415

    reference = _reference(args.image, verb="delete")
    assert isinstance(reference, RegistryReference)
    options = registry_options(args)
    pinned = resolve_digest(reference, options=options)
    assert pinned.digest is not None
    client = RegistryClient(reference, options=options, label=str(reference))
    try:
        client.delete_manifest(pinned.digest)
    finally:
        client.close()
    if args.json:
        print_json({"deleted": f"{reference.name}@{pinned.digest}", "digest": str(pinned.digest)})
    else:
        print(f"{reference.name}@{pinned.digest}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommands."""
    for name, func, text, aliases in (
        ("tags", run_tags, "list the tags of a registry repository", ["ls"]),
        ("tag", run_tag, "put an image's manifest under another tag, moving no blob", []),
        ("delete", run_delete, "delete a manifest from a registry (every tag naming it)", []),
    ):
        parser = sub.add_parser(
            name,
            help=text,
            description=__doc__,
            aliases=aliases,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if name == "tags":
            parser.add_argument(
                "repository", metavar="docker://HOST/REPO", help="the repository to list"
            )
        else:
            parser.add_argument(
                "image",
                metavar="docker://HOST/REPO:TAG|@DIGEST",
                help="the image whose manifest is tagged" if name == "tag" else "what to delete",
            )
        if name == "tag":
            parser.add_argument("tag", metavar="NEWTAG", help="the new tag, in the same repository")
        add_registry_flags(parser)
        parser.set_defaults(func=func)
