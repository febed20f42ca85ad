"""The nightly job's candidate search (:mod:`storyclust.job_candidates`)."""

from __future__ import annotations

import numpy as np
from conftest import load_dataset

from storyclust import minhash
from storyclust.job_candidates import band_pairs, neighbour_pairs
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


def test_band_collisions_pair_copies_and_skip_boilerplate_buckets():
    """MinHash bands pair a wire copy with its original (a new headline line and a dropped last
    sentence) and no two unrelated reports; a bucket larger than ``max_bucket`` (one text posted
    many times: boilerplate shared by unrelated articles, in the job's terms) gives no pairs."""
    texts = [row["text"] for row in load_dataset("ecbplus-dev")[:40]]
    copy = "UPDATED " + texts[0].rsplit(".", 2)[0] + "."
    sigs, _ = minhash.signatures(texts + [copy], 128, 3)
    config = ReclusterConfig()
    src, dst = band_pairs(sigs, config.band_rows, config.max_bucket)
    pairs = {(min(a, b), max(a, b)) for a, b in zip(src.tolist(), dst.tolist())}
    assert (0, len(texts)) in pairs
    unrelated = {(a, b) for a, b in pairs if (a, b) != (0, len(texts))}
    jaccards = [minhash.jaccard(sigs[a], sigs[b:b + 1])[0] for a, b in unrelated]
    assert all(j >= 0.3 for j in jaccards)  # any other collision is itself a near copy
    crowd = np.repeat(sigs[1:2], config.max_bucket + 1, axis=0)
    assert len(band_pairs(crowd, config.band_rows, config.max_bucket)[0]) == 0
    assert len(band_pairs(crowd[:3], config.band_rows, config.max_bucket)[0]) == 3 * 32  # 3 pairs, 32 bands
