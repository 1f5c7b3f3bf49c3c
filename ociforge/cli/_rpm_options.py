"""The package options of ``append`` (``--rpm``, ``--install``, repositories…) and their values."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..recipes.packages import PackageRequest
    from ..rpm.inject import InjectOptions

__all__ = ["add_rpm_options", "inject_options", "package_request", "wants_packages"]


class _RepoAction(argparse.Action):
    """Collect the repository options in command-line order (toggles apply to what is before)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        from ..repos.load import RepoAction  # noqa: PLC0415 - loaded only when used

        actions = list(getattr(namespace, "repo_actions", None) or [])
        actions.append(RepoAction(self.const, str(values)))
        namespace.repo_actions = actions


def add_rpm_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--rpm``, ``--install``, the repository options and the policy switches."""
    group = parser.add_argument_group("RPM packages")
    group.add_argument(
        "--rpm",
        metavar="FILE|URL",
        action="append",
        default=[],
        help="install a package file or an http(s) URL (repeatable); one of an installed name"
        " replaces it, up or down (override replace)",
    )
    group.add_argument(
        "--install",
        metavar="SPEC",
        action="append",
        default=[],
        help="install a package from the repositories, as dnf install takes it: a name,"
        " name-version, a provide or a file path (repeatable)",
    )
    group.add_argument(
        "--remove",
        metavar="NAME",
        action="append",
        default=[],
        help="remove an installed package, as rpm -e / override remove (repeatable); refused"
        " while another package requires it",
    )
    group.add_argument(
        "--replace",
        metavar="NAME",
        action="append",
        default=[],
        help="replace an installed package with the best version in the repositories, up or"
        " down (override replace; with --from-repo, from that repository only)",
    )
    group.add_argument(
        "--from-repo", metavar="ID", default="", help="the repository --replace takes from"
    )
    group.add_argument(
        "--nodeps",
        action="store_true",
        help="install although Requires are unmet (reported); conflicts are never allowed",
    )
    group.add_argument(
        "--no-weak-deps",
        action="store_true",
        help="do not install Recommends (dnf's install_weak_deps=False)",
    )
    repos = parser.add_argument_group(
        "repositories",
        "The image's own /etc/yum.repos.d is used, as rpm-ostree does in a container build;"
        " these options apply in command-line order.",
    )
    for flag, kind, metavar, text in (
        ("--repo", "repo", "ID=URL", "add a repository by its baseurl (or a local directory)"),
        ("--repo-file", "repo-file", "FILE", "add the repositories of a .repo file"),
        ("--enablerepo", "enable", "ID", "enable repositories (globs, comma-separated)"),
        ("--disablerepo", "disable", "ID", "disable repositories ('*' for all defined so far)"),
    ):
        repos.add_argument(flag, metavar=metavar, action=_RepoAction, const=kind, help=text)
    repos.add_argument(
        "--releasever",
        metavar="VERSION",
        help="$releasever in .repo files (default: the image's os-release VERSION_ID)",
    )
    group.add_argument(
        "--rpm-key",
        metavar="FILE",
        action="append",
        default=[],
        help="an OpenPGP public key (armored or binary) to check package signatures with",
    )
    group.add_argument(
        "--require-signatures",
        action="store_true",
        help="refuse unsigned packages and packages signed by a key not given with --rpm-key",
    )
    group.add_argument(
        "--skip-scriptlets",
        action="store_true",
        help="install packages whose scriptlets do more than the harmless set, without them",
    )
    group.add_argument(
        "--allow-kernel",
        action="store_true",
        help="install kernel packages although their initramfs cannot be rebuilt here",
    )
    group.add_argument(
        "--unknown-owner-root",
        action="store_true",
        help="files owned by users/groups the image lacks go to root (rpm's fallback)",
    )
    group.add_argument(
        "--strict", action="store_true", help="fail when the new layer has any lint finding"
    )
    group.add_argument(
        "--allow-lint-errors",
        action="store_true",
        help="write the layer although lint finds errors in it (private keys, entitlement"
        " certificates, /usr/etc …); warnings never fail the append",
    )


def wants_packages(args: argparse.Namespace) -> bool:
    """Whether the command line asks for any package change."""
    return bool(args.rpm or args.install or args.remove or args.replace)


def package_request(args: argparse.Namespace, *, architecture: str) -> PackageRequest:
    """The package request the parsed arguments describe."""
    from ..recipes.packages import PackageRequest  # noqa: PLC0415 - loaded only when used
    from ..repos.load import RepoOptions  # noqa: PLC0415

    repos = RepoOptions(
        actions=tuple(getattr(args, "repo_actions", None) or ()),
        releasever=args.releasever,
        architecture=architecture,
    )
    return PackageRequest(
        rpms=list(args.rpm),
        install=list(args.install),
        remove=list(args.remove),
        replace=list(args.replace),
        from_repo=args.from_repo,
        nodeps=args.nodeps,
        weak_deps=not args.no_weak_deps,
        repos=repos,
    )


def inject_options(args: argparse.Namespace) -> InjectOptions:
    """The injection options the parsed arguments ask for."""
    from ..rpm.inject import InjectOptions  # noqa: PLC0415 - loaded only when used
    from ..rpm.signature import PublicKey, load_keys  # noqa: PLC0415

    keys: list[PublicKey] = []
    for path in args.rpm_key:
        with open(path, "rb") as fh:
            keys.extend(load_keys(fh.read(), what=path))
    return InjectOptions(
        keys=tuple(keys),
        require_signatures=args.require_signatures,
        skip_scriptlets=args.skip_scriptlets,
        allow_kernel=args.allow_kernel,
        unknown_owner_root=args.unknown_owner_root,
    )
