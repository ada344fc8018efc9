#!/usr/bin/env python
"""The torch-free query path (issue 14): cold `mlsd search` against `mlsd stats`, memory, warm encode.

    MLSD_HOME=/tmp/mlsd-qp .venv/bin/python benchmarks/bench_query_path.py --out /tmp/qp.json
    ... --rounds 7          interleaved cold rounds (stats, search[, search with torch])
    ... --torch-baseline    also time a search whose query is encoded by sentence-transformers
                            (the query path before this change), in the same rounds
    ... --concurrent 10     searches started at once for the memory of many processes
    ... --warm-only         only the warm latencies (the index must be built)

What it measures, each command a fresh process (its wall time, CPU time = user + sys, and peak
RSS come from ``os.wait4`` on that process alone):

1. **cold start**: ``mlsd search "cold start" --k 3`` to its printed answer vs ``mlsd stats``,
   interleaved round by round so both see the same load; the ratio is taken per round, and its
   median reported (the machine is shared: compare ratios of one run, not absolute seconds);
2. **peak RSS** of one search;
3. **warm query encode** p50/p95 (``engine.query_encoder.encode_query``, in this process) and
   warm hybrid search p50/p95 through ``SearchEngine.search`` at the bundled size;
4. **N concurrent searches**: the sum of their peak RSS, and the wall time until the last ends.

The index (and its ONNX export) is built first under ``$MLSD_HOME`` when missing; the build and
export times are read from its manifest. Nothing is written into the project.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUERY = "cold start"
WITH_TORCH = (
    "from mlsd.corpus import load_corpus\n"
    "from mlsd.search import SearchEngine, open_engine\n"
    "e = open_engine(load_corpus())\n"
    "e = SearchEngine(e.corpus, e.index, e.embedder)\n"  # queries encoded by sentence-transformers
    f"for h in e.search({QUERY!r}, k=3): print(h.id)\n"
)


def run_unreaped(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait(process: subprocess.Popen, started: float) -> dict:
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = status
    if status != 0:
        raise SystemExit(f"{process.args} failed with status {status}")
    return {"wall_s": time.perf_counter() - started, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_mb": usage.ru_maxrss / 1024}


def timed(command: list[str], env: dict[str, str]) -> dict:
    """One process to its end: wall s, CPU s (user + sys) and peak RSS MB of that process alone."""
    started = time.perf_counter()
    return wait(run_unreaped(command, env), started)


def median(rows: list[dict], key: str) -> float:
    return round(statistics.median(r[key] for r in rows), 3)


def warm(samples: int, torch: bool = False) -> dict:
    """Warm encode and hybrid search latency in this process (ms)."""
    import yaml

    from mlsd.corpus import load_corpus
    from mlsd.search import open_engine

    engine = open_engine(load_corpus())
    queries = [str(e["query"]) for name in ("queries.yaml", "queries_heldout.yaml", "queries_newtopics.yaml")
               for e in yaml.safe_load((ROOT / "benchmarks" / name).read_text(encoding="utf-8"))["queries"]]
    queries = (queries * (samples // len(queries) + 1))[:samples]
    for q in queries[:10]:
        engine.search(q)
    encode, encode_cpu, search = [], [], []
    for q in queries:
        t, c = time.perf_counter(), time.thread_time()  # one intra-op thread: ONNX Runtime runs in this thread
        engine.query_encoder.encode_query(q)
        encode.append((time.perf_counter() - t) * 1000)
        encode_cpu.append((time.thread_time() - c) * 1000)
        t = time.perf_counter()
        engine.search(q)
        search.append((time.perf_counter() - t) * 1000)
    cut = lambda xs, p: round(sorted(xs)[min(len(xs) - 1, int(p * len(xs)))], 2)  # noqa: E731
    baseline = {}
    if torch:  # the same queries encoded by sentence-transformers (loads torch into this process)
        engine.embedder.encode_query(queries[0])
        times = []
        for q in queries[:50]:
            t = time.perf_counter()
            engine.embedder.encode_query(q)
            times.append((time.perf_counter() - t) * 1000)
        baseline = {"torch_encode_ms": {"p50": cut(times, 0.5), "p95": cut(times, 0.95), "queries": len(times)}}
    return {"query_status": engine.query_status, "queries": len(queries), **baseline,
            "encode_ms": {"p50": cut(encode, 0.5), "p95": cut(encode, 0.95)},
            "encode_cpu_ms": {"p50": cut(encode_cpu, 0.5), "p95": cut(encode_cpu, 0.95)},
            "hybrid_search_ms": {"p50": cut(search, 0.5), "p95": cut(search, 0.95)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--concurrent", type=int, default=10)
    parser.add_argument("--samples", type=int, default=200, help="warm queries")
    parser.add_argument("--torch-baseline", action="store_true")
    parser.add_argument("--warm-only", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not os.environ.get("MLSD_HOME"):
        raise SystemExit("set MLSD_HOME to a temporary folder: the index is built there")
    if args.warm_only:
        print(json.dumps({"load_average": os.getloadavg(), "warm": warm(args.samples, args.torch_baseline)}))
        return
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    env.pop("MLSD_EMBEDDER", None)
    mlsd = str(Path(sys.executable).parent / "mlsd")
    search = [mlsd, "search", QUERY, "--k", "3"]
    commands = {"stats": [mlsd, "stats"], "search": search}
    if args.torch_baseline:
        commands["search_with_torch"] = [sys.executable, "-c", WITH_TORCH]

    build = timed([mlsd, "build-index"], env)
    manifest = json.loads((Path(os.environ["MLSD_HOME"]) / "index" / "manifest.json").read_text(encoding="utf-8"))
    query_model = manifest.get("query_model") or {}
    result: dict = {"load_average": os.getloadavg(), "build_index": {
        **{k: round(v, 2) for k, v in build.items()}, "build_seconds": manifest.get("build_seconds"),
        "export_seconds": query_model.get("export_seconds")}}
    print(json.dumps(result), flush=True)

    rounds: dict[str, list[dict]] = {name: [] for name in commands}
    for r in range(args.rounds):
        order = list(commands) if r % 2 == 0 else list(reversed(commands))
        for name in order:
            rounds[name].append(timed(commands[name], env))
        print(f"round {r + 1}: " + ", ".join(f"{n} {rounds[n][-1]['wall_s']:.2f}s" for n in commands), flush=True)
    cold: dict = {}
    for name, rows in rounds.items():
        cold[name] = {"wall_s_median": median(rows, "wall_s"), "wall_s_min": round(min(r["wall_s"] for r in rows), 3),
                      "cpu_s_median": median(rows, "cpu_s"), "peak_rss_mb_max": round(max(r["peak_rss_mb"] for r in rows), 1)}
        if name != "stats":
            ratios = [a["wall_s"] / b["wall_s"] for a, b in zip(rows, rounds["stats"])]
            cpu = [a["cpu_s"] / b["cpu_s"] for a, b in zip(rows, rounds["stats"])]
            cold[name]["wall_ratio_to_stats_median"] = round(statistics.median(ratios), 2)
            cold[name]["cpu_ratio_to_stats_median"] = round(statistics.median(cpu), 2)
    result["cold"] = cold
    result["load_average_after_cold"] = os.getloadavg()
    print(json.dumps({"cold": cold}, indent=1), flush=True)

    started = time.perf_counter()
    processes = [run_unreaped(search, env) for _ in range(args.concurrent)]
    many = [wait(p, started) for p in processes]
    result["concurrent"] = {"processes": args.concurrent, "sum_peak_rss_mb": round(sum(m["peak_rss_mb"] for m in many), 1),
                            "max_peak_rss_mb": round(max(m["peak_rss_mb"] for m in many), 1),
                            "wall_s_last": round(max(m["wall_s"] for m in many), 2)}
    print(json.dumps({"concurrent": result["concurrent"]}), flush=True)

    result["warm"] = warm(args.samples, args.torch_baseline)
    result["load_average_end"] = os.getloadavg()
    print(json.dumps({"warm": result["warm"]}), flush=True)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
