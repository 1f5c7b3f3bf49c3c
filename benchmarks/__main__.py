"""``python -m benchmarks [AREA…] [--workdir DIR]``: run benchmark areas, print Markdown tables.

Each area is a module ``benchmarks/bench_<area>.py`` with ``run(workdir: Path) -> list[Row]``.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import platform
import tempfile
from pathlib import Path

from .harness import markdown


def main() -> None:
    here = Path(__file__).parent
    areas = sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules([str(here)])
        if m.name.startswith("bench_")
    )
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument(
        "areas", nargs="*", metavar="AREA", help=f"one of: {', '.join(areas)} (default: all)"
    )
    parser.add_argument("--workdir", help="where to build test data (default: a temp dir)")
    args = parser.parse_args()
    unknown = set(args.areas) - set(areas)
    if unknown:
        parser.error(f"unknown area(s): {', '.join(sorted(unknown))}")
    py = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"machine: {platform.machine()}, {py}")
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for area in args.areas or areas:
            module = importlib.import_module(f"benchmarks.bench_{area}")
            rows = module.run(Path(tmp) / area)
            print(f"\n## {area}\n")
            print(markdown(rows))


if __name__ == "__main__":
    main()
