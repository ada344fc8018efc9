#!/usr/bin/env python
"""Cold `mlsd stats` and `mlsd search "cold start" --k 3`: this checkout against another revision's
code, interleaved round by round, so both see the same load.

    git archive main | tar -x -C /tmp/base          # the other revision's code
    MLSD_HOME=/tmp/base-home .venv/bin/mlsd build-index   (or copy an index built by it)
    .venv/bin/python benchmarks/compare_cold.py --base /tmp/base --base-home /tmp/base-home \\
        --home /tmp/this-home --rounds 7

The other revision runs with ``PYTHONPATH`` set to its folder (ahead of this checkout's editable
install), with this venv. Per variant: the median over rounds of search/stats (wall and CPU, each
variant against its own `stats` of the round), and the medians of the times themselves. Wall
time, CPU time and peak RSS come from ``os.wait4`` on each process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"{command} failed with status {status}")
    return time.perf_counter() - started, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", type=Path, required=True, help="the other revision's source folder")
    parser.add_argument("--base-home", type=Path, required=True, help="MLSD_HOME with an index built by it")
    parser.add_argument("--home", type=Path, required=True, help="MLSD_HOME with an index built by this checkout")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    mlsd = str(Path(sys.executable).parent / "mlsd")
    common = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    common.pop("MLSD_EMBEDDER", None)
    variants = {"base": {**common, "PYTHONPATH": str(args.base), "MLSD_HOME": str(args.base_home)},
                "this": {**common, "PYTHONPATH": "", "MLSD_HOME": str(args.home)}}
    rows: dict[str, list[tuple]] = {name: [] for name in variants}
    for r in range(args.rounds):
        for name in list(variants) if r % 2 == 0 else list(reversed(variants)):
            stats = timed([mlsd, "stats"], variants[name])
            search = timed([mlsd, "search", "cold start", "--k", "3"], variants[name])
            rows[name].append((stats, search))
        print(f"round {r + 1}: " + ", ".join(f"{n} stats {rows[n][-1][0][0]:.2f} s, search {rows[n][-1][1][0]:.2f} s"
                                             for n in variants), flush=True)
    print(f"load average {os.getloadavg()}")
    for name, pairs in rows.items():
        wall = statistics.median(q[0] / s[0] for s, q in pairs)
        cpu = statistics.median(q[1] / s[1] for s, q in pairs)
        print(f"{name}: search/stats {wall:.2f}x wall, {cpu:.2f}x CPU; search {statistics.median(q[0] for _, q in pairs):.2f} s "
              f"wall, {statistics.median(q[1] for _, q in pairs):.2f} s CPU, peak RSS {max(q[2] for _, q in pairs):.0f} MB; "
              f"stats {statistics.median(s[0] for s, _ in pairs):.2f} s wall, {statistics.median(s[1] for s, _ in pairs):.2f} s CPU")


if __name__ == "__main__":
    main()
