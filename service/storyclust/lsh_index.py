"""Locality-sensitive hashing over MinHash signatures (datasketch ``MinHashLSH``): the candidate
source for copies. Derived data: rebuilt from the signatures in the store at start-up.

``threshold`` sets the Jaccard at which a pair becomes likely to collide in at least one band.
Lower finds more truncated and edited copies, at the cost of more (cheap) candidates to verify.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from datasketch import LeanMinHash, MinHashLSH

from .minhash import SCHEME, SEED


class LSHIndex:
    def __init__(self, num_perm: int, threshold: float) -> None:
        self.num_perm = num_perm
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)

    def _lean(self, signature: np.ndarray) -> LeanMinHash:
        return LeanMinHash(seed=SEED, hashvalues=signature, scheme=SCHEME)

    def add(self, key: int, signature: np.ndarray) -> None:
        if key not in self._lsh:
            self._lsh.insert(key, self._lean(signature), check_duplication=False)

    def add_many(self, items: Iterable[tuple[int, np.ndarray]]) -> None:
        with self._lsh.insertion_session() as session:
            for key, signature in items:
                if key not in self._lsh:
                    session.insert(key, self._lean(signature), check_duplication=False)

    def remove(self, key: int) -> None:
        if key in self._lsh:
            self._lsh.remove(key)

    def query(self, signature: np.ndarray) -> list[int]:
        return list(self._lsh.query(self._lean(signature)))

    def __len__(self) -> int:
        return len(self._lsh.keys)
