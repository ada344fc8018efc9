"""How long parsing takes on adversarial lists: long runs of spaces, brackets, backticks, pipes.

Each shape is parsed in its own subprocess with a time limit, so a quadratic parser shows as
"over the limit" instead of hanging the benchmark. Nothing is written.

    .venv/bin/python benchmarks/bench_hostile_parse.py --size 1000000 --limit 60
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

CODE = """
import sys, time
from mlsd.errors import SourceError
from mlsd.importers import parse_report
text = sys.stdin.read()
started = time.perf_counter()
try:
    report = parse_report(text, format=sys.argv[1], origin="hostile")
    outcome = f"{len(report.items)} items, {len(report.skipped)} skipped"
except SourceError as exc:
    outcome = f"SourceError: {str(exc)[:80]}"
print(f"{time.perf_counter() - started:.3f}\\t{outcome}")
"""


def shapes(size: int) -> dict[str, tuple[str, str]]:
    """name -> (text, format): each about ``size`` characters."""
    link = "[t](https://a.example/x)"
    return {
        "list item, spaces": ("- " + " " * size + "\n", "auto"),
        "list item, spaces then text": ("- " + " " * size + "x\n", "auto"),
        "list item with link, spaces": (f"- {link}" + " " * size + "x\n", "markdown-list"),
        "heading, spaces": ("# a" + " " * size + "b\n", "markdown-list"),
        "run of [": ("- " + "[" * size + "\n", "markdown-list"),
        "run of [a": ("- " + "[a" * (size // 2) + "\n", "markdown-list"),
        "run of ](": ("- [a](" + "(" * size + "\n", "markdown-list"),
        "run of [a](x": ("- " + "[a](x" * (size // 5) + "\n", "markdown-list"),
        "run of (": ("- " + "(" * size + "\n", "markdown-list"),
        "run of `": ("- " + "`" * size + "\n", "markdown-list"),
        "run of `a": (f"- {link} " + "`a" * (size // 2) + "\n", "markdown-list"),
        "run of |": ("|" * size + "\n", "auto"),
        "table separator, spaces": ("| a | b |\n|---" + " " * size + "x\n", "markdown-table"),
        "table row, | and spaces": ("| a | b |\n|---|---|\n" + "| " * (size // 2) + "x\n", "markdown-table"),
        "spaces only": (" " * size + "x\n", "auto"),
        "csv, one long line": ("title,url\n" + "a," * (size // 2) + "\n", "csv"),
        "many short list lines": (f"- {link} `Co` `2020`\n" * (size // 32), "markdown-list"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="characters per adversarial text")
    parser.add_argument("--limit", type=float, default=60.0, help="seconds before a parse is called over the limit")
    parser.add_argument("--only", default=None, help="run only shapes whose name contains this")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = []
    for name, (text, fmt) in shapes(args.size).items():
        if args.only and args.only not in name:
            continue
        started = time.perf_counter()
        try:
            run = subprocess.run([sys.executable, "-c", CODE, fmt], input=text, capture_output=True, text=True,
                                 timeout=args.limit)
            if run.returncode != 0:
                seconds, outcome = None, "crashed: " + run.stderr.strip().splitlines()[-1][:100]
            else:
                took, outcome = run.stdout.strip().split("\t", 1)
                seconds = float(took)
        except subprocess.TimeoutExpired:
            seconds, outcome = None, f"over {args.limit:g} s (killed)"
        wall = time.perf_counter() - started
        results.append({"shape": name, "bytes": len(text.encode()), "parse_seconds": seconds, "outcome": outcome})
        if not args.json:
            shown = f"{seconds:8.3f} s" if seconds is not None else f"> {args.limit:g} s".rjust(10)
            print(f"{name:<30} {len(text.encode()):>9} B {shown}  {outcome}  (wall {wall:.1f} s)", flush=True)
    if args.json:
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
