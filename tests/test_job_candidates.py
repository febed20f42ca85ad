"""The nightly job's candidate search (:mod:`storyclust.job_candidates`)."""

from __future__ import annotations

import numpy as np

from storyclust.job_candidates import neighbour_pairs
from storyclust.recluster import ReclusterConfig


def test_ivf_search_finds_the_exact_neighbours():
    """Large stores search a temporary IVF index with time-range selectors instead of exact
    blocks: on clustered vectors it finds nearly every exact in-window neighbour pair."""
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((600, 64))
    x = centres[rng.integers(0, 600, 12_000)] + 0.5 * rng.standard_normal((12_000, 64))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    ts = np.sort(rng.uniform(0, 60 * 86400.0, len(x)))
    ts[-1000:] = np.nan  # undated: searched against everything
    found = {}
    for budget in (np.inf, 0):
        src, dst, cos, method = neighbour_pairs(x, ts, 11_000, 7 * 86400.0, neighbours=10, exact_budget=budget,
                                                ivf_nprobe=ReclusterConfig().ivf_nprobe)
        found[method] = set(zip(src.tolist(), dst.tolist()))
        dated = (src < 11_000) & (dst < 11_000)
        assert np.all(np.abs(ts[src[dated]] - ts[dst[dated]]) <= 7 * 86400.0)
    assert len(found["ivf"] & found["exact"]) >= 0.9 * len(found["exact"])
