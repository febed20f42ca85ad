"""Pair features for the same-story scorer: one row per (article, candidate) pair.

Each feature is a separate piece of evidence about whether two texts report one event:
paraphrase (embedding cosine), copying (MinHash Jaccard and containment), who/where (rare shared
entities), what (rare shared content terms and title terms), figures (shared numbers) and when
(gap between publication times). Rarity weights come from :class:`TermStats`.
"""

from __future__ import annotations

import math

import numpy as np

from .profile import Profile
from .term_stats import TermStats

FEATURES = (
    "cosine",
    "jaccard",
    "containment",
    "entity_wjaccard",
    "entity_shared_idf",
    "entity_max_idf",
    "term_wjaccard",
    "title_wjaccard",
    "number_jaccard",
    "both_dated",
    "log_days_apart",
)


def _weighted_jaccard(a: frozenset[str], b: frozenset[str], stats: TermStats) -> tuple[float, float, float]:
    """(IDF-weighted Jaccard, IDF sum of the shared terms, largest shared IDF)."""
    shared = a & b
    if not shared:
        return 0.0, 0.0, 0.0
    shared_weights = [stats.idf(t) for t in shared]
    shared_sum = sum(shared_weights)
    union_sum = shared_sum + stats.weight_sum(a - shared) + stats.weight_sum(b - shared)
    return (shared_sum / union_sum if union_sum > 0 else 0.0), shared_sum, max(shared_weights)


def pair_features(profile: Profile, published_ts: float | None, cosine: float, jaccard: float,
                  containment: float, other: Profile, other_ts: float | None,
                  stats: TermStats) -> list[float]:
    """The feature row for one pair, in ``FEATURES`` order."""
    ent_wj, ent_sum, ent_max = _weighted_jaccard(profile.entities, other.entities, stats)
    term_wj, _, _ = _weighted_jaccard(profile.terms, other.terms, stats)
    title_wj, _, _ = _weighted_jaccard(profile.title_terms, other.title_terms, stats)
    numbers_union = profile.numbers | other.numbers
    number_j = len(profile.numbers & other.numbers) / len(numbers_union) if numbers_union else 0.0
    both_dated = published_ts is not None and other_ts is not None
    days = abs(published_ts - other_ts) / 86400.0 if both_dated else 0.0
    return [
        cosine, jaccard, containment, ent_wj, math.log1p(ent_sum), ent_max, term_wj, title_wj,
        number_j, float(both_dated), math.log1p(days),
    ]


def feature_matrix(rows: list[list[float]]) -> np.ndarray:
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))
