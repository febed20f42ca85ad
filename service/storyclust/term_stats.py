"""Corpus document frequencies of profile terms, for rarity weights (IDF).

A name shared by two articles is strong evidence only if few articles carry it: "Iran" in a feed
about Iran says nothing, "Turkmenistan" does. Counts come from the store itself, so the weights
follow the feed being clustered; they live in memory and are persisted by the store.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable


class TermStats:
    def __init__(self, df: dict[str, int] | None = None, docs: int = 0) -> None:
        self.df: Counter[str] = Counter(df or {})
        self.docs = docs

    def add(self, terms: Iterable[str]) -> None:
        self.df.update(terms)
        self.docs += 1

    def remove(self, terms: Iterable[str]) -> None:
        self.df.subtract(terms)
        self.docs = max(0, self.docs - 1)

    def idf(self, term: str) -> float:
        """Smoothed IDF; the article being scored counts as one more document."""
        return math.log((self.docs + 2) / (self.df.get(term, 0) + 1))

    def weight_sum(self, terms: Iterable[str]) -> float:
        return sum(self.idf(t) for t in terms)
