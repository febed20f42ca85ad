"""Corpus document frequencies of profile terms, for rarity weights (IDF).

A name shared by two articles is strong evidence only if few articles carry it: "Iran" in a feed
about Iran says nothing, "Turkmenistan" does. Counts come from the store itself, so the weights
follow the feed being clustered; they live in memory and are persisted by the store.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from itertools import repeat

import numpy as np

from .profile import STEM_BUCKETS

STEM_PREFIX = "~"  # profile keys of hashed sentence stems: "~<bucket>"


class TermStats:
    def __init__(self, df: dict[str, int] | None = None, docs: int = 0) -> None:
        self.df: Counter[str] = Counter(df or {})
        self.docs = docs
        # log(df + 1) per term, kept current on add/remove: weight sums are then one C-level
        # pass of dict lookups, not a Python call per term (they run for every scored pair).
        self._log_df = {t: math.log(n + 1) for t, n in self.df.items()}
        # The same for sentence stems, by bucket in one array (8 MB whatever the corpus size):
        # sentence alignment weighs thousands of stems per posted article in one NumPy lookup.
        self._stem_log_df = np.zeros(STEM_BUCKETS, dtype=np.float64)
        for term, value in self._log_df.items():
            if term.startswith(STEM_PREFIX):
                self._stem_log_df[int(term[1:])] = value

    def _update(self, terms: Iterable[str], step: int) -> None:
        for term in terms:
            count = self.df[term] + step
            self.df[term] = count
            value = self._log_df[term] = math.log(max(count, 0) + 1)
            if term.startswith(STEM_PREFIX):
                self._stem_log_df[int(term[1:])] = value

    def add(self, terms: Iterable[str]) -> None:
        self._update(terms, 1)
        self.docs += 1

    def remove(self, terms: Iterable[str]) -> None:
        self._update(terms, -1)
        self.docs = max(0, self.docs - 1)

    def idf(self, term: str) -> float:
        """Smoothed IDF; the article being scored counts as one more document."""
        return math.log(self.docs + 2) - self._log_df.get(term, 0.0)

    def stem_idf(self, buckets: np.ndarray) -> np.ndarray:
        """IDF of sentence-stem buckets, as :meth:`idf` of ``"~<bucket>"``."""
        return math.log(self.docs + 2) - self._stem_log_df[buckets]

    def weight_sum(self, terms: Iterable[str]) -> float:
        """Sum of the IDFs of ``terms`` (a set)."""
        terms = list(terms)
        return len(terms) * math.log(self.docs + 2) - sum(map(self._log_df.get, terms, repeat(0.0)))
