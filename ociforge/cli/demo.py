"""``ociforge demo``: build a sample COSA-shaped image, derive from it, verify (offline)."""

from __future__ import annotations

import argparse
import os

from ..errors import InvalidReference
from ._output import print_json
from ._registry import add_registry_flags, registry_options

__all__ = ["register"]


def run(args: argparse.Namespace) -> int:
    """Run the demo and print each step with its time."""
    from ..samples.demo import DemoStep, run_demo  # noqa: PLC0415 - loaded only when the command runs

    workdir = os.path.abspath(args.output)
    if args.push and not args.push.startswith("docker://"):
        raise InvalidReference(f"--push {args.push}: expected docker://HOST/REPO[:TAG]")

    def show(step: DemoStep) -> None:
        if args.json or args.quiet:
            return
        print(f"✓ {step.title}  ({step.seconds:.2f}s)")
        for key, value in step.details.items():
            print(f"    {key}: {value}")

    steps = run_demo(
        workdir,
        report=show,
        push=args.push,
        registry=registry_options(args) if args.push else None,
        pool=args.pool,
    )
    if args.json:
        print_json([{"step": s.title, "seconds": round(s.seconds, 3), **s.details} for s in steps])
    elif not args.quiet:
        derived = steps[2].details["path"]
        print(f"\nNext: ociforge inspect oci-archive:{derived}")
        if args.push:
            print(f"      cat {steps[-1].details['machineconfig']}")
        print(
            f"\n{workdir} also holds the inputs the README and the how-tos use"
            " (fcos.ociarchive, hello-agent-1.0-1.noarch.rpm, config.ign): run their"
            " commands there."
        )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    parser = sub.add_parser("demo", help="run the built-in example end to end", description=__doc__)
    parser.add_argument(
        "--output",
        "-o",
        default="ociforge-demo",
        metavar="DIR",
        help="where to write (default: ./ociforge-demo)",
    )
    parser.add_argument(
        "--push",
        metavar="docker://REF",
        help="also push the derived image by digest and write its MachineConfig",
    )
    parser.add_argument("--pool", default="worker", help="MachineConfig pool (default worker)")
    add_registry_flags(parser)
    parser.set_defaults(func=run)
