"""Sentence alignment: how well the best-matching sentences of two articles agree.

Two reports of one meeting paraphrase the same quotes and facts, so some of their sentences
share rare words even when the articles overall share few; two meetings of the same people do
not. The score of a pair is the mean IDF-weighted Jaccard of its three best-aligned sentence
pairs (each sentence of either article with its best match in the other).

This runs for every candidate of every posted article, so it is written as a handful of NumPy
passes over (stem, sentence) arrays: only the stems the two sides share are ever paired, and no
per-call sparse-matrix construction is paid (which cost ~6 ms a call with SciPy at 20
candidates, against well under 1 ms here).
"""

from __future__ import annotations

from itertools import chain

import numpy as np

from .profile import Profile
from .term_stats import TermStats

BEST_PAIRS = 3  # sentence pairs averaged: one shared boilerplate line must not decide


def _flatten(sentences: list[tuple[int, ...]]) -> tuple[np.ndarray, np.ndarray]:
    """(stems, the sentence each belongs to) of a list of sentences."""
    lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
    stems = np.fromiter(chain.from_iterable(sentences), dtype=np.int64, count=int(lengths.sum()))
    return stems, np.repeat(np.arange(len(sentences)), lengths)


def concatenated_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``range(s, s + n)`` for each start and length (also the nightly job's
    sort-merge joins)."""
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    offsets = np.repeat(ends - lengths, lengths)
    return np.arange(total) - offsets + np.repeat(starts, lengths)


def sentence_alignment(profile: Profile, others: list[Profile], stats: TermStats) -> np.ndarray:
    """For each of ``others``, the mean IDF-weighted Jaccard of its best-aligned sentence pairs
    with ``profile``; 0 where either side has no sentence."""
    out = np.zeros(len(others))
    theirs = [s for o in others for s in o.sentences]
    if not profile.sentences or not theirs:
        return out
    my_stems, my_sentence = _flatten(list(profile.sentences))
    order = np.argsort(my_stems, kind="stable")
    my_stems, my_sentence = my_stems[order], my_sentence[order]
    their_stems, their_sentence = _flatten(theirs)
    my_weight, their_weight = stats.stem_idf(my_stems), stats.stem_idf(their_stems)
    n_mine, n_theirs = len(profile.sentences), len(theirs)
    my_mass = np.bincount(my_sentence, weights=my_weight, minlength=n_mine)
    their_mass = np.bincount(their_sentence, weights=their_weight, minlength=n_theirs)

    # Every (my sentence, their sentence) pair that shares a stem, with that stem's weight.
    first = np.searchsorted(my_stems, their_stems, "left")
    matches = np.searchsorted(my_stems, their_stems, "right") - first
    mine = my_sentence[concatenated_ranges(first, matches)]
    their = np.repeat(their_sentence, matches)
    shared = np.bincount(mine * n_theirs + their, weights=np.repeat(their_weight, matches),
                         minlength=n_mine * n_theirs).reshape(n_mine, n_theirs)
    union = my_mass[:, None] + their_mass[None, :] - shared
    similarity = np.divide(shared, union, out=np.zeros(shared.shape), where=union > 0)

    counts = np.fromiter((len(o.sentences) for o in others), dtype=np.int64, count=len(others))
    has = np.flatnonzero(counts)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))[has]
    best_of_mine = np.maximum.reduceat(similarity, starts, axis=1)  # [n_mine, candidates with sentences]
    best_of_theirs = similarity.max(axis=0)
    for column, k in enumerate(has.tolist()):
        start = starts[column]
        best = np.concatenate((best_of_mine[:, column], best_of_theirs[start:start + counts[k]]))
        top = np.partition(best, len(best) - BEST_PAIRS)[-BEST_PAIRS:] if len(best) > BEST_PAIRS else best
        out[k] = top.mean()
    return out
