"""How close two articles are *for them*: a pair's cosine against each one's nearest neighbour.

A cosine means different things in different places of a feed. Inside a crowded topic (the
seeds' five Iran-Iraq reports, an ECB+ topic of two look-alike events, a day of a war) every
report is close to every other and a high cosine says little; an article whose nearest other
article is far away and which meets one at that distance has met its story. The margin

    cosine(a, b) - (nearest(a) + nearest(b)) / 2

is about 0 or above when a and b are (nearly) each other's closest articles, and below when
either has a closer one: the "margin" of bitext mining (Artetxe & Schwenk, 2019) with the single
nearest neighbour as the neighbourhood.

Only the nightly job reads it: there every article of its span is stored, so ``nearest`` is
known with hindsight. Online, an article arriving in a sparse store has no near neighbour yet
and every pair it forms would look like a match (tried as a scorer feature: more merges of
different events early in a feed). Neighbours at ``COPY_COSINE`` or above are copies of one text,
not a neighbourhood: a wire story stored ten times would otherwise make every other outlet's
report of it look far.
"""

from __future__ import annotations

import numpy as np

# MiniLM vectors of one wire story differ only in headline, dateline or a trimmed paragraph: ~0.95
# and above.
COPY_COSINE = 0.95


def nearest_cosines(n: int, query: np.ndarray, found: np.ndarray, cosine: np.ndarray) -> np.ndarray:
    """Each of n nodes' highest cosine to another node below ``COPY_COSINE``, from directed
    nearest-neighbour pairs (query, found, cosine); NaN for a node with none."""
    nearest = np.full(n, -np.inf)
    keep = (cosine < COPY_COSINE) & (query != found)
    np.maximum.at(nearest, query[keep], cosine[keep])
    nearest[np.isinf(nearest)] = np.nan
    return nearest


def dense_nearest_cosines(vectors: np.ndarray, ts: np.ndarray, window: float) -> np.ndarray:
    """``nearest_cosines`` of every article of a small set against all the others, two dated
    articles further apart than ``window`` seconds not counting (as in the job's search)."""
    sims = vectors @ vectors.T
    dated = ~np.isnan(ts)
    apart = dated[:, None] & dated[None, :] & (np.abs(np.nan_to_num(ts)[:, None] - np.nan_to_num(ts)[None, :]) > window)
    sims[apart | (sims >= COPY_COSINE)] = -np.inf
    np.fill_diagonal(sims, -np.inf)
    nearest = sims.max(axis=1) if len(sims) else np.zeros(0)
    return np.where(np.isinf(nearest), np.nan, nearest)


def margins(cosine: np.ndarray, nearest_a: np.ndarray, nearest_b: np.ndarray) -> np.ndarray:
    """The margin of each pair; a side with no nearest neighbour counts the pair's own cosine."""
    a = np.where(np.isnan(nearest_a), cosine, nearest_a)
    b = np.where(np.isnan(nearest_b), cosine, nearest_b)
    return cosine - (a + b) / 2
