"""``ociforge demo``: build a sample COSA-shaped image, derive from it, verify; offline."""

from __future__ import annotations

import argparse
import os

from ..demo import DemoStep, run_demo
from ._output import print_json

__all__ = ["register"]


def run(args: argparse.Namespace) -> int:
    """Run the demo and print each step with its time."""
    workdir = os.path.abspath(args.output)

    def show(step: DemoStep) -> None:
        if args.json or args.quiet:
            return
        print(f"✓ {step.title}  ({step.seconds:.2f}s)")
        for key, value in step.details.items():
            print(f"    {key}: {value}")

    steps = run_demo(workdir, report=show)
    if args.json:
        print_json([{"step": s.title, "seconds": round(s.seconds, 3), **s.details} for s in steps])
    elif not args.quiet:
        derived = steps[1].details["path"]
        print(f"\nTry: ociforge inspect oci-archive:{derived}")
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
    parser.set_defaults(func=run)
