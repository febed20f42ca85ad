"""Online nearest-neighbour search cost against the number of stored articles.

The engine searches its FAISS index exactly (fp16 codes, ``vector_index.py``) once per posted
article: exhaustive, so no candidate is lost and deletes are exact. The index is partitioned by
publication time (one partition per time window's width), and a dated article searches only
the partitions overlapping its window (plus the undated articles), so in a dated feed the cost follows what the window holds, not the store's
age. This prints, at each store size (random unit vectors of the model's dimension, dated at
``--per-day`` articles a day up to today; search cost does not depend on the vectors' content),
the median and p90 time of one article's search (k = the engine's ``neighbours``):

- dated: an article of today, searching its window (``time_window_days`` either side);
- undated: an undated article, searching every partition;
- one index: the same store undated (one partition, what the index was before it was split);
- NumPy: the naive alternative, a float32 matrix product over the whole store.

    .venv/bin/python bench/search_cost.py --sizes 10000 100000 300000 1000000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from storyclust.config import Settings
from storyclust.vector_index import DAY, VectorIndex, span_for_window


def unit_vectors(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.standard_normal((n, dim), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def timed(search, queries: np.ndarray) -> np.ndarray:
    times = []
    for q in queries:
        start = time.perf_counter()
        search(q)
        times.append(time.perf_counter() - start)
    return np.array(times) * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 300_000, 1_000_000])
    parser.add_argument("--dim", type=int, default=384, help="the model's dimension (MiniLM: 384)")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--per-day", type=int, default=3000, help="articles published a day")
    args = parser.parse_args()
    settings = Settings()
    k, window = settings.neighbours, settings.time_window_seconds
    rng = np.random.default_rng(0)
    queries = unit_vectors(args.queries, args.dim, rng)
    today = 20_000 * DAY + DAY / 2
    print(f"one article's search, k={k}, dim {args.dim}, {args.queries} queries, {args.per_day:,} articles "
          f"a day, window +-{settings.time_window_days:g} days; ms, median (p90)")
    print("| stored | partitions | dated (window) | undated (every partition) | one index | NumPy float32 | one index / dated |")
    print("|---|---|---|---|---|---|---|")
    for n in args.sizes:
        vectors = unit_vectors(n, args.dim, rng)
        ids = np.arange(1, n + 1, dtype=np.int64)
        published = (today - np.arange(n)[::-1] // args.per_day * DAY).tolist()
        partitioned = VectorIndex(args.dim, span=span_for_window(window))
        partitioned.add(ids, vectors, published)
        one = VectorIndex(args.dim)
        one.add(ids, vectors)
        dated = timed(lambda q: partitioned.search(q, k, around=today, within=window), queries)
        undated = timed(lambda q: partitioned.search(q, k), queries)
        single = timed(lambda q: one.search(q, k), queries)
        naive = timed(lambda q: np.argpartition(-(vectors @ q), k)[:k], queries)
        cells = [f"{np.median(t):.2f} ({np.percentile(t, 90):.2f})" for t in (dated, undated, single, naive)]
        print(f"| {n:,} | {partitioned.partitions()} | {' | '.join(cells)} | {np.median(single) / np.median(dated):.1f} |",
              flush=True)

if __name__ == "__main__":
    main()
