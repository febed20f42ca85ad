"""Pair features for the same-story scorer: one row per (article, candidate) pair.

Each feature is a separate piece of evidence about whether two texts report one event:
paraphrase (embedding cosine), who/where (rare shared names), what (rare shared content terms
and title terms), what was said (best-aligned sentences), figures (shared numbers, weighted by
rarity like names: "2" or "100" says little, "1,345" much; and shared years) and when (the gap
between publication times). Rarity weights come from :class:`TermStats`.
When only ever lowers a score: the gap is read where both articles are dated, and an undated
pair counts as a same-day one. A bonus for closeness cannot be learned honestly from the dev
sets, which date whole stories at once (AllSides: 96% of same-day candidate pairs are one
story): a "same day" (earlier "both dated") feature learned it, and a feed dated all on one day,
as a day's real feed is, then merged nearly everything (out-of-fold B3 F1 ECB+ 0.88 -> 0.62,
AllSides 0.78 -> 0.20; ``bench/accuracy.py``'s one-day rows).
No feature measures article length: a length feature (log of the shorter article's terms) was
meant to let the scorer expect less overlap from an excerpt, but it only taught it to distrust
long reports, and dropping it raised one-pass B3 F1 out-of-fold on all three dev sets.
The shared names' IDF sum is divided by log(documents + 2), the largest IDF a term can have, so a
name shared by two articles weighs about the same whether 50 or 50,000 articles are stored: the
scorer is learned on dev sets of 140 to 7,000 articles and runs on stores that grow from empty.
Below ``RARITY_MIN_DOCS`` stored articles rarity is not yet known (every name looks rare), so
the divisor stays at that size's and shared names count for less.
A year carried by more than ``BOILERPLATE_SHARE`` (a fifth) of the stored articles is left out of
the year features, like a stop word: a copyright line ("(c) 2024") or the current year named
across a feed says nothing about which event a report is of, yet the flag counted it as a shared
year (every text ending "(c) 2024": out-of-fold B3 F1 ECB+ 0.879 -> 0.847, AllSides 0.763 ->
0.732; the AP footer, "Copyright 2024 ...", on 30%: AllSides 0.746 with a cut at a third, 0.763
at a fifth). The share is above every year of the dev sets' training pairs (the most common:
2013 in 18% of ECB+), where look-alike events years apart make a shared year strong evidence;
the IDF of shared years or a ~10% cut instead weakened that and the retrained scorer split seeds
002-003.
Weekdays are a conflict only, like years: both reports name days (Monday to Sunday) and none
in common. Reports of one event name the day it happened on; a topic's other events mostly
other days. Of the dev sets' candidate pairs with such a conflict 23% (ECB+), 1.2% (AllSides)
and 0.7% (Clust-McMs) are one story, against 56% / 9.7% / 5.3% of the rest; leave-one-set-out
pair AUC 0.872 / 0.857 / 0.978 -> 0.880 / 0.877 / 0.979 with it (2026-11-29). A common day is
no evidence (``training.train_scorer.UNREAD``). Where either article's weekdays are unknown
(another language, a profile stored before them) the feature is NaN, which the scorer reads as
its mean: no evidence either way. Read as "no conflict", a Chinese or Malay pair scored as an
English pair naming no day does, higher than before the feature: `storyclust cluster` on all
of Clust-McMs gave Chinese B3 0.953 and Malay 0.867 (0.967 and 0.918 before the feature, 0.982
and 0.918 with the days unknown). Days read only in a lead (the first 60 to 250 words) did no
better; spaCy's DATE entities (which add "yesterday", "this week", ...) less well (0.874 /
0.865 / 0.981), at the cost of running its NER.
Headline figures are a conflict only, too: both titles carry a figure (two digits or more, not
a year) and no figure of either title appears anywhere in the other report (compared as
mantissas: ``profile.number_mantissa``; unknown, NaN, in a profile stored before them). Reports
of one event headline its figure (a toll, a sum, a score) and the others name it somewhere; a
recurring statistic's other weeks headline other figures: AllSides' weekly jobless claims
(778,000 against 853,000) were its largest wrong merge. Of the
candidate pairs with such a conflict (4.1% / 2.8% / 0.8% of them) 15% (ECB+), 1.3% (AllSides)
and 0% (Clust-McMs) are one story, against 50% / 6.9% / 3.9% of the rest; leave-one-set-out pair
AUC 0.880 / 0.877 / 0.979 -> 0.882 / 0.879 / 0.980 (2026-11-30): few pairs, but in every set.
Figures read in the title and the first 30 words instead did worse (mean AUC 0.9117 against
0.9131 for the title alone in the same screen; ECB+ 0.877): it then fires on 17% of ECB+ pairs.
Copying (MinHash) is not a feature: copies are decided before the scorer runs, and as a feature
it only taught the model that near-copies are rare among same-story pairs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .alignment import sentence_alignment
from .profile import UNKNOWN_WEEKDAYS, Profile
from .term_stats import BOILERPLATE_SHARE, RARITY_MIN_DOCS, SLOT_FIELDS, TermStats, common_limit, counted_keys

FEATURES = (
    "cosine",
    "entity_shared_rel_idf",
    "term_wjaccard",
    "sentence_align",
    "title_wjaccard",
    "number_wjaccard",
    "years_shared",
    "years_conflict",
    "log_days_apart",
    "weekdays_conflict",
    "headline_numbers_conflict",
)
# Evidence against one story: the conflicts and the day gap. Their weights are fitted at or below
# zero and every other feature's at or above (training.signed_logistic), so that more evidence
# never lowers a score and a conflict never raises one.
LOWERING_FEATURES = frozenset({"years_conflict", "log_days_apart", "weekdays_conflict", "headline_numbers_conflict"})
__all__ = ["FEATURES", "LOWERING_FEATURES", "feature_matrix", "headline_numbers_conflict", "pair_feature_matrix",
           "pair_features", "sentence_alignment", "weekdays_conflict"]


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
    number_wj, _ = _weighted_jaccard(frozenset(counted_keys(profile, "numbers")),
                                     frozenset(counted_keys(other, "numbers")), stats)
    mine, theirs = _telling_years(profile.years, stats), _telling_years(other.years, stats)
    years_shared = bool(mine & theirs)
    years_conflict = bool(mine) and bool(theirs) and not years_shared
    days = abs(published_ts - other_ts) / 86400.0 if published_ts is not None and other_ts is not None else 0.0
    return [
        cosine, math.log1p(ent_sum / math.log(max(stats.docs, RARITY_MIN_DOCS) + 2)), term_wj, alignment,
        title_wj, number_wj, float(years_shared), float(years_conflict), math.log1p(days),
        float(weekdays_conflict(np.int64(profile.weekday_mask), np.int64(other.weekday_mask))),
        headline_numbers_conflict(profile, other),
    ]


def headline_numbers_conflict(profile: Profile, other: Profile) -> float:
    """1.0 where both titles carry figures and neither report names a figure of the other's
    title, 0.0 where not, NaN where either's are unknown (a profile stored before them)."""
    mine, theirs = profile.headline_numbers, other.headline_numbers
    if mine is None or theirs is None:
        return math.nan
    return float(bool(mine) and bool(theirs) and mine.isdisjoint(other.number_mantissas)
                 and theirs.isdisjoint(profile.number_mantissas))


def weekdays_conflict(mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """1.0 where both name weekdays (:func:`profile.weekday_mask`) and none in common, 0.0 where
    not, NaN where either's are unknown (``UNKNOWN_WEEKDAYS``); NumPy ints or arrays of them."""
    conflict = ((mine != 0) & (theirs != 0) & ((mine & theirs) == 0)).astype(np.float64)
    return np.where((mine == UNKNOWN_WEEKDAYS) | (theirs == UNKNOWN_WEEKDAYS), np.nan, conflict)


def _telling_years(years: frozenset[str], stats: TermStats) -> frozenset[str]:
    """The years not carried by more than ``BOILERPLATE_SHARE`` of the store."""
    limit = common_limit(stats.docs, BOILERPLATE_SHARE)
    return frozenset(y for y in years if stats.df.get("#" + y, 0) <= limit)


def feature_matrix(rows: list[list[float]]) -> np.ndarray:
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))


def pair_feature_matrix(profile: Profile, published_ts: float | None, cosines: np.ndarray,
                        others: list[Profile], other_ts: list[float | None], stats: TermStats,
                        alignment: np.ndarray) -> np.ndarray:
    """:func:`pair_features` of one article against many, as one matrix (equal up to float
    rounding, ~1e-15). Online ingest scores every candidate of every article: the sets are
    compared by slot (see :meth:`TermStats.slots`) in a few NumPy passes over all candidates
    and fields at once instead of a Python call per set and pair."""
    n = len(others)
    out = np.zeros((n, len(FEATURES)))
    if not n:
        return out
    entities, terms, title_terms, numbers, years = (SLOT_FIELDS.index(f) for f in
                                                    ("entities", "terms", "title_terms", "numbers", "years"))
    o = _overlaps(stats.slots(profile), [stats.slots(other) for other in others], stats, years)
    out[:, 0] = cosines
    out[:, 1] = np.log1p(o.shared_weight[:, entities] / math.log(max(stats.docs, RARITY_MIN_DOCS) + 2))
    out[:, 2] = o.weighted_jaccard(terms)
    out[:, 3] = alignment
    out[:, 4] = o.weighted_jaccard(title_terms)
    out[:, 5] = o.weighted_jaccard(numbers)
    if o.my_size[years]:
        shared_years = o.shared_count[:, years] > 0
        out[:, 6] = shared_years
        out[:, 7] = (o.their_size[:, years] > 0) & ~shared_years
    if published_ts is not None:
        ts = np.array(other_ts, dtype=np.float64)  # None -> nan
        out[:, 8] = np.log1p(np.nan_to_num(np.abs(published_ts - ts), nan=0.0) / 86400.0)  # undated: 0
    masks = np.fromiter((other.weekday_mask for other in others), dtype=np.int64, count=n)
    out[:, 9] = weekdays_conflict(np.int64(profile.weekday_mask), masks)
    out[:, 10] = [headline_numbers_conflict(profile, other) for other in others]
    return out


def _common_years(keys: np.ndarray, years: int, stats: TermStats) -> np.ndarray:
    """Which slot keys (:meth:`TermStats.slots`) are years left out by :func:`_telling_years`."""
    fields = len(SLOT_FIELDS)
    limit = common_limit(stats.docs, BOILERPLATE_SHARE)
    is_year = keys % fields == years
    common = np.zeros(len(keys), dtype=bool)
    if limit != math.inf and is_year.any():  # look up the years only: a few of hundreds of keys
        year_keys = np.flatnonzero(is_year)
        common[year_keys] = stats.slot_df(keys[year_keys] // fields) > limit
    return common


@dataclass
class _Overlaps:
    """Per candidate and field: the IDF sum and count of the shared keys, and of theirs; per
    field, of mine."""

    shared_weight: np.ndarray
    shared_count: np.ndarray
    their_weight: np.ndarray
    their_size: np.ndarray
    my_weight: np.ndarray
    my_size: np.ndarray

    def weighted_jaccard(self, field: int) -> np.ndarray:
        """:func:`_weighted_jaccard` of the field with each candidate."""
        shared, count = self.shared_weight[:, field], self.shared_count[:, field]
        union = self.my_weight[field] + self.their_weight[:, field] - shared
        return np.divide(shared, union, out=np.zeros(len(shared)), where=(count > 0) & (union > 0))


def _overlaps(mine: np.ndarray, theirs: list[np.ndarray], stats: TermStats, years: int) -> _Overlaps:
    """Overlaps of one article's keys (``slot * fields + field``, :meth:`TermStats.slots`)
    with each of ``theirs``, field by field; common years (field ``years``) left out."""
    n, fields = len(theirs), len(SLOT_FIELDS)
    lengths = np.fromiter(map(len, theirs), dtype=np.int64, count=n)
    keys = np.concatenate(theirs)
    group = np.repeat(np.arange(n) * fields, lengths) + keys % fields  # (candidate, field)
    common = _common_years(keys, years, stats)
    if common.any():
        keys, group = keys[~common], group[~common]
    mine = mine[~_common_years(mine, years, stats)]
    weight = stats.slot_idf(keys // fields)
    known = np.sort(mine)
    if len(known):
        is_shared = known[np.minimum(known.searchsorted(keys), len(known) - 1)] == keys
    else:
        is_shared = np.zeros(len(keys), dtype=bool)
    size = n * fields
    per_pair = lambda w: np.bincount(group, weights=w, minlength=size).reshape(n, fields)  # noqa: E731
    mine_field = mine % fields
    return _Overlaps(
        shared_weight=per_pair(np.where(is_shared, weight, 0.0)), shared_count=per_pair(is_shared),
        their_weight=per_pair(weight), their_size=per_pair(None),
        my_weight=np.bincount(mine_field, weights=stats.slot_idf(mine // fields), minlength=fields),
        my_size=np.bincount(mine_field, minlength=fields).astype(np.float64),
    )
