"""Locality-sensitive hashing over MinHash signatures: the candidate source for copies. Derived
data: rebuilt from the signatures in the store at start-up.

The banding is datasketch's (``MinHashLSH(threshold, num_perm)`` picks ``b`` bands of ``r``
slots; 37 x 3 at 0.3 and 128 slots): two signatures are candidates when they agree on every
slot of at least one band. ``threshold`` sets the Jaccard at which a pair becomes likely to
collide; lower finds more truncated and edited copies, at the cost of more (cheap) candidates.

Why not datasketch's ``MinHashLSH`` itself: it keeps a Python dict per band from the band's
bytes to a set of keys, plus a key -> bands table: 12,026 bytes of RAM per stored article
(measured over a 100k store with ``bench/recluster.py --memory``'s method), 8x everything else
the service holds per article.
Here each band is one sorted NumPy ``uint64`` array of ``(32-bit band hash << 32) | row id``:
**8 bytes per band, 304 bytes per article** (37 bands + the sorted id list; 558 bytes of RSS
measured at 100k, allocator slack included), and a query is
one binary search per band. A 32-bit band hash makes unrelated articles collide in a band with
odds ~n / 2^32 (1M stored: <1% of queries get one stray candidate), which costs nothing, since
every candidate is verified on its signature and text.

New articles go to a small unsorted buffer, found through a dict from (band, band hash) to
row ids (37 dict lookups per query, however full the buffer; the dict holds ~10 MB when the
default buffer of 4,096 is full, a constant beside the arrays), and are merged into the sorted
arrays when it fills (one ``searchsorted`` + insert per band, ~0.1 s at 1M stored, every
``buffer`` adds). Removals are tombstones until the next merge.
Row ids must be below 2^32 (SQLite assigns them from 1 upwards).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from datasketch import MinHashLSH

_LOW = np.uint64(0xFFFFFFFF)
_SHIFT = np.uint64(32)
_STEP = np.uint64(1 << 32)  # from one band key's entries to the next key's
_LAST_KEY = np.uint32(0xFFFFFFFF)


class LSHIndex:
    """MinHash band index over row ids.

    num_perm: slots per signature (must match the stored signatures).
    threshold: Jaccard around which pairs start to collide (datasketch's banding for it).
    buffer: adds kept unsorted before a merge: larger holds a larger dict (~2.5 KB per buffered
        article), smaller merges more often (each merge copies every band).
    """

    def __init__(self, num_perm: int, threshold: float, buffer: int = 4096) -> None:
        self.num_perm = num_perm
        banding = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self.bands, self.rows = int(banding.b), int(banding.r)
        self._mult = np.random.default_rng(20240501).integers(1, 2**63, size=self.rows, dtype=np.uint64) | np.uint64(1)
        self._capacity = buffer
        self._main = [np.zeros(0, dtype=np.uint64) for _ in range(self.bands)]  # sorted per band
        self._main_ids = np.zeros(0, dtype=np.int64)  # sorted
        self._pending_keys = np.zeros((buffer, self.bands), dtype=np.uint32)
        self._pending_ids = np.zeros(buffer, dtype=np.int64)
        self._pending = 0
        # (band << 32 | band hash) -> the buffered row id, or a tuple of them (rare collisions)
        self._pending_lookup: dict[int, int | tuple[int, ...]] = {}
        self._band_tags = np.arange(self.bands, dtype=np.uint64) << _SHIFT
        self._removed: set[int] = set()  # ids still in the main arrays but deleted

    # --- hashing ---------------------------------------------------------------------------
    def band_keys(self, signatures: np.ndarray) -> np.ndarray:
        """uint32 [n, bands]: a 32-bit hash of each band of each signature."""
        sig = np.asarray(signatures, dtype=np.uint32).reshape(-1, self.num_perm)[:, : self.bands * self.rows]
        parts = sig.astype(np.uint64).reshape(len(sig), self.bands, self.rows)
        with np.errstate(over="ignore"):
            mixed = (parts * self._mult).sum(axis=2)
        return (mixed >> _SHIFT).astype(np.uint32)

    # --- membership ------------------------------------------------------------------------
    def _in_main(self, key: int) -> bool:
        i = int(np.searchsorted(self._main_ids, key))
        return i < len(self._main_ids) and int(self._main_ids[i]) == key and key not in self._removed

    def _in_pending(self, key: int) -> bool:
        return bool(np.any(self._pending_ids[: self._pending] == key))

    def __contains__(self, key: int) -> bool:
        return self._in_main(key) or self._in_pending(key)

    def __len__(self) -> int:
        return len(self._main_ids) - len(self._removed) + self._pending

    # --- changes ---------------------------------------------------------------------------
    def add(self, key: int, signature: np.ndarray, band_keys: np.ndarray | None = None) -> None:
        """Add one row; ``band_keys``: its :meth:`band_keys` row when already computed."""
        self.add_many([(key, signature)], None if band_keys is None else band_keys.reshape(1, -1))

    def add_many(self, items: Iterable[tuple[int, np.ndarray]], band_keys: np.ndarray | None = None) -> None:
        """Add (row id, signature) pairs; ids already present are skipped. ``band_keys``: the
        signatures' :meth:`band_keys`, when already computed."""
        items = list(items)
        if not items:
            return
        ids = np.fromiter((k for k, _ in items), dtype=np.int64, count=len(items))
        if ids.min(initial=0) < 0 or ids.max(initial=0) >= 2**32:
            raise ValueError("LSHIndex row ids must lie in [0, 2^32)")
        if self._removed and self._removed.intersection(ids.tolist()):
            self._merge()  # a row id reused after a delete: drop its old bands first
        fresh = np.zeros(len(ids), dtype=bool)
        if len(ids) == 1:  # the online case: one article at a time
            fresh[0] = True
        else:
            fresh[np.unique(ids, return_index=True)[1]] = True
        if len(self._main_ids):
            at = np.minimum(self._main_ids.searchsorted(ids), len(self._main_ids) - 1)
            fresh &= self._main_ids[at] != ids
        if self._pending:
            pending = self._pending_ids[: self._pending]
            fresh &= ~(pending == ids[0]).any() if len(ids) == 1 else ~np.isin(ids, pending)
        if not fresh.any():
            return
        keep = np.flatnonzero(fresh)
        keys = self.band_keys(np.array([items[i][1] for i in keep.tolist()])) if band_keys is None else band_keys[keep]
        ids = ids[fresh]
        if self._pending + len(ids) <= self._capacity:
            self._pending_keys[self._pending : self._pending + len(ids)] = keys
            self._pending_ids[self._pending : self._pending + len(ids)] = ids
            self._pending += len(ids)
            self._index_pending(ids, keys)
            return
        self._merge(keys, ids)

    def _lookup_keys(self, keys: np.ndarray) -> list[int]:
        """The pending lookup's keys of one row of band hashes."""
        return (keys.astype(np.uint64) | self._band_tags).tolist()

    def _index_pending(self, ids: np.ndarray, keys: np.ndarray) -> None:
        lookup = self._pending_lookup
        for key, row in zip(ids.tolist(), keys):
            for k in self._lookup_keys(row):
                have = lookup.get(k)
                if have is None:
                    lookup[k] = key
                else:
                    lookup[k] = (*have, key) if isinstance(have, tuple) else (have, key)

    def _unindex_pending(self, key: int, keys: np.ndarray) -> None:
        lookup = self._pending_lookup
        for k in self._lookup_keys(keys):
            have = lookup[k]
            if not isinstance(have, tuple):
                del lookup[k]
            else:
                rest = tuple(i for i in have if i != key)
                lookup[k] = rest if len(rest) > 1 else rest[0]

    def remove(self, key: int) -> None:
        where = np.flatnonzero(self._pending_ids[: self._pending] == key)
        if len(where):
            last = self._pending - 1
            i = int(where[0])
            self._unindex_pending(int(key), self._pending_keys[i])
            self._pending_keys[i] = self._pending_keys[last]
            self._pending_ids[i] = self._pending_ids[last]
            self._pending = last
        elif self._in_main(key):
            self._removed.add(int(key))
            if len(self._removed) > max(self._capacity, len(self._main_ids) // 8):
                self._merge()

    def _merge(self, keys: np.ndarray | None = None, ids: np.ndarray | None = None) -> None:
        """Fold the buffer (and ``keys``/``ids``, if given) into the sorted arrays; drop tombstones."""
        add_keys = self._pending_keys[: self._pending]
        add_ids = self._pending_ids[: self._pending]
        if keys is not None:
            add_keys, add_ids = np.concatenate([add_keys, keys]), np.concatenate([add_ids, ids])
        removed = np.fromiter(self._removed, dtype=np.int64, count=len(self._removed))
        low = add_ids.astype(np.uint64)
        for band in range(self.bands):
            main = self._main[band]
            if len(removed):
                main = main[~np.isin((main & _LOW).astype(np.int64), removed)]
            new = np.sort((add_keys[:, band].astype(np.uint64) << _SHIFT) | low)
            self._main[band] = np.insert(main, np.searchsorted(main, new), new) if len(main) else new
        main_ids = self._main_ids[~np.isin(self._main_ids, removed)] if len(removed) else self._main_ids
        new_ids = np.sort(add_ids)
        self._main_ids = np.insert(main_ids, np.searchsorted(main_ids, new_ids), new_ids)
        self._pending = 0
        self._pending_lookup.clear()
        self._removed.clear()

    # --- queries ---------------------------------------------------------------------------
    def query(self, signature: np.ndarray, band_keys: np.ndarray | None = None) -> list[int]:
        """Row ids agreeing with ``signature`` on every slot of at least one band
        (``band_keys``: its :meth:`band_keys` row, when already computed)."""
        keys = self.band_keys(signature)[0] if band_keys is None else band_keys
        # Per band, the run of entries whose high 32 bits are the band's key: from (key << 32)
        # to the next key's start ((key + 1) << 32, which wraps to 0 for the last key). One
        # method call per band (np.searchsorted's wrapper costs several times the search).
        lows = keys.astype(np.uint64) << _SHIFT
        with np.errstate(over="ignore"):
            bounds = np.array((lows, lows + _STEP)).T
        runs = np.array([main.searchsorted(pair) for main, pair in zip(self._main, bounds)], dtype=np.int64)
        runs[keys == _LAST_KEY, 1] = len(self._main_ids)  # every band holds one entry per main id
        hit = np.flatnonzero(runs[:, 1] > runs[:, 0])
        found = [(self._main[band][lo:hi] & _LOW).astype(np.int64)
                 for band, (lo, hi) in zip(hit.tolist(), runs[hit].tolist())]
        if self._pending:
            lookup = self._pending_lookup
            for k in self._lookup_keys(keys):
                have = lookup.get(k)
                if have is not None:
                    found.append(np.array(have if isinstance(have, tuple) else (have,), dtype=np.int64))
        if not found:
            return []
        out = np.unique(np.concatenate(found)).tolist()
        return [k for k in out if k not in self._removed] if self._removed else out

    def nbytes(self) -> int:
        """Bytes held by the arrays (for the memory bench)."""
        return sum(a.nbytes for a in self._main) + self._main_ids.nbytes + self._pending_keys.nbytes + self._pending_ids.nbytes
