"""Corpus document frequencies of profile terms, for rarity weights (IDF).

A name shared by two articles is strong evidence only if few articles carry it: "Iran" in a feed
about Iran says nothing, "Turkmenistan" does. Counts come from the store itself, so the weights
follow the feed being clustered; they live in memory and are persisted by the store.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable
from itertools import chain, repeat

import numpy as np

from .profile import SENTENCE_BUCKETS, STEM_BUCKETS, Profile

STEM_PREFIX = "~"  # profile keys of hashed sentence stems: "~<bucket>"
SENTENCE_PREFIX = "="  # profile keys of hashed whole sentences: "=<bucket>"
# The profile sets the pair features compare, as counted keys (numbers and years as "#<n>").
SLOT_FIELDS = ("entities", "terms", "title_terms", "numbers", "years")
# Below this many stored articles rarity is not yet known (every term looks rare): what depends
# on how common a term is (the shared names' scale, boilerplate) holds back until then.
RARITY_MIN_DOCS = 30
# A word, sentence stem or year carried by more than this share of the stored articles is
# boilerplate (an agency footer, a copyright line), not evidence: features.py (years),
# alignment.py (stems) and boilerplate.py (copy verification).
BOILERPLATE_SHARE = 0.2
# A whole sentence is boilerplate at a much smaller share: words and years recur in a fifth of a
# feed by nature, a sentence of different stories does not, while one agency's footer sits on
# that agency's share only (the AP footer on 15% of allsides-train escaped the fifth). At least
# ``BOILERPLATE_SENTENCE_MIN_DOCS`` articles, so that a story's wire copies and the reports
# quoting them in a small store are not taken for boilerplate.
BOILERPLATE_SENTENCE_SHARE = 0.05
BOILERPLATE_SENTENCE_MIN_DOCS = 20
# ... and at most this many: in a store of many outlets one site's chrome (its paywall notice,
# newsletter and social lines) stays under a twentieth however many of its pages are stored
# (in a million articles a twentieth is 50,000), and aligns at 1.0 between that site's reports
# of different stories. A sentence in more articles than this is chrome whatever the store's
# size; a wire story's sentences in as many of its copies lose only their alignment, which the
# copies' MinHash and the rewrites' names and terms make up for. No sentence of the dev sets is
# in more than 15 articles, so the scorer's fit is unchanged. AllSides with each text ending in
# one of 50 outlets' paywall lines (~147 articles an outlet; bench/accuracy.py --chrome-outlets
# 50): B3 F1 0.752 without this bound, 0.800 with it, 0.811 with no chrome (docs/accuracy.md).
BOILERPLATE_SENTENCE_MAX_DOCS = 100


class TermStats:
    def __init__(self, df: dict[str, int] | None = None, docs: int = 0) -> None:
        df = df or {}
        # Whole sentences by bucket, kept only here (a dict entry per distinct sentence would
        # grow with the store): they are only ever compared with a limit (boilerplate).
        self.sentence_df = np.zeros(SENTENCE_BUCKETS, dtype=np.int32)
        sentences = [t for t in df if t[:1] == SENTENCE_PREFIX]
        if sentences:
            self.sentence_df[[int(t[1:]) for t in sentences]] = [max(df[t], 0) for t in sentences]
            df = {t: n for t, n in df.items() if t[:1] != SENTENCE_PREFIX}
        # An upper bound of the highest sentence count (deletes do not lower it): while it is
        # under the limit, no sentence is boilerplate and alignment skips the lookups.
        self.top_sentence_df = int(self.sentence_df.max())
        self.df: Counter[str] = Counter(df)
        self.docs = docs
        # log(df + 1) per term, kept current on add/remove: weight sums are then one C-level
        # pass of dict lookups, not a Python call per term (they run for every scored pair).
        self._log_df = {t: math.log(n + 1) for t, n in self.df.items()}
        # The same for sentence stems, by bucket in one array (8 MB whatever the corpus size):
        # sentence alignment weighs thousands of stems per posted article in one NumPy lookup.
        self._stem_log_df = np.zeros(STEM_BUCKETS, dtype=np.float64)
        # And for the other terms, by slot: a term keeps its slot for the life of this object,
        # so a stored profile's terms are looked up once (see :meth:`slots`) and every later
        # comparison with it is one NumPy gather instead of a Python pass over its sets.
        self._slot: dict[str, int] = {}  # slots from 1: 0 is "none" for the lookups
        self._slot_log_df = np.zeros(1024, dtype=np.float64)
        self._token = object()  # tells this object's cached slots from another's (or a pickled copy's)
        words = [t for t in self._log_df if not t.startswith(STEM_PREFIX)]
        self._assign(words, [self._log_df[t] for t in words])
        for term, value in self._log_df.items():
            if term.startswith(STEM_PREFIX):
                self._stem_log_df[int(term[1:])] = value

    def _assign(self, terms: list[str] | tuple[str, ...], values: list[float]) -> None:
        """Store log(df + 1) of non-stem terms by slot, giving new terms the next slots."""
        slots = list(map(self._slot.get, terms))
        if None in slots:
            for i, term in enumerate(terms):
                if slots[i] is None:
                    slots[i] = self._slot.setdefault(term, len(self._slot) + 1)
            if len(self._slot) >= len(self._slot_log_df):
                grown = np.zeros(max(2 * len(self._slot_log_df), len(self._slot) + 1), dtype=np.float64)
                grown[: len(self._slot_log_df)] = self._slot_log_df
                self._slot_log_df = grown
        if slots:
            self._slot_log_df[slots] = values

    def _update(self, terms: Iterable[str], step: int) -> None:
        df, log_df, values = self.df, self._log_df, []
        terms = list(terms)
        sentences = np.array([int(t[1:]) for t in terms if t[:1] == SENTENCE_PREFIX], dtype=np.int64)
        if len(sentences):  # a profile's sentence keys are distinct
            counts = np.maximum(self.sentence_df[sentences] + step, 0)
            self.sentence_df[sentences] = counts
            self.top_sentence_df = max(self.top_sentence_df, int(counts.max()))
            terms = [t for t in terms if t[:1] != SENTENCE_PREFIX]
        for term in terms:
            count = df.get(term, 0) + step  # not df[term]: Counter's __missing__ is a Python call
            df[term] = count
            values.append(math.log(max(count, 0) + 1))
        log_df.update(zip(terms, values))
        stems = [(t, v) for t, v in zip(terms, values) if t[:1] == STEM_PREFIX]
        if stems:
            self._stem_log_df[[int(t[1:]) for t, _ in stems]] = [v for _, v in stems]
        words = [(t, v) for t, v in zip(terms, values) if t[:1] != STEM_PREFIX]
        self._assign([t for t, _ in words], [v for _, v in words])

    def add(self, terms: Iterable[str]) -> None:
        self._update(terms, 1)
        self.docs += 1

    def remove(self, terms: Iterable[str]) -> None:
        self._update(terms, -1)
        self.docs = max(0, self.docs - 1)

    def add_profile(self, profile: Profile) -> None:
        """:meth:`add` of ``profile.all_terms()``, for every ingested article, so counted in
        C (Counter.update, map) from the profile's own split of words and stem buckets."""
        words, stems, buckets, _, sentence_buckets = profile.counted_terms
        terms = words + stems
        self.df.update(terms)
        if len(sentence_buckets):
            self.sentence_df[sentence_buckets] += 1
            self.top_sentence_df = max(self.top_sentence_df, int(self.sentence_df[sentence_buckets].max()))
        counts = map(self.df.__getitem__, terms)
        values = list(map(math.log, [c + 1 if c > 0 else 1 for c in counts]))
        self._log_df.update(zip(terms, values))
        self._stem_log_df[buckets] = values[len(words):]
        self._assign(words, values[: len(words)])
        self.docs += 1

    def idf(self, term: str) -> float:
        """Smoothed IDF; the article being scored counts as one more document."""
        return math.log(self.docs + 2) - self._log_df.get(term, 0.0)

    def stem_idf(self, buckets: np.ndarray, common_df: float = math.inf) -> np.ndarray:
        """IDF of sentence-stem buckets, as :meth:`idf` of ``"~<bucket>"``; 0 for a stem in more
        than ``common_df`` documents (compared on the kept log(df + 1): one lookup per stem)."""
        log_df = self._stem_log_df[buckets]
        idf = math.log(self.docs + 2) - log_df
        if common_df != math.inf:
            idf[log_df > math.log(common_df + 1)] = 0.0
        return idf

    def boilerplate_sentences(self, buckets: np.ndarray) -> np.ndarray:
        """Which sentences (by :func:`profile.sentence_buckets`; -1: unkeyed) recur in more than
        ``BOILERPLATE_SENTENCE_SHARE`` of the stored articles, and in more than
        ``BOILERPLATE_SENTENCE_MIN_DOCS``."""
        return boilerplate_sentences(buckets, self.sentence_df, self.docs)

    def has_boilerplate_sentences(self) -> bool:
        """False when no sentence can be boilerplate yet (then nothing needs looking up)."""
        return self.top_sentence_df > boilerplate_sentence_limit(self.docs)

    def weight_sum(self, terms: Iterable[str]) -> float:
        """Sum of the IDFs of ``terms`` (a set)."""
        terms = list(terms)
        return len(terms) * math.log(self.docs + 2) - sum(map(self._log_df.get, terms, repeat(0.0)))

    # --- vectorised lookups -------------------------------------------------------------------
    def slots(self, profile: Profile) -> np.ndarray:
        """The profile's sets of ``SLOT_FIELDS`` as one array of ``slot * len(SLOT_FIELDS) +
        field``. A term not counted yet gets a slot of its own (log(df + 1) = 0 there until it
        is counted), so slots never change and are cached on the profile."""
        cached = profile.memo.get("slots")
        if cached is not None and cached[0] is self._token:
            return cached[1]
        sets = [counted_keys(profile, field) for field in SLOT_FIELDS]
        terms = list(chain.from_iterable(sets))
        slots = np.fromiter(map(self._slot.get, terms, repeat(0)), dtype=np.int64, count=len(terms))
        if len(slots) and not slots.all():
            missing = [t for t in terms if t not in self._slot]
            self._assign(missing, [0.0] * len(missing))
            slots = np.fromiter(map(self._slot.__getitem__, terms), dtype=np.int64, count=len(terms))
        fields = np.repeat(np.arange(len(SLOT_FIELDS)), [len(values) for values in sets])
        out = slots * len(SLOT_FIELDS) + fields
        profile.memo["slots"] = (self._token, out)
        return out

    def slot_df(self, slots: np.ndarray) -> np.ndarray:
        """Document frequencies of terms by slot (rounded back from the kept log(df + 1))."""
        return np.rint(np.expm1(self._slot_log_df[slots]))

    def slot_idf(self, slots: np.ndarray) -> np.ndarray:
        """IDF of terms by slot, as :meth:`idf`."""
        return math.log(self.docs + 2) - self._slot_log_df[slots]


def boilerplate_sentences(buckets: np.ndarray, sentence_df: np.ndarray, docs: int) -> np.ndarray:
    """:meth:`TermStats.boilerplate_sentences` with the counts given (the nightly job's copy)."""
    return (buckets >= 0) & (sentence_df[np.maximum(buckets, 0)] > boilerplate_sentence_limit(docs))


def boilerplate_sentence_limit(docs: int) -> float:
    """The count above which a whole sentence is boilerplate in a store of ``docs`` articles:
    a twentieth of them, but not under ``BOILERPLATE_SENTENCE_MIN_DOCS`` nor over
    ``BOILERPLATE_SENTENCE_MAX_DOCS``; infinite while rarity is not known (``RARITY_MIN_DOCS``)."""
    if docs < RARITY_MIN_DOCS:
        return math.inf
    share = common_limit(docs, BOILERPLATE_SENTENCE_SHARE)
    return min(max(share, BOILERPLATE_SENTENCE_MIN_DOCS), BOILERPLATE_SENTENCE_MAX_DOCS)


def common_limit(docs: int, share: float) -> float:
    """The document frequency above which a term is carried by more than ``share`` of a store of
    ``docs`` articles; infinite (nothing is common) below ``RARITY_MIN_DOCS``."""
    return share * docs if docs >= RARITY_MIN_DOCS else math.inf


def counted_keys(profile: Profile, field: str) -> Collection[str]:
    """A profile set as the keys it is counted under (numbers and years: ``"#<n>"``)."""
    return as_counted(field, getattr(profile, field))


def as_counted(field: str, values: Collection[str]) -> Collection[str]:
    """Values of a profile field as the keys they are counted under: numbers and years get a
    ``#`` so that a year is not taken for the word or name spelt the same."""
    return ["#" + n for n in values] if field in ("numbers", "years") else values
