"""MinHash signatures of article bodies, and the Jaccard / containment estimates behind
``near_duplicate``.

A body becomes the set of its word ``shingle_size``-grams (after normalisation), hashed into a
``num_perm``-slot MinHash (datasketch). Two signatures agree in a share of slots equal, in
expectation, to the Jaccard similarity of the two sets (standard error ~ 1/sqrt(num_perm)).
Jaccard alone misses a truncated copy (half an article has Jaccard ~0.5 with the whole), so we
also estimate *containment*, the share of the shorter set found in the longer one, from Jaccard
and the two set sizes: |A n B| = J (|A| + |B|) / (1 + J).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from datasketch import MinHash

from .normalize import normalize, words

# Fixed: signatures stored today must compare with those computed tomorrow.
SEED = 1
SCHEME = "affine32"  # datasketch 2.x default; 32-bit hash values, stored as uint32


def shingles(text: str, size: int) -> set[bytes]:
    """Distinct word ``size``-grams of the body; texts shorter than ``size`` words give their words."""
    tokens = words(text)
    if not tokens:  # no word at all (emoji, symbols): the whole text is its one shingle
        return {normalize(text).encode("utf-8")}
    if len(tokens) < size:
        return {t.encode("utf-8") for t in tokens}
    return {" ".join(tokens[i : i + size]).encode("utf-8") for i in range(len(tokens) - size + 1)}


@lru_cache(maxsize=4)
def _empty(num_perm: int) -> MinHash:
    """An empty MinHash to copy: drawing the permutations costs more than hashing a short body,
    and the API signs one article at a time."""
    return MinHash(num_perm=num_perm, seed=SEED, scheme=SCHEME)


def signatures(texts: Sequence[str], num_perm: int, shingle_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(signatures uint32 [n, num_perm], shingle counts int [n]) for a batch of bodies."""
    sets = [shingles(text, shingle_size) for text in texts]
    sigs = np.empty((len(texts), num_perm), dtype=np.uint32)
    for row, shingle_set in enumerate(sets):
        minhash = _empty(num_perm).copy()
        minhash.update_batch(shingle_set)
        sigs[row] = minhash.hashvalues
    return sigs, np.array([len(s) for s in sets], dtype=np.int64)


def jaccard(signature: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Estimated Jaccard of one signature against each row of ``others``."""
    if len(others) == 0:
        return np.zeros(0)
    return (others == signature).mean(axis=1)


def containment(jac: np.ndarray, size: int, other_sizes: np.ndarray) -> np.ndarray:
    """Estimated share of the smaller shingle set contained in the larger one."""
    sizes = np.asarray(other_sizes, dtype=float)
    inter = jac * (size + sizes) / (1.0 + jac)
    smaller = np.maximum(np.minimum(size, sizes), 1.0)
    return np.clip(inter / smaller, 0.0, 1.0)
