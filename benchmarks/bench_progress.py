"""How fast the progress database answers: one note save, one read mark, a page's read of everything,
and several processes saving notes at once (as several tabs would).

    .venv/bin/python benchmarks/bench_progress.py [--writes 300] [--processes 4]

Writes into a temporary folder only. Prints p50/p95 per operation and the concurrent throughput.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from mlsd.progress import ProgressStore


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return f"p50 {statistics.median(ordered) * 1000:.2f} ms · p95 {p95 * 1000:.2f} ms"


def fake_resource(n: int) -> SimpleNamespace:
    return SimpleNamespace(id=f"bench-{n}", title=f"Case study {n}", url=f"https://example.org/{n}", source="bundled")


def writer(path: str, session_id: int, step: str, writes: int) -> float:
    store = ProgressStore(path)
    started = time.perf_counter()
    for n in range(writes):
        store.save_step_note(session_id, step, f"note {n} " + "x" * 400)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--processes", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "progress.db"
        store = ProgressStore(path)
        started = time.perf_counter()
        store.migrate()
        print(f"create + migrate a new database: {(time.perf_counter() - started) * 1000:.1f} ms")
        sid = store.start_session("Design a video recommendation system", 45, "problem-formulation")
        saves, marks = [], []
        for n in range(args.writes):
            t = time.perf_counter()
            store.save_step_note(sid, "problem-formulation", f"note {n} " + "x" * 400)
            saves.append(time.perf_counter() - t)
            t = time.perf_counter()
            store.set_read(fake_resource(n))
            marks.append(time.perf_counter() - t)
        print(f"save a step note ({args.writes}x): {percentiles(saves)}")
        print(f"mark a resource read ({args.writes}x): {percentiles(marks)}")
        reads = []
        for _ in range(50):
            t = time.perf_counter()
            store.all_reading()
            reads.append(time.perf_counter() - t)
        print(f"read all {args.writes} reading rows (each page does): {percentiles(reads)}")

        sessions = [store.start_session(f"Question {p}", 45, "problem-formulation") for p in range(args.processes)]
        context = multiprocessing.get_context("spawn")
        with context.Pool(args.processes) as pool:
            pool.apply(time.sleep, (0,))  # start the workers before timing
            started = time.perf_counter()
            durations = pool.starmap(writer, [(str(path), s, "ml-metrics", args.writes) for s in sessions])
            wall = time.perf_counter() - started
        total = args.processes * args.writes
        lost = sum(1 for s in sessions if not store.session(s).note("ml-metrics").startswith(f"note {args.writes - 1} "))
        print(f"{args.processes} processes x {args.writes} note saves at once: {total / wall:.0f} saves/s "
              f"(slowest writer {max(durations):.2f} s), final notes lost: {lost}")


if __name__ == "__main__":
    main()
