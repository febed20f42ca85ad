"""Online nearest-neighbour search cost against the number of stored articles.

The engine searches its FAISS index exactly (fp16 codes, ``vector_index.py``) once per posted
article: exhaustive, so no candidate is lost and deletes are exact, but its cost grows with the
store. This prints the median and p90 time of one article's search (k = the engine's
``neighbours``) at each size, beside the same search over float32 vectors with NumPy (the naive
alternative), on random unit vectors of the model's dimension (search cost does not depend on
the vectors' content).

    .venv/bin/python bench/search_cost.py --sizes 10000 100000 300000 1000000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from storyclust.config import Settings
from storyclust.vector_index import VectorIndex


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
    args = parser.parse_args()
    k = Settings().neighbours
    rng = np.random.default_rng(0)
    queries = unit_vectors(args.queries, args.dim, rng)
    print(f"one article's search, k={k}, dim {args.dim}, {args.queries} queries; ms")
    print("| stored | FAISS fp16 median | p90 | NumPy float32 median | ratio |")
    print("|---|---|---|---|---|")
    for n in args.sizes:
        vectors = unit_vectors(n, args.dim, rng)
        index = VectorIndex(args.dim)
        index.add(np.arange(1, n + 1, dtype=np.int64), vectors)
        faiss_ms = timed(lambda q: index.search(q, k), queries)
        numpy_ms = timed(lambda q: np.argpartition(-(vectors @ q), k)[:k], queries)
        print(f"| {n:,} | {np.median(faiss_ms):.2f} | {np.percentile(faiss_ms, 90):.2f} | "
              f"{np.median(numpy_ms):.2f} | {np.median(faiss_ms) / np.median(numpy_ms):.2f} |", flush=True)


if __name__ == "__main__":
    main()
