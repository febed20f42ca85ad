"""The online pair features, vectorised over many pairs at once: what the nightly job scores with.

Online, :func:`features.pair_features` reads two :class:`profile.Profile` objects at a time, a
Python loop per candidate. The job scores hundreds of thousands of pairs, so here the profiles of
all its articles become sparse term-incidence matrices (one per field) and a sentence/stem
incidence list, and a batch of pairs becomes a few sparse products and sort-merge joins.
``COLUMNS`` holds one function per feature of ``features.FEATURES``; a test checks every column
against ``features.pair_features`` on real articles, so the two cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from itertools import chain, islice

import numpy as np
from scipy import sparse

from .alignment import closing_sentences, concatenated_ranges
from .features import FEATURES, weekdays_conflict
from .profile import STEM_BUCKETS, number_mantissa, sentence_buckets, weekday_mask
from .term_stats import BOILERPLATE_SHARE, RARITY_MIN_DOCS, as_counted, boilerplate_sentences, common_limit

_SET_FIELDS = ("entities", "terms", "title_terms", "numbers", "years")
_LOW32 = 0xFFFFFFFF  # headline figures are compared by the low 32 bits of their hash, keyed by row


def _joined(parts: list[np.ndarray], dtype) -> np.ndarray:
    """The chunks' arrays as one (empty of ``dtype`` for no chunks)."""
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


class ProfileTable:
    """The profiles of some nodes as sparse term-incidence matrices (one per field, rows =
    nodes) and a sentence/stem incidence list, with the IDF weights the online features use.

    Memory is ~1 KB per node instead of ~20 KB for Python ``Profile`` objects, and a batch of
    pairs becomes a few sparse products instead of a Python loop."""

    def __init__(self, records: Iterable[dict | None], df: dict[str, int], docs: int, chunk: int = 5000,
                 sentence_df: np.ndarray | None = None) -> None:
        # Records are consumed ``chunk`` at a time and turned into arrays at once, so that only
        # one chunk of parsed JSON is alive: at 1M nodes the dicts alone would take ~20 GB.
        # Term ids: the unique 64-bit string hashes (a collision among a few million terms has
        # odds of ~1e-7), found by NumPy sorts; the df of a term is looked up once per chunk.
        hashes: dict[str, list[np.ndarray]] = {f: [] for f in _SET_FIELDS}
        lengths: dict[str, list[np.ndarray]] = {f: [] for f in _SET_FIELDS}
        stems: list[np.ndarray] = []
        stem_counts: list[np.ndarray] = []
        sentence_counts: list[np.ndarray] = []
        weekdays: list[np.ndarray] = []
        headline_known: list[np.ndarray] = []
        headline_counts: list[np.ndarray] = []
        headline_hashes: list[np.ndarray] = []
        number_keys: list[np.ndarray] = []
        known_hash: list[np.ndarray] = []
        known_df: list[np.ndarray] = []
        rows = 0
        iterator = iter(records)
        while batch := list(islice(iterator, chunk)):
            batch = [record or {} for record in batch]
            headlines = [record.get("headline_numbers") for record in batch]  # None: unknown
            headline_known.append(np.array([h is not None for h in headlines], dtype=bool))
            headline_counts.append(np.array([len(h or ()) for h in headlines], dtype=np.int64))
            headline_hashes.append(np.array([hash(m) & _LOW32 for h in headlines for m in h or ()], dtype=np.int64))
            number_keys.append(np.array([(row << 32) | (hash(m) & _LOW32)
                                         for row, record in enumerate(batch, start=rows)
                                         for m in set(map(number_mantissa, record.get("numbers", ()))) if m],
                                        dtype=np.int64))
            rows += len(batch)
            everything = []
            for f in _SET_FIELDS:
                values = [record.get(f, ()) for record in batch]
                terms = as_counted(f, list(chain.from_iterable(values)))  # the keys of ``df``
                everything.extend(terms)
                hashes[f].append(np.fromiter(map(hash, terms), dtype=np.int64, count=len(terms)))
                lengths[f].append(np.fromiter(map(len, values), dtype=np.int64, count=len(values)))
            sentences = list(chain.from_iterable(record.get("sentences", ()) for record in batch))
            flat = list(chain.from_iterable(sentences))
            stems.append(np.fromiter(flat, dtype=np.int64, count=len(flat)))
            stem_counts.append(np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences)))
            sentence_counts.append(np.fromiter((len(record.get("sentences", ())) for record in batch),
                                               dtype=np.int64, count=len(batch)))
            weekdays.append(np.fromiter((weekday_mask(record.get("weekdays")) for record in batch),
                                        dtype=np.int64, count=len(batch)))
            chunk_hashes = np.concatenate([hashes[f][-1] for f in _SET_FIELDS])
            unique, first = np.unique(chunk_hashes, return_index=True)
            known_hash.append(unique)
            known_df.append(np.fromiter((df.get(everything[i], 0) for i in first.tolist()), dtype=np.float64,
                                        count=len(first)))
        all_hashes = _joined(known_hash, np.int64)
        term_hash, first = np.unique(all_hashes, return_index=True)
        term_df = np.concatenate(known_df)[first] if len(first) else np.zeros(0)
        self.sets = {}
        for f in _SET_FIELDS:
            field_hashes = _joined(hashes[f], np.int64)
            ids = np.searchsorted(term_hash, field_hashes)
            indptr = np.concatenate(([0], np.cumsum(np.concatenate(lengths[f]) if lengths[f] else [], dtype=np.int64)))
            matrix = sparse.csr_matrix((np.ones(len(ids)), ids, indptr), shape=(rows, len(term_hash)))
            matrix.sort_indices()  # sets: no repeated term in a row
            if f == "years":  # as features._telling_years
                matrix = matrix @ sparse.diags((term_df <= common_limit(docs, BOILERPLATE_SHARE)).astype(np.float64))
                matrix.eliminate_zeros()
                matrix = matrix.tocsr()
                matrix.sort_indices()
            self.sets[f] = matrix
        log_docs = math.log(docs + 2)
        self.rarity_scale = math.log(max(docs, RARITY_MIN_DOCS) + 2)  # as features.pair_features
        self.idf = log_docs - np.log1p(term_df)
        stem_df = np.zeros(STEM_BUCKETS, dtype=np.float64)
        for term, n in df.items():
            if term.startswith("~"):
                stem_df[int(term[1:])] = n
        self.stem_idf = log_docs - np.log1p(stem_df)
        self.stem_idf[stem_df > common_limit(docs, BOILERPLATE_SHARE)] = 0.0  # as alignment.sentence_alignment
        self.stems = _joined(stems, np.int64)
        stem_counts = _joined(stem_counts, np.int64)
        sentence_counts = _joined(sentence_counts, np.int64)
        self.stem_ptr = np.concatenate(([0], np.cumsum(stem_counts, dtype=np.int64)))
        self.sentence_ptr = np.concatenate(([0], np.cumsum(sentence_counts, dtype=np.int64)))
        sentence_of_stem = np.repeat(np.arange(len(stem_counts)), stem_counts)
        self.mass = np.bincount(sentence_of_stem, weights=self.stem_idf[self.stems], minlength=len(stem_counts))
        # Sentence rows that align with nothing (as alignment.sentence_alignment): boilerplate
        # sentences and each article's closing sentence.
        self.unaligned = (boilerplate_sentences(sentence_buckets(self.stems, stem_counts), sentence_df, docs)
                          if sentence_df is not None else np.zeros(len(stem_counts), dtype=bool))
        self.unaligned[closing_sentences(sentence_counts)] = True
        self.weight = {f: m @ self.idf for f, m in self.sets.items()}
        self.size = {f: np.diff(m.indptr) for f, m in self.sets.items()}
        self.weekdays = _joined(weekdays, np.int64)  # profile.weekday_mask
        # Headline figures (features.headline_numbers_conflict): each row's title mantissas as
        # 32-bit hashes (CSR), and every (row, mantissa hash) of its numbers as one sorted key.
        self.headline_known = _joined(headline_known, bool)
        self.headline_ptr = np.concatenate(([0], np.cumsum(_joined(headline_counts, np.int64))))
        self.headline_carried = np.diff(self.headline_ptr) > 0  # the row's title has a figure
        self.headline_hashes = _joined(headline_hashes, np.int64)
        self.number_keys = np.sort(_joined(number_keys, np.int64))

    def names_headline_figure(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Whether row b[i] names any figure of row a[i]'s title."""
        counts = self.headline_ptr[a + 1] - self.headline_ptr[a]
        pair = np.repeat(np.arange(len(a)), counts)
        keys = (b[pair] << 32) | self.headline_hashes[concatenated_ranges(self.headline_ptr[a], counts)]
        at = np.minimum(np.searchsorted(self.number_keys, keys), max(len(self.number_keys) - 1, 0))
        found = self.number_keys[at] == keys if len(self.number_keys) else np.zeros(len(keys), dtype=bool)
        return np.bincount(pair[found], minlength=len(a)) > 0

    def headline_numbers_conflict(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """:func:`features.headline_numbers_conflict` of row pairs."""
        carried = self.headline_carried
        conflict = carried[a] & carried[b] & ~self.names_headline_figure(a, b) & ~self.names_headline_figure(b, a)
        return np.where(self.headline_known[a] & self.headline_known[b], conflict.astype(np.float64), np.nan)

    def shared(self, field: str, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(IDF sum, count) of the terms each pair shares in ``field``."""
        both = self.sets[field][a].multiply(self.sets[field][b]).tocsr()
        return both @ self.idf, np.diff(both.indptr).astype(np.float64)

    def weighted_jaccard(self, field: str, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(IDF-weighted Jaccard, shared IDF sum), as ``features._weighted_jaccard``."""
        shared, count = self.shared(field, a, b)
        union = self.weight[field][a] + self.weight[field][b] - shared
        jaccard = np.divide(shared, union, out=np.zeros_like(shared), where=(count > 0) & (union > 0))
        return jaccard, np.where(count > 0, shared, 0.0)

    def alignment(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``features.sentence_alignment`` of each pair, all pairs at once: a sort-merge join of
        the (node, stem) occurrences of both sides gives every sentence pair sharing a stem,
        so the work is proportional to those pairs and no (sentence x sentence) matrix is
        built. Sentences matching nothing count 0 among an article's three best."""
        out = np.zeros(len(a))
        # Symmetric, so put the article with more stems on the side that is read once per node.
        swap = np.diff(self.stem_ptr[self.sentence_ptr])[a] < np.diff(self.stem_ptr[self.sentence_ptr])[b]
        a, b = np.where(swap, b, a), np.where(swap, a, b)
        n_a = self.sentence_ptr[a + 1] - self.sentence_ptr[a]
        n_b = self.sentence_ptr[b + 1] - self.sentence_ptr[b]
        # Left: every stem of every sentence of each distinct first node, keyed (node, stem).
        nodes, node_of_edge = np.unique(a, return_inverse=True)
        left_rows = concatenated_ranges(self.sentence_ptr[nodes], self.sentence_ptr[nodes + 1] - self.sentence_ptr[nodes])
        left_node = np.repeat(np.arange(len(nodes)), np.diff(self.sentence_ptr)[nodes])
        left_stem, left_of = self._stems_of(left_rows)
        left_key = left_node[left_of] * STEM_BUCKETS + left_stem
        order = np.argsort(left_key)
        left_key, left_row = left_key[order], left_rows[left_of[order]]
        run_start = _segment_starts(left_key)
        run_key, run_length = left_key[run_start], np.diff(np.append(run_start, len(left_key)))
        # Right: each second node's sentences, one copy (t) per pair, keyed (first node, stem).
        right_rows = concatenated_ranges(self.sentence_ptr[b], n_b)
        right_edge = np.repeat(np.arange(len(a)), n_b)
        right_stem, right_t = self._stems_of(right_rows)
        right_key = node_of_edge[right_edge[right_t]] * STEM_BUCKETS + right_stem
        if not len(left_key) or not len(right_key):
            return out
        run = np.minimum(np.searchsorted(run_key, right_key), len(run_key) - 1)
        found = run_key[run] == right_key
        lo, matches = run_start[run], np.where(found, run_length[run], 0)
        if not matches.any():
            return out
        # Shared idf mass of each (t, my sentence) pair.
        n_rows = len(self.mass)
        key = np.repeat(right_t, matches) * n_rows + left_row[concatenated_ranges(lo, matches)]
        order = np.argsort(key)
        key = key[order]
        first = _segment_starts(key)
        inter = np.add.reduceat(np.repeat(self.stem_idf[right_stem], matches)[order], first)
        pair_t, pair_s = key[first] // n_rows, key[first] % n_rows
        union = self.mass[right_rows[pair_t]] + self.mass[pair_s] - inter
        sim = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        sim[self.unaligned[right_rows[pair_t]] | self.unaligned[pair_s]] = 0.0
        # The best match of each of their sentences (pairs are in t order) ...
        t_first = _segment_starts(pair_t)
        best = [np.maximum.reduceat(sim, t_first)]
        edges = [right_edge[pair_t[t_first]]]
        # ... and of each of mine, within each pair.
        key = right_edge[pair_t] * n_rows + pair_s
        order = np.argsort(key)
        first = _segment_starts(key[order])
        best.append(np.maximum.reduceat(sim[order], first))
        edges.append(key[order][first] // n_rows)
        # The three best per pair.
        edge, value = np.concatenate(edges), np.concatenate(best)
        order = np.lexsort((-value, edge))
        edge, value = edge[order], value[order]
        first = _segment_starts(edge)
        rank = np.arange(len(edge)) - np.repeat(first, np.diff(np.append(first, len(edge))))
        total = np.bincount(edge[rank < 3], weights=value[rank < 3], minlength=len(a))
        both = (n_a > 0) & (n_b > 0)
        out[both] = total[both] / np.minimum(3, n_a + n_b)[both]
        return out

    def _stems_of(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The stems of these sentence rows, and for each stem its index in ``rows``."""
        counts = self.stem_ptr[rows + 1] - self.stem_ptr[rows]
        return self.stems[concatenated_ranges(self.stem_ptr[rows], counts)], np.repeat(np.arange(len(rows)), counts)


def _segment_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """Where each run of equal values begins."""
    return np.flatnonzero(np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1])))


# A column: (profiles, first rows, second rows, the pairs' cosines, every row's timestamp) -> one
# value per pair, as features.pair_features computes that feature for one pair.
Column = Callable[[ProfileTable, np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _column_cosine(p, a, b, cos, ts):
    return cos


def _column_entity_shared_rel_idf(p, a, b, cos, ts):
    return np.log1p(p.weighted_jaccard("entities", a, b)[1] / p.rarity_scale)


def _column_term_wjaccard(p, a, b, cos, ts):
    return p.weighted_jaccard("terms", a, b)[0]


def _column_title_wjaccard(p, a, b, cos, ts):
    return p.weighted_jaccard("title_terms", a, b)[0]


def _column_sentence_align(p, a, b, cos, ts):
    return p.alignment(a, b)


def _column_number_wjaccard(p, a, b, cos, ts):
    return p.weighted_jaccard("numbers", a, b)[0]


def _column_years_shared(p, a, b, cos, ts):
    return (p.shared("years", a, b)[1] > 0).astype(np.float64)


def _column_years_conflict(p, a, b, cos, ts):
    none_shared = p.shared("years", a, b)[1] == 0
    return ((p.size["years"][a] > 0) & (p.size["years"][b] > 0) & none_shared).astype(np.float64)


def _column_log_days_apart(p, a, b, cos, ts):
    return np.log1p(np.nan_to_num(np.abs(ts[a] - ts[b]) / 86400.0, nan=0.0))


def _column_weekdays_conflict(p, a, b, cos, ts):
    return weekdays_conflict(p.weekdays[a], p.weekdays[b])


def _column_headline_numbers_conflict(p, a, b, cos, ts):
    return p.headline_numbers_conflict(a, b)


# Each feature of features.FEATURES, vectorised; a test checks them against features.pair_features.
COLUMNS: dict[str, Column] = {
    "cosine": _column_cosine,
    "entity_shared_rel_idf": _column_entity_shared_rel_idf,
    "term_wjaccard": _column_term_wjaccard,
    "sentence_align": _column_sentence_align,
    "title_wjaccard": _column_title_wjaccard,
    "number_wjaccard": _column_number_wjaccard,
    "years_shared": _column_years_shared,
    "years_conflict": _column_years_conflict,
    "log_days_apart": _column_log_days_apart,
    "weekdays_conflict": _column_weekdays_conflict,
    "headline_numbers_conflict": _column_headline_numbers_conflict,
}


def feature_rows(profiles: ProfileTable, a: np.ndarray, b: np.ndarray, cos: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """The feature matrix of pairs (a[i], b[i]) in ``FEATURES`` order (profile rows a, b)."""
    missing = [f for f in FEATURES if f not in COLUMNS]
    if missing:
        raise RuntimeError(f"no vectorised form of pair feature(s) {missing}: add them to batch_features.COLUMNS")
    return np.column_stack([COLUMNS[f](profiles, a, b, cos, ts) for f in FEATURES]) if len(a) else np.zeros((0, len(FEATURES)))
