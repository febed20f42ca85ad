"""FAISS index over article embeddings, ids = store row ids, partitioned by publication time.
Derived data: saved beside the store, reconciled with the store's row ids at start-up (missing
vectors added, deleted ones removed), rebuilt when missing, unreadable or of another layout.

Why partitioned: two articles dated further apart than the time window are never one story, so
a dated article only needs the neighbours dated within the window (plus the undated ones). One
index over everything returned the store's global top ``k``: in a feed kept for months, a
recurring story (a weekly briefing, a yearly summit, the same team's matches) fills that top
``k`` with past instalments the window then throws away, and the article's real partners from
this week are never seen; and its cost grew with the store's age (33 ms a search at 1M stored,
``bench/search_cost.py``). Searching the partitions that overlap the window keeps both the
candidates and the cost to what the window holds. An undated article (or an index asked for no
window) searches every partition; an undated store is one partition, searched as before.

``span`` (seconds) is a partition's width, the engine's time window (at least a day): a dated
search then reads 3 partitions, at most three windows' worth of articles. Narrower partitions
would read less per dated search but cost an undated search one FAISS call each (~7 us: one
per day of a half-year store made an undated search 1.2 ms instead of 0.16 at 7,300 articles).

Each partition starts as an exact inner-product index over fp16 codes (``IndexScalarQuantizer(QT_fp16)``)
in an ``IndexIDMap``: exhaustive, so no recall is lost, and it supports ``remove_ids`` (deletes,
re-clustering); HNSW is faster past ~1M vectors but cannot remove.

A partition past ``approximate_from`` vectors (a feed of undated articles is one partition that
only grows: 34 ms a search at 1M, past the API's 15 ms beyond the model from ~250k) is turned
into an inverted-file index (``IndexIVFScalarQuantizer``, fp16 codes, ``nlist`` ~ 4 sqrt(n)
cells, an eighth of them searched) by :meth:`VectorIndex.approximate`, which the engine calls
at start-up, never while answering: k-means over the partition takes seconds to a minute.
Approximate: a neighbour in a cell not probed is missed (recall measured in
``bench/search_cost.py``); it keeps ``remove_ids``, unlike HNSW. New vectors are added to it.

Why fp16: the vectors are the largest thing the service holds per article. float32 takes
1,536 bytes at dim 384; fp16 takes 768. On 3,000 MiniLM embeddings of AllSides the cosines it
returns differ from the float32 ones by at most 7.4e-5 and the top 10 neighbours are the same
(the test checks < 1e-3 on ECB+), far below any threshold's resolution. Measured RSS at 100k
articles: 1,028 bytes an article, against 1,854 for the float32 ``IndexIDMap2``. ``IndexIDMap``
rather than ``IndexIDMap2``: the latter adds a hash map id -> position (~40 bytes an article)
that only ``reconstruct`` needs, and nothing here reconstructs (the store holds the float32
vectors).
"""

from __future__ import annotations

import json
import logging
import math
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

import faiss
import numpy as np

log = logging.getLogger(__name__)

DAY = 86_400.0
APPROXIMATE_FROM = 250_000  # vectors in one partition before it becomes an inverted file
PROBED_SHARE = 8  # an inverted file searches 1/8 of its cells (at least 32): recall against time
UNDATED = "undated"  # the saved name of the partition of articles without a publication time
_LAYOUT = "layout.json"  # the saved span


def cells_probed(nlist: int) -> int:
    """Cells an inverted file of ``nlist`` cells searches. On the dev sets' 8,245 MiniLM
    embeddings (211 cells) the exact top 30's same-event neighbours are found at 0.994 with 32
    cells probed, 0.980 with 13, 0.974 with 7: real embeddings do not sit in tight cells."""
    return min(nlist, max(32, nlist // PROBED_SHARE))


def span_for_window(window: float) -> float:
    """The partition width for a time window of ``window`` seconds: the window, at least a day."""
    return max(window, DAY)


class VectorIndex:
    """Exact cosine search over unit vectors, one FAISS index per ``span`` of publication time.

    dim: the model's dimension.
    span: seconds of publication time per partition (see the module's docstring).
    approximate_from: vectors in one partition past which :meth:`approximate` makes it an
        inverted file: lower searches faster sooner and loses some recall sooner.
    """

    def __init__(self, dim: int, span: float = 7 * DAY, approximate_from: int = APPROXIMATE_FROM) -> None:
        self.dim = dim
        self.span = float(span)
        self.approximate_from = approximate_from
        self._parts: dict[int | None, faiss.Index] = {}

    def _key(self, ts: float | None) -> int | None:
        """The partition of a publication time (seconds since the epoch); None: undated."""
        return None if ts is None or math.isnan(ts) else math.floor(ts / self.span)

    def _new_part(self) -> faiss.Index:
        return faiss.IndexIDMap(
            faiss.IndexScalarQuantizer(self.dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT))

    @staticmethod
    def _is_current(index: faiss.Index) -> bool:
        """Whether a loaded partition has this module's layout (older files were float32 flat)."""
        if isinstance(index, faiss.IndexIVFScalarQuantizer):
            return index.sq.qtype == faiss.ScalarQuantizer.QT_fp16 and index.metric_type == faiss.METRIC_INNER_PRODUCT
        if not isinstance(index, faiss.IndexIDMap) or isinstance(index, faiss.IndexIDMap2):
            return False
        inner = faiss.downcast_index(index.index)
        return (isinstance(inner, faiss.IndexScalarQuantizer) and inner.sq.qtype == faiss.ScalarQuantizer.QT_fp16
                and inner.metric_type == faiss.METRIC_INNER_PRODUCT)

    @staticmethod
    def _ids_of(part: faiss.Index) -> np.ndarray:
        """The ids a partition holds: the id map of an exact one, the lists of an inverted file."""
        if isinstance(part, faiss.IndexIVF):
            lists = part.invlists
            return np.concatenate([np.zeros(0, dtype=np.int64)] + [
                faiss.rev_swig_ptr(lists.get_ids(cell), lists.list_size(cell)).copy()
                for cell in range(part.nlist) if lists.list_size(cell)])
        return faiss.vector_to_array(part.id_map).astype(np.int64)

    def approximate(self) -> int:
        """Turn every exact partition past ``approximate_from`` vectors into an inverted file
        trained on its own vectors (decoded from its fp16 codes); the number turned. Slow
        (k-means): call it where nothing waits for an answer."""
        turned = 0
        for key, part in list(self._parts.items()):
            if isinstance(part, faiss.IndexIVF) or part.ntotal <= self.approximate_from:
                continue
            n = int(part.ntotal)
            ids = self._ids_of(part)
            vectors = faiss.downcast_index(part.index).reconstruct_n(0, n)
            # ~4 sqrt(n) cells, and at least 39 training points per cell (FAISS's k-means minimum)
            nlist = max(1, min(65_536, int(4 * math.sqrt(n)), n // 39))
            ivf = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(self.dim), self.dim, nlist,
                                                faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
            sample = np.random.default_rng(0).choice(n, size=min(n, 64 * nlist), replace=False)
            ivf.train(vectors[np.sort(sample)])
            ivf.add_with_ids(vectors, ids)
            ivf.nprobe = cells_probed(nlist)
            self._parts[key] = ivf
            turned += 1
            log.info("vector partition %s: %d vectors now an inverted file of %d cells", UNDATED if key is None else key, n, nlist)
        return turned

    def __len__(self) -> int:
        return sum(int(part.ntotal) for part in self._parts.values())

    def partitions(self) -> int:
        return len(self._parts)

    def add(self, ids: np.ndarray, vectors: np.ndarray, published_ts: Sequence[float | None] | None = None) -> None:
        """Add vectors under their ids, each in the partition of its publication time (all
        undated when ``published_ts`` is None)."""
        if not len(ids):
            return
        ids = np.asarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
        keys = [None] * len(ids) if published_ts is None else [self._key(t) for t in published_ts]
        groups: dict[int | None, list[int]] = {}
        for i, key in enumerate(keys):
            groups.setdefault(key, []).append(i)
        for key, rows in groups.items():
            part = self._parts.get(key)
            if part is None:
                part = self._parts[key] = self._new_part()
            part.add_with_ids(vectors[rows], ids[rows])

    def ids(self) -> np.ndarray:
        """Every id in the index (for reconciling with the store)."""
        if not self._parts:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([self._ids_of(p) for p in self._parts.values()])

    def remove(self, ids: list[int], published_ts: Sequence[float | None] | None = None) -> None:
        """Remove ids from the partitions that hold them: those of ``published_ts`` (the ids'
        publication times, as added) when given, else every partition, each scanned once (a
        start-up's reconciliation). A dry run removes its batch again after deciding it, so the
        engine passes the times."""
        if not ids:
            return
        wanted = np.asarray(ids, dtype=np.int64)
        keys = list(self._parts) if published_ts is None else {self._key(t) for t in published_ts}
        for key in keys:
            part = self._parts.get(key)
            if part is None:
                continue
            if isinstance(part, faiss.IndexIVF) or np.isin(self._ids_of(part), wanted).any():  # IVF: one scan either way
                part.remove_ids(wanted)
                if part.ntotal == 0:
                    del self._parts[key]

    def _parts_for(self, around: float | None, within: float | None) -> list[faiss.Index]:
        if self._key(around) is None or within is None:
            return list(self._parts.values())
        first, last = self._key(around - within), self._key(around + within)
        if last - first + 1 > len(self._parts):  # a window wider than the store's time
            keys = [key for key in self._parts if key is None or first <= key <= last]
        else:
            keys = [None, *range(first, last + 1)]
        return [self._parts[key] for key in keys if key in self._parts]

    def search(self, vector: np.ndarray, k: int, around: float | None = None,
               within: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids, cosines) of the ``k`` nearest stored vectors, best first.

        around, within: a publication time and a window in seconds: only the partitions that
        overlap ``within`` of ``around`` are searched, plus the undated one (a partition is a
        whole ``span``, so vectors outside the window can come back; callers that need the exact
        window check the times themselves). Either None: every partition.
        """
        parts = [p for p in self._parts_for(around, within) if p.ntotal]
        if not parts or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        query = vector.reshape(1, -1).astype(np.float32)
        # One query: an OpenMP pool only contends with the model for the same cores (measured
        # ~8 ms per single-vector search over 1k vectors). FAISS and torch share the OpenMP
        # runtime, so the setting is restored for the model right after.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            found = [part.search(query, min(k, int(part.ntotal))) for part in parts]
        finally:
            faiss.omp_set_num_threads(threads)
        if len(found) == 1:
            scores, ids = found[0][0][0], found[0][1][0]
        else:
            scores = np.concatenate([s[0] for s, _ in found])
            ids = np.concatenate([i[0] for _, i in found])
            best = np.argsort(-scores, kind="stable")[:k]
            scores, ids = scores[best], ids[best]
        keep = ids >= 0
        return ids[keep], scores[keep]

    def nbytes(self) -> int:
        """Bytes of codes and ids (for the memory bench)."""
        return len(self) * (self.dim * 2 + 8)

    def save(self, path: Path) -> None:
        """One zip file of every partition in FAISS's own format, streamed partition by partition
        (no copy of the codes in memory), written atomically: a crash mid-save leaves the
        previous file."""
        tmp = path.with_suffix(".tmp")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr(_LAYOUT, json.dumps({"span": self.span}))
            for key, part in self._parts.items():
                with archive.open(UNDATED if key is None else str(key), "w", force_zip64=True) as entry:
                    writer = faiss.PyCallbackIOWriter(entry.write)
                    faiss.write_index(part, writer)
                    del writer  # flushes its buffer into the entry
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, dim: int, span: float = 7 * DAY,
             approximate_from: int = APPROXIMATE_FROM) -> "VectorIndex | None":
        """The saved index, or None when missing, unreadable, of another dimension, layout or
        partition span."""
        if not path.exists():
            return None
        self = cls(dim, span, approximate_from)
        try:
            with zipfile.ZipFile(path) as archive:
                saved_span = json.loads(archive.read(_LAYOUT))["span"]
                if saved_span != self.span:
                    log.info("vector index %s has partitions of %gs, not %gs; rebuilding from the store",
                             path, saved_span, self.span)
                    return None
                for name in archive.namelist():
                    if name == _LAYOUT:
                        continue
                    with archive.open(name) as entry:
                        part = faiss.read_index(faiss.PyCallbackIOReader(entry.read))
                    if part.d != dim:
                        log.warning("vector index %s has dim %d, model has %d; rebuilding", path, part.d, dim)
                        return None
                    if not cls._is_current(part):
                        log.info("vector index %s has an older layout; rebuilding from the store", path)
                        return None
                    if isinstance(part, faiss.IndexIVF):
                        part.nprobe = cells_probed(part.nlist)
                    self._parts[None if name == UNDATED else int(name)] = part
        except Exception as error:  # noqa: BLE001 - any failure means "rebuild"
            log.warning("vector index %s unreadable (%s); rebuilding from the store", path, error)
            return None
        return self
