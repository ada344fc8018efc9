#!/usr/bin/env python
"""How well imported items are filed under topics and flow steps (mlsd.assign), and how many are.

    MLSD_HOME=/tmp/mlsd-assign .venv/bin/python benchmarks/eval_assign.py
    ... --no-import     skip the real case-study list (only the bundled resources)
    ... --csv FILE      the list to file (default ../shared/corpora/case-studies/case_studies.csv,
                        or under $MLSD_CORPORA)

1. The 50 bundled resources, filed as if they were imported: their vectors never saw their
   curated topics (an item's embedded text holds no topic), so filing them from the index and
   comparing with the curated topics measures the filing. For each pair of floors:
     exact P/R        an assigned topic is right when it is one of the item's curated topics;
                      a curated topic is found when it is assigned (micro-averaged).
     same-branch P/R  the same, where a topic counts when it shares its root topic with one on
                      the other side (filed under "Collaborative filtering" for a resource
                      curated under "Cold start": both are recommendation systems).
     steps P/R        the flow step (at most one) against the curated steps.
     filed            share of the 50 given at least one topic.
2. Off-topic texts (benchmarks/queries_offtopic.yaml, as titles): the highest cosine any of them
   reaches to a topic, which the topic floor must stay above.
3. The real case-study CSV imported into $MLSD_HOME (once; reused afterwards): the share of its
   items the import filed under a topic and under a step, with the floors in mlsd.assign.

Set MLSD_HOME to a temporary folder: the bundled index and the imported list are built there.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
# ../shared/corpora beside the project (or beside the folder of its worktrees), or $MLSD_CORPORA.
CORPORA = next((Path(os.environ["MLSD_CORPORA"]),) if os.environ.get("MLSD_CORPORA") else
               (p / "shared" / "corpora" for p in HERE.parents if (p / "shared" / "corpora").is_dir()),
               HERE.parents[1] / "shared" / "corpora")
DEFAULT_CSV = CORPORA / "case-studies" / "case_studies.csv"
TOPIC_FLOORS = (0.30, 0.35, 0.40, 0.45, 0.50)
STEP_FLOORS = (0.25, 0.30, 0.35)


def ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


def scores(pairs: list[tuple[set[str], set[str]]], same) -> tuple[float, float]:
    """Micro precision and recall of (assigned, curated) pairs, with ``same(a, b)`` deciding a match."""
    right = sum(sum(1 for a in assigned if any(same(a, c) for c in curated)) for assigned, curated in pairs)
    found = sum(sum(1 for c in curated if any(same(a, c) for a in assigned)) for assigned, curated in pairs)
    return ratio(right, sum(len(a) for a, _ in pairs)), ratio(found, sum(len(c) for _, c in pairs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-import", action="store_true", help="skip the real case-study list")
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="the list to import and file")
    args = parser.parse_args()
    if "MLSD_HOME" not in os.environ:
        print("Set MLSD_HOME to a temporary folder.", file=sys.stderr)
        return 2

    from mlsd import assign, paths
    from mlsd.corpus import load_corpus
    from mlsd.embed import default_embedder
    from mlsd.index import embed_items, open_index
    from mlsd.model import Item

    embedder = default_embedder()
    corpus = load_corpus(library_dir=paths.home() / "no-library")  # the bundled data alone
    items = list(corpus.items)
    index = open_index(items, corpus.data_hash, embedder, folder=paths.home() / "bundled-index")
    vectors = index.vectors
    bundled = [r for r in corpus.resources if r.source == "bundled"]
    root = corpus.root_topic_name

    print(f"1. The {len(bundled)} bundled resources filed as if imported (curated topics hidden)\n")
    print(f"{'topic floor':>11} {'step floor':>10}  {'exact P':>7} {'exact R':>7}  {'branch P':>8} {'branch R':>8}"
          f"  {'steps P':>7} {'steps R':>7}  {'filed':>5}")
    for topic_floor in TOPIC_FLOORS:
        for step_floor in STEP_FLOORS:
            filed = assign.file_items(items, vectors, [r.id for r in bundled], topic_floor=topic_floor,
                                      step_floor=step_floor)
            topics = [(set(filed[r.id].topics), set(r.topics)) for r in bundled]
            steps = [(set(filed[r.id].steps), set(r.steps)) for r in bundled]
            exact = scores(topics, lambda a, c: a == c)
            branch = scores(topics, lambda a, c: root(a) == root(c))
            step = scores(steps, lambda a, c: a == c)
            share = ratio(sum(1 for a, _ in topics if a), len(bundled))
            mark = "  <- mlsd.assign" if (topic_floor, step_floor) == (assign.TOPIC_FLOOR, assign.STEP_FLOOR) else ""
            print(f"{topic_floor:>11.2f} {step_floor:>10.2f}  {exact[0]:>7.2f} {exact[1]:>7.2f}  {branch[0]:>8.2f} "
                  f"{branch[1]:>8.2f}  {step[0]:>7.2f} {step[1]:>7.2f}  {share:>5.0%}{mark}")

    offtopic = [q["query"] for q in yaml.safe_load((HERE / "queries_offtopic.yaml").read_text())["queries"]]
    fake = [Item(f"off-{n}", "resource", text, None, None, None, None, "", "", (), ()) for n, text in enumerate(offtopic)]
    topic_rows = [n for n, item in enumerate(items) if item.type == "topic"]
    cosine = embed_items(fake, embedder) @ vectors[topic_rows].T
    worst = int(np.argmax(cosine.max(axis=1)))
    print(f"\n2. {len(offtopic)} off-topic titles: highest cosine to a topic {cosine.max():.3f} "
          f"(\"{offtopic[worst]}\"); filed under a topic at {assign.TOPIC_FLOOR:.2f}: "
          f"{int((cosine.max(axis=1) >= assign.TOPIC_FLOOR).sum())}")

    if args.no_import:
        return 0
    if not args.csv.is_file():
        print(f"\n3. {args.csv} is absent: the imported share is not measured.")
        return 0
    from mlsd.library import import_source, list_sources

    name = "eval-case-studies"
    if name not in {s.name for s in list_sources()}:
        import_source(str(args.csv), name=name, embedder=embedder)
    imported = [r for r in load_corpus().resources if r.source == name]
    with_topic = sum(1 for r in imported if r.topics)
    with_step = sum(1 for r in imported if r.steps)
    print(f"\n3. {args.csv.name}: {len(imported)} items imported; filed under a topic {with_topic} "
          f"({ratio(with_topic, len(imported)):.0%}), under a flow step {with_step} "
          f"({ratio(with_step, len(imported)):.0%}); topic floor {assign.TOPIC_FLOOR}, step floor {assign.STEP_FLOOR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
