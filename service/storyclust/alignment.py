"""Sentence alignment: how well the best-matching sentences of two articles agree.

Two reports of one meeting paraphrase the same quotes and facts, so some of their sentences
share rare words even when the articles overall share few; two meetings of the same people do
not. The score of a pair is the mean IDF-weighted Jaccard of its three best-aligned sentence
pairs (each sentence of either article with its best match in the other).

This runs for every candidate of every posted article, so it is written as a handful of NumPy
passes over (stem, sentence) arrays: only the stems the two sides share are ever paired, and no
per-call sparse-matrix construction is paid (which cost ~6 ms a call with SciPy at 20
candidates, against well under 1 ms here).

A stem carried by more than ``BOILERPLATE_SHARE`` of the stored articles weighs 0, like a stop
word. An IDF-weighted Jaccard is a ratio, so two copies of one boilerplate sentence score 1.0
however common their words are: an agency footer on 30% of a feed ("Copyright 2024 The
Associated Press. All rights reserved. ...") counted as two of the three best-aligned pairs of
any two articles carrying it (out-of-fold B3 F1 ECB+ 0.879 -> 0.860). With its stems at 0 the
footer's pairs are empty. The dev sets' pairs barely change: leave-one-set-out AUC of the
retrained scorer 0.8717 / 0.8565 / 0.9782 at a fifth against 0.8717 / 0.8564 / 0.9781 without
the cut (ECB+ / AllSides / Clust-McMs); a tenth lowered Clust-McMs to 0.974.

An article's closing sentence (the last a profile keeps, of three or more) aligns with nothing
(:func:`closing_sentences`): it is where a site puts its chrome ("Sign up for our newsletter",
"Registered users can read up to 3 reports", a copyright line), which one site's pages share
whatever their story. A site with few pages in the store stays under every count below, and two
of its pages aligned at 1.0 on their last lines: the top-scored pairs of different stories in
SemEval-2022's English sample (``bench/pair_ratings.py``; AUC 0.883 -> 0.891, German 0.731 ->
0.741, Spanish 0.740 -> 0.756). The dev sets' pairs do not move (leave-one-set-out pair AUC
0.8886 / 0.8816 / 0.9796 -> 0.8887 / 0.8817 / 0.9796; the last two or three sentences cost
ECB+ up to 0.0007): reports of one story that agree agree before their last line too. Chrome
of two sentences or more keeps its earlier ones, which only the counts below silence.

A whole sentence that recurs in more than ``BOILERPLATE_SENTENCE_SHARE`` (a twentieth) of the
stored articles, or in more than ``BOILERPLATE_SENTENCE_MAX_DOCS`` (100: one site's chrome in a
store of many outlets), aligns with nothing (:meth:`TermStats.boilerplate_sentences`): the same footer on
15% of a feed stays under the fifth in every word, and its sentences still paired briefs of
different stories (out-of-fold B3 F1 AllSides 0.764 plain, 0.711 with it).
"""

from __future__ import annotations

import numpy as np

from .profile import Profile
from .term_stats import BOILERPLATE_SHARE, TermStats, common_limit

BEST_PAIRS = 3  # sentence pairs averaged: one shared boilerplate line must not decide
CLOSING_MIN_SENTENCES = 3  # a shorter article's last sentence is much of what it says


def closing_sentences(counts: np.ndarray) -> np.ndarray:
    """Index of each article's closing sentence among all the articles' sentences laid end to
    end (``counts``: each article's number of sentences), for the articles with at least
    ``CLOSING_MIN_SENTENCES``: these align with nothing (site chrome, above)."""
    ends = np.cumsum(counts) - 1
    return ends[counts >= CLOSING_MIN_SENTENCES]


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
    counts = np.fromiter((len(o.sentences) for o in others), dtype=np.int64, count=len(others))
    n_mine, n_theirs = len(profile.sentences), int(counts.sum())
    if not n_mine or not n_theirs:
        return out
    my_stems, my_sentence = profile.sentence_stems
    order = np.argsort(my_stems, kind="stable")
    my_stems, my_sentence = my_stems[order], my_sentence[order]
    has = np.flatnonzero(counts)
    flat = [others[k].sentence_stems for k in has.tolist()]
    stem_counts = np.fromiter((len(f[0]) for f in flat), dtype=np.int64, count=len(flat))
    starts = np.concatenate(([0], np.cumsum(counts[has])[:-1]))  # first sentence of each, in theirs
    their_stems = np.concatenate([f[0] for f in flat])
    their_sentence = np.concatenate([f[1] for f in flat]) + np.repeat(starts, stem_counts)
    common = common_limit(stats.docs, BOILERPLATE_SHARE)
    my_weight, their_weight = stats.stem_idf(my_stems, common), stats.stem_idf(their_stems, common)
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
    if stats.has_boilerplate_sentences():
        similarity[stats.boilerplate_sentences(profile.sentence_buckets)] = 0.0
        their_buckets = np.concatenate([others[k].sentence_buckets for k in has.tolist()])
        similarity[:, stats.boilerplate_sentences(their_buckets)] = 0.0
    similarity[closing_sentences(np.array([n_mine]))] = 0.0
    similarity[:, closing_sentences(counts[has])] = 0.0

    # Per candidate, the best match of each of my sentences and of each of theirs, side by
    # side in one row (padded with -1, below any similarity), and the mean of the row's top 3.
    best_of_mine = np.maximum.reduceat(similarity, starts, axis=1)  # [n_mine, candidates with sentences]
    best_of_theirs = similarity.max(axis=0)
    widths = n_mine + counts[has]
    table = np.full((len(has), int(widths.max())), -1.0)
    table[:, :n_mine] = best_of_mine.T
    row = np.repeat(np.arange(len(has)), counts[has])
    table[row, n_mine + np.arange(n_theirs) - np.repeat(starts, counts[has])] = best_of_theirs
    if table.shape[1] > BEST_PAIRS:
        table = np.partition(table, table.shape[1] - BEST_PAIRS, axis=1)[:, -BEST_PAIRS:]
    out[has] = np.maximum(table, 0.0).sum(axis=1) / np.minimum(widths, BEST_PAIRS)
    return out
