"""Filing imported items under the bundled topics and flow steps, from the vectors of the index.

An imported list says nothing about the knowledge base's topics, so its items would sit outside
topic pages, topic filters and the map's topic colouring. Each imported item is filed under its
nearest bundled topics and flow step by cosine between its vector and theirs (all unit vectors
already in the index: nothing is encoded here), kept only above a floor, so an item about
nothing the knowledge base covers stays unfiled rather than filed under the least bad topic.

The floors were measured with ``benchmarks/eval_assign.py`` (the bundled resources filed as if
imported, their curated topics hidden, then compared; and the 2,430-row case-study CSV): a
topic at cosine 0.40 or more, at most two; a step at 0.30 or more, at most one. Off-topic titles
stay below 0.22. The functions are pure: the same vectors always give the same filing, so a
re-import files a list exactly as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .model import Item

TOPIC_FLOOR = 0.40
MAX_TOPICS = 2
STEP_FLOOR = 0.30
MAX_STEPS = 1


@dataclass(frozen=True)
class Filing:
    """Where one imported item is filed: topic ids and flow step ids, nearest first (may be empty)."""

    topics: tuple[str, ...]
    steps: tuple[str, ...]


def nearest_targets(vectors: np.ndarray, targets: np.ndarray, target_ids: Sequence[str], floor: float,
                    most: int) -> list[tuple[str, ...]]:
    """For each row of ``vectors``, the ids of at most ``most`` targets with cosine >= ``floor``, nearest first.

    Args:
        vectors: (n, dimension) unit vectors.
        targets: (m, dimension) unit vectors; ``target_ids`` names them in order.
        floor: the least cosine a target needs.
        most: how many targets at most.

    Ties keep the targets' order (a stable sort), so the result depends on the vectors alone.
    """
    if len(vectors) == 0:
        return []
    if len(targets) == 0 or most < 1:
        return [() for _ in range(len(vectors))]
    cosine = np.asarray(vectors, dtype=np.float32) @ np.asarray(targets, dtype=np.float32).T
    order = np.argsort(-cosine, axis=1, kind="stable")[:, :most]
    out = []
    for row, best in zip(cosine, order):
        out.append(tuple(target_ids[j] for j in best if row[j] >= floor))
    return out


def file_items(items: Sequence[Item], vectors: np.ndarray, item_ids: Sequence[str], *,
               topic_floor: float = TOPIC_FLOOR, max_topics: int = MAX_TOPICS,
               step_floor: float = STEP_FLOOR, max_steps: int = MAX_STEPS) -> dict[str, Filing]:
    """File the items ``item_ids`` under the topics and flow steps among ``items``.

    Args:
        items: every item of the index, in vector order (topics and steps among them).
        vectors: their unit vectors, row ``n`` for ``items[n]``.
        item_ids: the items to file (imported resources, usually).
        topic_floor, max_topics, step_floor, max_steps: the floors and caps (the module's by default).

    Returns:
        item id -> :class:`Filing`, for each id of ``item_ids`` found among ``items``.
    """
    position = {item.id: n for n, item in enumerate(items)}
    topics = [n for n, item in enumerate(items) if item.type == "topic"]
    steps = [n for n, item in enumerate(items) if item.type == "step"]
    wanted = [i for i in dict.fromkeys(item_ids) if i in position]
    rows = vectors[[position[i] for i in wanted]] if wanted else np.zeros((0, vectors.shape[1]), dtype=np.float32)
    by_topic = nearest_targets(rows, vectors[topics], [items[n].id for n in topics], topic_floor, max_topics)
    by_step = nearest_targets(rows, vectors[steps], [items[n].id for n in steps], step_floor, max_steps)
    return {item_id: Filing(t, s) for item_id, t, s in zip(wanted, by_topic, by_step)}
