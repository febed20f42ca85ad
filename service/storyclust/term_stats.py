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


class TermStats:
    def __init__(self, df: dict[str, int] | None = None, docs: int = 0) -> None:
        self.df: Counter[str] = Counter(df or {})
        self.docs = docs
        # log(df + 1) per term, kept current on add/remove: weight sums are then one C-level
        # pass of dict lookups, not a Python call per term (they run for every scored pair).
        self._log_df = {t: math.log(n + 1) for t, n in self.df.items()}

    def _update(self, terms: Iterable[str], step: int) -> None:
        for term in terms:
            count = self.df[term] + step
            self.df[term] = count
            self._log_df[term] = math.log(max(count, 0) + 1)

    def add(self, terms: Iterable[str]) -> None:
        self._update(terms, 1)
        self.docs += 1

    def remove(self, terms: Iterable[str]) -> None:
        self._update(terms, -1)
        self.docs = max(0, self.docs - 1)

    def idf(self, term: str) -> float:
        """Smoothed IDF; the article being scored counts as one more document."""
        return math.log(self.docs + 2) - self._log_df.get(term, 0.0)

    def weight_sum(self, terms: Iterable[str]) -> float:
        """Sum of the IDFs of ``terms`` (a set)."""
        terms = list(terms)
        return len(terms) * math.log(self.docs + 2) - sum(map(self._log_df.get, terms, repeat(0.0)))
