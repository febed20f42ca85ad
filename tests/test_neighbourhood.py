"""The neighbour margin the nightly job reads each pair with: each article's nearest other
article (copies left out) from the job's neighbour search, the same as the training script's
dense computation, and the margin's sign."""

import numpy as np

from storyclust.neighbourhood import COPY_COSINE, dense_nearest_cosines, margins, nearest_cosines


def _unit(rows: list[list[float]]) -> np.ndarray:
    v = np.asarray(rows, dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_nearest_leaves_out_itself_copies_and_dates_beyond_the_window():
    vectors = _unit([[1, 0, 0], [1, 0.01, 0], [1, 0.6, 0], [0, 1, 0], [0.8, 0.6, 0.1]])
    # 0 and 1 are copies (cosine > 0.95): neither is the other's neighbourhood.
    assert vectors[0] @ vectors[1] >= COPY_COSINE
    day = 86400.0
    ts = np.array([0.0, 0.0, 0.0, np.nan, 30 * day])
    nearest = dense_nearest_cosines(vectors, ts, window=7 * day)
    sims = vectors @ vectors.T
    assert np.isclose(nearest[0], sims[0, 2])  # not 1 (copy), not 4 (a month later)
    assert np.isclose(nearest[3], max(sims[3, [0, 1, 2, 4]]))  # undated: meets every date
    assert np.isclose(nearest[4], sims[4, 3])  # the dated ones are all a month earlier

    # The job's version, from directed neighbour lists, agrees where the lists hold the nearest.
    n = len(vectors)
    query, found = np.repeat(np.arange(n), n), np.tile(np.arange(n), n)
    dated = ~np.isnan(ts)
    within = ~(dated[query] & dated[found]) | (np.abs(np.nan_to_num(ts)[query] - np.nan_to_num(ts)[found]) <= 7 * day)
    job = nearest_cosines(n, query[within], found[within], sims[query, found][within].astype(np.float64))
    assert np.allclose(job, nearest)


def test_a_node_with_only_copies_has_no_nearest_and_its_side_counts_the_pair():
    nearest = nearest_cosines(3, np.array([0, 0, 1]), np.array([1, 0, 0]), np.array([0.97, 1.0, 0.97]))
    assert np.isnan(nearest).all()
    cosine = np.array([0.6, 0.6])
    # a's nearest 0.8 (b is not its closest), b unknown: counts the pair's own cosine.
    assert np.allclose(margins(cosine, np.array([0.8, 0.6]), np.array([np.nan, 0.6])), [-0.1, 0.0])


def test_the_margin_is_zero_for_mutual_nearest_and_negative_inside_a_crowd():
    vectors = _unit([[1, 0.30, 0], [1, -0.30, 0], [1, 0, 0.25], [0, 0, 1], [0.3, 0.4, 1]])
    nearest = dense_nearest_cosines(vectors, np.full(5, np.nan), window=1.0)
    sims = vectors @ vectors.T
    # 3 and 4 are each other's nearest: margin 0. 0 and 1 each have a closer one (2): below 0.
    assert np.isclose(margins(np.array([sims[3, 4]]), nearest[[3]], nearest[[4]])[0], 0.0, atol=1e-6)
    assert margins(np.array([sims[0, 1]]), nearest[[0]], nearest[[1]])[0] < -0.05
