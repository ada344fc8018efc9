#!/usr/bin/env python
"""The exact scan of a flat index: numpy (``mlsd.flat.search``) against FAISS's ``IndexFlatIP``.

    .venv/bin/python benchmarks/bench_flat_scan.py
    ... --sizes 168,2430,10000,50000   item counts (random unit vectors, 384 dimensions)
    ... --queries 200                  queries per size, top 50 (the engine's pool)

Per size, the two are timed query by query, interleaved, in this process (FAISS with one
thread, as the engine sets it), unfiltered and with a 30 % filter; p50 and p95 in ms, and
whether both gave the same ids. Also the one-off costs a cold process pays to get there:
importing FAISS and reading the index through it, against reading the same file with numpy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="168,2430,10000,50000")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    from mlsd import flat

    started = time.perf_counter()
    import faiss

    import_faiss_ms = (time.perf_counter() - started) * 1000
    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(14)
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        vectors = rng.standard_normal((size, 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        index = faiss.IndexFlatIP(384)
        index.add(vectors)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "vectors.faiss"
            path.write_bytes(faiss.serialize_index(index).tobytes())
            started = time.perf_counter()
            faiss.read_index(str(path))
            read_faiss_ms = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            flat.read_flat_vectors(path, 384)
            read_numpy_ms = (time.perf_counter() - started) * 1000
        queries = rng.standard_normal((args.queries, 1, 384)).astype(np.float32)
        queries /= np.linalg.norm(queries, axis=2, keepdims=True)
        mask = rng.random(size) < 0.3
        selector = faiss.SearchParameters(sel=faiss.IDSelectorBitmap(np.packbits(mask, bitorder="little")))
        times: dict[str, list[float]] = {"faiss": [], "numpy": [], "faiss_filtered": [], "numpy_filtered": []}
        same = 0
        for query in queries:
            for name, run in (("faiss", lambda: index.search(query, 50)[1][0].tolist()),
                              ("numpy", lambda: [i for i, _ in flat.search(vectors, query, 50)]),
                              ("faiss_filtered", lambda: index.search(query, 50, params=selector)[1][0].tolist()),
                              ("numpy_filtered", lambda: [i for i, _ in flat.search(vectors, query, 50, mask)])):
                started = time.perf_counter()
                result = run()
                times[name].append((time.perf_counter() - started) * 1000)
                if name.startswith("faiss"):
                    expected = result
                else:
                    same += result == expected
        row = {"items": size, "same_ids": f"{same}/{2 * len(queries)}",
               "read_faiss_ms": round(read_faiss_ms, 2), "read_numpy_ms": round(read_numpy_ms, 2)}
        for name, values in times.items():
            ordered = sorted(values)
            row[name] = {"p50": round(statistics.median(values), 3), "p95": round(ordered[int(0.95 * len(ordered))], 3)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(json.dumps({"import_faiss_ms": round(import_faiss_ms, 1)}))


if __name__ == "__main__":
    main()
