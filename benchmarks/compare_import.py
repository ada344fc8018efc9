#!/usr/bin/env python
"""`mlsd import` of the 2,430-row case-study CSV: this checkout against another revision's code,
interleaved round by round, each import into a fresh copy of a home whose bundled index is built.

    git worktree add --detach /tmp/base <revision>
    MLSD_HOME=/tmp/base-home PYTHONPATH=/tmp/base .venv/bin/python -m mlsd.cli build-index
    MLSD_HOME=/tmp/this-home .venv/bin/mlsd build-index
    .venv/bin/python benchmarks/compare_import.py --base /tmp/base --base-home /tmp/base-home \\
        --home /tmp/this-home --rounds 2

Prints each import's wall time and the load average, then the medians.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_search import CSV_PATH  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", type=Path, required=True, help="the other revision's source folder")
    parser.add_argument("--base-home", type=Path, required=True, help="MLSD_HOME with the bundled index built by it")
    parser.add_argument("--home", type=Path, required=True, help="MLSD_HOME with the bundled index built by this checkout")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if not CSV_PATH.exists():
        raise SystemExit(f"the case-study CSV is not at {CSV_PATH} (set MLSD_CORPORA)")
    variants = {"base": (args.base.resolve(), args.base_home), "this": (ROOT, args.home)}
    times: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as scratch:
        for r in range(args.rounds):
            for name in list(variants) if r % 2 == 0 else list(reversed(variants)):
                code, home = variants[name]
                work = Path(scratch) / name
                shutil.rmtree(work, ignore_errors=True)
                shutil.copytree(home, work)
                env = {**os.environ, "MLSD_HOME": str(work), "PYTHONPATH": str(code)}
                env.pop("MLSD_EMBEDDER", None)
                started = time.perf_counter()
                subprocess.run([sys.executable, "-m", "mlsd.cli", "import", str(CSV_PATH), "--name", "case-studies"],
                               cwd=code, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                times[name].append(time.perf_counter() - started)
                print(f"round {r + 1} {name}: {times[name][-1]:.1f} s, load {os.getloadavg()[0]:.1f}", flush=True)
    for name, values in times.items():
        print(f"{name}: median {statistics.median(values):.1f} s ({', '.join(f'{v:.1f}' for v in values)})")


if __name__ == "__main__":
    main()
