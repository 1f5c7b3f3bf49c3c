"""``python -m benchmarks.revisions OLD NEW``: the same commands with two checkouts, interleaved.

For a change that must not make things slower (a refactor): append and unpack of the 1 GiB
COSA-shaped archive run alternately with ``PYTHONPATH=OLD`` and ``PYTHONPATH=NEW`` (each a
checkout of ociforge), ``--rounds`` times in ABBA order with the disk flushed before each run;
the table has the median of each. Interleaving keeps a busy machine's drift out of the ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from . import data


def _run(tree: str, args: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": tree}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "ociforge", *args], env=env, check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.revisions")
    parser.add_argument("old", help="checkout of the revision before the change")
    parser.add_argument("new", help="checkout of the revision after it")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workdir", default="/tmp/benchdata")
    args = parser.parse_args()
    work = Path(args.workdir) / "revisions"
    work.mkdir(parents=True, exist_ok=True)
    archive = data.ensure("cosa", work / "cosa-1g.ociarchive", "--size", str(1 << 30))
    layout = work / "layout"
    if not layout.exists():
        _run(args.new, ["copy", f"oci-archive:{archive}", f"oci:{layout}:bench"])
    payload = work / "payload"
    payload.mkdir(exist_ok=True)
    (payload / "blob.bin").write_bytes(os.urandom(10 << 20))
    out, bundle = work / "out.ociarchive", work / "bundle"
    append = [
        "append",
        "-q",
        f"oci-archive:{archive}",
        f"oci-archive:{out}",
        "--add",
        f"{payload}:/usr/share/payload",
    ]
    commands = {
        "append 10 MiB (verified)": append,
        "append 10 MiB --no-verify": [*append, "--no-verify"],
        "unpack --rootless (OCI layout)": [
            "unpack",
            "--rootless",
            f"oci:{layout}:bench",
            str(bundle),
        ],
        "unpack --rootless (ociarchive)": [
            "unpack",
            "--rootless",
            f"oci-archive:{archive}",
            str(bundle),
        ],
    }
    times: dict[tuple[str, str], list[float]] = {}
    trees = [("old", args.old), ("new", args.new)]
    for round_ in range(args.rounds):
        # ABBA order, and the previous run's writes flushed first: the second of a pair would
        # otherwise pay for the first one's writeback.
        for label, tree in trees if round_ % 2 == 0 else trees[::-1]:
            for name, argv in commands.items():
                shutil.rmtree(bundle, ignore_errors=True)
                out.unlink(missing_ok=True)
                os.sync()
                times.setdefault((name, label), []).append(_run(tree, argv))
    print("| operation | old s | new s | new/old |")
    print("|---|---|---|---|")
    for name in commands:
        old = statistics.median(times[(name, "old")])
        new = statistics.median(times[(name, "new")])
        print(f"| {name} | {old:.2f} | {new:.2f} | {new / old:.2f}× |")


if __name__ == "__main__":
    main()
