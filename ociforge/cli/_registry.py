"""Registry flags shared by the subcommands (skopeo's names) and the options they build."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import replace

from ..errors import RegistryError
from ..registry.options import RegistryOptions, RetryPolicy, TransferProgress
from ..spec import Platform

__all__ = ["add_platform_flag", "add_registry_flags", "registry_hint", "registry_options"]

#: What to tell the user for each :attr:`RegistryError.remedy`.
_HINTS = {
    "plain-http": "the registry speaks plain HTTP: use --tls-verify=false",
    "untrusted-certificate": (
        "trust its CA with --cert-dir DIR holding ca.crt, or use --tls-verify=false"
    ),
    "credentials": "give credentials with --creds or --authfile, or run ociforge login",
}


def registry_hint(error: BaseException) -> str:
    """The flag to reach for after ``error`` (empty when there is none)."""
    if isinstance(error, RegistryError):
        return _HINTS.get(error.remedy, "")
    return ""


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, not {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, not {text!r}")
    return value


def _boolean(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


def _platform(text: str) -> Platform:
    try:
        return Platform.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, not {text!r}")
    return value


def add_platform_flag(parser: argparse.ArgumentParser) -> None:
    """``--platform OS/ARCH[/VARIANT]`` for picking an image out of an index."""
    parser.add_argument(
        "--platform",
        type=_platform,
        metavar="OS/ARCH[/VARIANT]",
        help="which image of a multi-platform index (default: this machine's)",
    )


_FLAGS = (
    ("authfile", "FILE", "credentials file (containers auth.json or Docker config.json)"),
    ("creds", "USER:PASSWORD", "credentials for the registry"),
    ("tls-verify", "BOOL", "check TLS certificates (default true; false also allows plain http)"),
    ("cert-dir", "DIR", "directory of *.crt roots and *.cert/*.key client pairs"),
)


def add_registry_flags(
    parser: argparse.ArgumentParser, *, prefixes: tuple[str, ...] = (), push: bool = False
) -> None:
    """``--authfile``, ``--creds``, ``--tls-verify``, ``--cert-dir``, plus per-side variants.

    ``prefixes`` (``src``, ``dest``) add ``--src-creds`` … overriding the plain flags for one
    side of a copy; ``push`` adds the upload knobs.
    """
    group = parser.add_argument_group("registry access (docker://)")
    for prefix in ("", *prefixes):
        dash = f"{prefix}-" if prefix else ""
        side = f" for the {'source' if prefix == 'src' else 'destination'}" if prefix else ""
        for flag, metavar, text in _FLAGS:
            extra: dict[str, object] = (
                {"type": _boolean, "nargs": "?", "const": True} if flag == "tls-verify" else {}
            )
            group.add_argument(
                f"--{dash}{flag}",
                dest=f"{prefix}_{flag}".lstrip("_").replace("-", "_"),
                metavar=metavar,
                help=text + side,
                **extra,  # type: ignore[arg-type]
            )
    group.add_argument(
        "--retry-times",
        type=_positive,
        metavar="N",
        help="retry a failed request N times (default 5), with a note for each",
    )
    group.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help="give up on the registry after this long in all (default: no limit)",
    )
    if push:
        group.add_argument(
            "--mount-from",
            action="append",
            default=[],
            metavar="REPO",
            help="a repository of the destination registry to mount blobs from (repeatable)",
        )
        group.add_argument(
            "--jobs", type=_positive, default=4, metavar="N", help="parallel uploads (default 4)"
        )
        group.add_argument(
            "--chunk-size",
            type=_positive,
            default=0,
            metavar="BYTES",
            help="upload in PATCH chunks of this size (default 0: one streaming PUT per blob)",
        )


def _printer(kind: str) -> Callable[[str], None]:
    def emit(text: str) -> None:
        print(f"ociforge: {kind}: {text}", file=sys.stderr, flush=True)

    return emit


def registry_options(
    args: argparse.Namespace, prefix: str = "", *, progress: TransferProgress | None = None
) -> RegistryOptions:
    """The options for one side, a ``--src-``/``--dest-`` flag winning over the plain one."""

    def pick(name: str) -> object:
        specific = getattr(args, f"{prefix}_{name}", None) if prefix else None
        return specific if specific is not None else getattr(args, name, None)

    tls_verify = pick("tls_verify")
    retry = RetryPolicy()
    retry_times = getattr(args, "retry_times", None)
    if retry_times is not None:
        retry = replace(retry, attempts=retry_times + 1)
    timeout = getattr(args, "timeout", None)
    if timeout is not None:
        retry = replace(retry, deadline=timeout)
    debug = bool(getattr(args, "debug", False))
    options = RegistryOptions(
        retry=retry,
        trace=_printer("debug") if debug else None,
        notice=_printer("note"),
        creds=pick("creds"),  # type: ignore[arg-type]
        authfile=pick("authfile"),  # type: ignore[arg-type]
        tls_verify=True if tls_verify is None else bool(tls_verify),
        cert_dir=pick("cert_dir"),  # type: ignore[arg-type]
        progress=progress,
    )
    mount_from = getattr(args, "mount_from", None)
    if mount_from is not None:
        options = replace(
            options,
            mount_from=tuple(mount_from),
            jobs=max(1, args.jobs),
            chunk_size=args.chunk_size,
        )
    return options
