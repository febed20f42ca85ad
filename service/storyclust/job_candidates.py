"""Candidate pairs for the nightly job: nearest neighbours within the time window, and MinHash
band collisions.

The job cannot score every pair of a million stored articles, so it scores the pairs a search
proposes: each article's nearest neighbours by embedding among those published within the time
window of it (an undated article is searched against all), plus the pairs whose MinHash
signatures collide in a band (copies that a crowded neighbourhood might hide). Small stores are
searched exactly, in BLAS blocks over the articles sorted by time; large ones through a temporary
IVF index whose queries are restricted to their window by an id-range selector: the articles are
numbered in time order, so a window is one range of ids, and an inverted list scanned under a
range selector skips the rest cheaply.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import faiss
import numpy as np


def _blocks(ts: np.ndarray, dated: int, window: float, size: int = 2048) -> Iterator[tuple[int, int, int, int]]:
    """(query start, query end, base start, base end) in node order. Dated queries come in runs
    spanning at most half a window and search the dated nodes within a window of them; undated
    queries search every node (an undated article may match any time)."""
    start = 0
    while start < dated:
        end = min(dated, start + size, int(np.searchsorted(ts[:dated], ts[start] + window / 2, "right")))
        end = max(end, start + 1)
        lo = int(np.searchsorted(ts[:dated], ts[start] - window, "left"))
        hi = int(np.searchsorted(ts[:dated], ts[end - 1] + window, "right"))
        yield start, end, lo, hi
        start = end
    for start in range(dated, len(ts), size):
        yield start, min(len(ts), start + size), 0, len(ts)


def neighbour_pairs(vectors: np.ndarray, ts: np.ndarray, dated: int, window: float, neighbours: int,
                    exact_budget: float, ivf_nprobe: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Directed (query, neighbour, cosine) nearest-neighbour pairs within the time window, and
    the search used ("exact" or "ivf"). ``vectors``: unit rows sorted by ``ts``, the first
    ``dated`` dated (the rest NaN); ``neighbours``, ``exact_budget`` and ``ivf_nprobe`` as in
    ``recluster.ReclusterConfig``."""
    n = len(vectors)
    k = min(neighbours + 1, n)  # +1: the query finds itself
    blocks = list(_blocks(ts, dated, window))
    cost = sum((e - s) * (hi - lo) for s, e, lo, hi in blocks)
    if cost <= exact_budget or n < 10_000:
        method = "exact"

        def search(s, e, lo, hi):
            scores, found = faiss.knn(vectors[s:e], vectors[lo:hi], min(k, hi - lo), metric=faiss.METRIC_INNER_PRODUCT)
            return scores, np.where(found >= 0, found + lo, -1)
    else:
        method = "ivf"
        # Each query scans only the in-window part of its nprobe lists, so the cost per query is
        # cells (coarse search) + nprobe x window / cells (scan): best near sqrt(nprobe x window),
        # whatever the store's size (x2: a scanned vector costs more than a centroid in BLAS).
        window_nodes = cost / max(n, 1)
        index = _ivf_index(vectors, int(np.clip(math.sqrt(2 * ivf_nprobe * window_nodes), 64, 4096)))

        def search(s, e, lo, hi):
            if (lo, hi) == (0, n):
                return index.search(vectors[s:e], k, params=faiss.SearchParametersIVF(nprobe=ivf_nprobe))
            selector = faiss.IDSelectorRange(lo, hi, True)  # ids are node positions, sorted in each list
            params = faiss.SearchParametersIVF(sel=selector, nprobe=ivf_nprobe)
            return index.search(vectors[s:e], k, params=params)

    src, dst, cos = [], [], []
    for s, e, lo, hi in blocks:
        scores, found = search(s, e, lo, hi)
        queries = np.repeat(np.arange(s, e), found.shape[1])
        found, scores = found.ravel(), scores.ravel()
        keep = (found >= 0) & (found != queries)
        queries, found, scores = queries[keep], found[keep], scores[keep]
        both = (queries < dated) & (found < dated)
        keep = ~both | (np.abs(ts[queries] - ts[np.where(both, found, queries)]) <= window)
        src.append(queries[keep])
        dst.append(found[keep])
        cos.append(scores[keep])
    return np.concatenate(src), np.concatenate(dst), np.concatenate(cos).astype(np.float64), method


def _ivf_index(vectors: np.ndarray, cells: int) -> faiss.Index:
    """A temporary inverted-file index over all nodes, ids = node positions. More cells: less
    scanning per query, costlier coarse search and training."""
    n, dim = vectors.shape
    cells = min(cells, max(1, n // 20))
    sample = np.random.default_rng(0).choice(n, min(n, cells * 20), replace=False)
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, cells, faiss.METRIC_INNER_PRODUCT)
    index.cp.niter = 10  # k-means rounds: cells only need to be roughly right
    index.cp.seed = 1
    index.train(vectors[np.sort(sample)])
    index.add(vectors)
    return index


def band_pairs(signatures: np.ndarray, rows: int, max_bucket: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of nodes whose MinHash signatures agree on all slots of at least one band."""
    n, slots = signatures.shape
    multipliers = np.random.default_rng(1).integers(1, 2**63, size=rows, dtype=np.uint64) | np.uint64(1)
    src, dst = [], []
    with np.errstate(over="ignore"):
        for band in range(slots // rows):
            part = signatures[:, band * rows:(band + 1) * rows].astype(np.uint64)
            key = (part * multipliers).sum(axis=1)
            order = np.argsort(key, kind="stable")
            key = key[order]
            starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
            sizes = np.diff(np.r_[starts, n])
            run_size = np.repeat(sizes, sizes)
            position = np.arange(n) - np.repeat(starts, sizes)
            for gap in range(1, int(sizes[sizes <= max_bucket].max(initial=1))):
                first = np.flatnonzero((position + gap < run_size) & (run_size <= max_bucket))
                src.append(order[first])
                dst.append(order[first + gap])
    if not src:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(src), np.concatenate(dst)


def pair_cosines(vectors: np.ndarray, a: np.ndarray, b: np.ndarray, chunk: int = 65_536) -> np.ndarray:
    """Cosine of each pair of (unit) vectors, a chunk at a time: gathering all rows at once
    would take 2 x pairs x dim x 4 bytes (2 GB for 660k pairs at dim 384)."""
    out = np.empty(len(a), dtype=np.float64)
    for start in range(0, len(a), chunk):
        part = slice(start, start + chunk)
        out[part] = np.einsum("ij,ij->i", vectors[a[part]], vectors[b[part]])
    return out
