"""Pair features for the same-story scorer: one row per (article, candidate) pair.

Each feature is a separate piece of evidence about whether two texts report one event:
paraphrase (embedding cosine), who/where (rare shared names), what (rare shared content terms
and title terms), what was said (best-aligned sentences), figures (shared numbers and years)
and when (gap between publication times). The shorter article's length lets the scorer
expect less overlap from a 60-word excerpt than from a full report. Rarity weights come from :class:`TermStats`.
The shared names' IDF sum is divided by log(documents + 2), the largest IDF a term can have, so a
name shared by two articles weighs about the same whether 50 or 50,000 articles are stored: the
scorer is learned on dev sets of 140 to 7,000 articles and runs on stores that grow from empty.
Below ``RARITY_MIN_DOCS`` stored articles rarity is not yet known (every name looks rare), so
the divisor stays at that size's and shared names count for less.
Copying (MinHash) is not a feature: copies are decided before the scorer runs, and as a feature
it only taught the model that near-copies are rare among same-story pairs.
"""

from __future__ import annotations

import math

import numpy as np

from .alignment import sentence_alignment
from .profile import Profile
from .term_stats import TermStats

FEATURES = (
    "cosine",
    "entity_shared_rel_idf",
    "term_wjaccard",
    "sentence_align",
    "title_wjaccard",
    "number_jaccard",
    "years_shared",
    "years_conflict",
    "both_dated",
    "log_days_apart",
    "log_shorter_terms",
)
RARITY_MIN_DOCS = 30
__all__ = ["FEATURES", "feature_matrix", "pair_features", "sentence_alignment"]


def _weighted_jaccard(a: frozenset[str], b: frozenset[str], stats: TermStats) -> tuple[float, float]:
    """(IDF-weighted Jaccard, IDF sum of the shared terms)."""
    shared = a & b
    if not shared:
        return 0.0, 0.0
    shared_sum = stats.weight_sum(shared)
    union_sum = shared_sum + stats.weight_sum(a - shared) + stats.weight_sum(b - shared)
    return (shared_sum / union_sum if union_sum > 0 else 0.0), shared_sum


def pair_features(profile: Profile, published_ts: float | None, cosine: float, other: Profile,
                  other_ts: float | None, stats: TermStats, alignment: float) -> list[float]:
    """The feature row for one pair, in ``FEATURES`` order."""
    _, ent_sum = _weighted_jaccard(profile.entities, other.entities, stats)
    term_wj, _ = _weighted_jaccard(profile.terms, other.terms, stats)
    title_wj, _ = _weighted_jaccard(profile.title_terms, other.title_terms, stats)
    numbers_union = profile.numbers | other.numbers
    number_j = len(profile.numbers & other.numbers) / len(numbers_union) if numbers_union else 0.0
    years_shared = bool(profile.years & other.years)
    years_conflict = bool(profile.years) and bool(other.years) and not years_shared
    both_dated = published_ts is not None and other_ts is not None
    days = abs(published_ts - other_ts) / 86400.0 if both_dated else 0.0
    return [
        cosine, math.log1p(ent_sum / math.log(max(stats.docs, RARITY_MIN_DOCS) + 2)), term_wj, alignment,
        title_wj, number_j, float(years_shared), float(years_conflict), float(both_dated), math.log1p(days),
        math.log1p(min(len(profile.terms), len(other.terms))),
    ]


def feature_matrix(rows: list[list[float]]) -> np.ndarray:
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))
