"""Online nearest-neighbour search cost against the number of stored articles.

The engine searches its FAISS index exactly (fp16 codes, ``vector_index.py``) once per posted
article: exhaustive, so no candidate is lost and deletes are exact. The index is partitioned by
publication time (one partition per time window's width), and a dated article searches only
the partitions overlapping its window (plus the undated articles), so in a dated feed the cost follows what the window holds, not the store's
age. This prints, at each store size (unit vectors of the model's dimension in topics of about 20,
each a random centre plus noise so that two articles of a topic have a cosine of about 0.6, as
reports of one story do; dated at ``--per-day`` articles a day up to today; an exact search's
cost does not depend on the vectors' content), the median and p90 time of one article's search
(k = the engine's ``neighbours``; queries are new articles of stored topics):

- dated: an article of today, searching its window (``time_window_days`` either side);
- undated: an undated article, searching every partition;
- one index: the same store undated (one partition, what the index was before it was split);
- inverted file: that one partition after ``VectorIndex.approximate`` (what the engine does at
  start-up past ``vector_approximate_from``), with the seconds it took and its recall: the
  share of the exact top k it returns, and of those exact neighbours with cosine >= 0.5 (the
  ones that can be the same story);
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


def topic_vectors(n: int, centres: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors each near one of ``centres``: two of one topic at cosine ~0.6."""
    noise = np.sqrt(0.667 / centres.shape[1])  # squared noise norm 0.667: cosine 1 / 1.667
    x = centres[rng.integers(0, len(centres), n)] + noise * rng.standard_normal((n, centres.shape[1]), dtype=np.float32)
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
    today = 20_000 * DAY + DAY / 2
    print(f"one article's search, k={k}, dim {args.dim}, {args.queries} queries, {args.per_day:,} articles "
          f"a day, window +-{settings.time_window_days:g} days; ms, median (p90)")
    print("| stored | partitions | dated (window) | undated (every partition) | one index | inverted file "
          "(build s; recall top k, cos >= 0.5) | NumPy float32 | one index / dated |")
    print("|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        centres = unit_vectors(max(1, n // 20), args.dim, rng)
        vectors = topic_vectors(n, centres, rng)
        queries = topic_vectors(args.queries, centres, rng)
        ids = np.arange(1, n + 1, dtype=np.int64)
        published = (today - np.arange(n)[::-1] // args.per_day * DAY).tolist()
        partitioned = VectorIndex(args.dim, span=span_for_window(window))
        partitioned.add(ids, vectors, published)
        one = VectorIndex(args.dim)
        one.add(ids, vectors)
        dated = timed(lambda q: partitioned.search(q, k, around=today, within=window), queries)
        undated = timed(lambda q: partitioned.search(q, k), queries)
        single = timed(lambda q: one.search(q, k), queries)
        exact = [one.search(q, k) for q in queries]
        approximate = VectorIndex(args.dim, approximate_from=0)
        approximate.add(ids, vectors)
        start = time.perf_counter()
        approximate.approximate()
        build = time.perf_counter() - start
        inverted = timed(lambda q: approximate.search(q, k), queries)
        found = [set(approximate.search(q, k)[0].tolist()) for q in queries]
        recall = np.mean([len(f & set(e.tolist())) / len(e) for f, (e, _) in zip(found, exact)])
        close = [(f, set(e[c >= 0.5].tolist())) for f, (e, c) in zip(found, exact)]
        recall_close = sum(len(f & e) for f, e in close) / max(1, sum(len(e) for _, e in close))
        naive = timed(lambda q: np.argpartition(-(vectors @ q), k)[:k], queries)
        cells = [f"{np.median(t):.2f} ({np.percentile(t, 90):.2f})" for t in (dated, undated, single)]
        cells.append(f"{np.median(inverted):.2f} ({np.percentile(inverted, 90):.2f}); {build:.0f} s; "
                     f"{recall:.3f}, {recall_close:.3f}")
        cells.append(f"{np.median(naive):.2f} ({np.percentile(naive, 90):.2f})")
        print(f"| {n:,} | {partitioned.partitions()} | {' | '.join(cells)} | {np.median(single) / np.median(dated):.1f} |",
              flush=True)

if __name__ == "__main__":
    main()
