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
from hashlib import sha1
from operator import methodcaller

import numpy as np
from datasketch import MinHash

from .normalize import normalize, words

_UTF8 = methodcaller("encode", "utf-8")
_DIGEST = methodcaller("digest")

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
    # map/zip rather than a comprehension: the loop over a body's positions then runs in C
    grams = map(" ".join, zip(*(tokens[i:] for i in range(size))))
    return set(map(_UTF8, grams))


@lru_cache(maxsize=4)
def _empty(num_perm: int) -> MinHash:
    """An empty MinHash: its permutations (drawing them costs more than hashing a short body)."""
    return MinHash(num_perm=num_perm, seed=SEED, scheme=SCHEME)


def _fmix32(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, as datasketch applies it before the affine32 permutations."""
    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values = values ^ (values >> np.uint32(13))
    values = values * np.uint32(0xC2B2AE35)
    return values ^ (values >> np.uint32(16))


def signature(shingle_set: set[bytes], num_perm: int) -> np.ndarray:
    """uint32 [num_perm]: what ``MinHash(num_perm, seed=SEED, scheme=SCHEME).update_batch``
    gives for ``shingle_set`` (a test holds them equal), without its per-sketch setup and
    Python-level hash calls: the first 4 bytes of each SHA-1 (datasketch's ``sha1_hash32``) are
    read from the joined digests in one NumPy view."""
    a, b = _empty(num_perm).permutations
    if not shingle_set:
        return _empty(num_perm).hashvalues.astype(np.uint32)
    digests = b"".join(map(_DIGEST, map(sha1, shingle_set)))
    hashes = np.frombuffer(digests, dtype="<u4").reshape(-1, 5)[:, 0].astype(np.uint32)
    return (_fmix32(hashes)[:, None] * a + b).min(axis=0)


def signatures(texts: Sequence[str], num_perm: int, shingle_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(signatures uint32 [n, num_perm], shingle counts int [n]) for a batch of bodies."""
    sigs = np.empty((len(texts), num_perm), dtype=np.uint32)
    sizes = np.empty(len(texts), dtype=np.int64)
    for row, text in enumerate(texts):
        shingle_set = shingles(text, shingle_size)
        sigs[row] = signature(shingle_set, num_perm)
        sizes[row] = len(shingle_set)
    return sigs, sizes


def jaccard(signature: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Estimated Jaccard of one signature against each row of ``others``."""
    if len(others) == 0:
        return np.zeros(0)
    # the share of equal slots: count / slots is exactly the mean of the 0/1 matches
    return np.count_nonzero(others == signature, axis=1) / others.shape[1]


def containment(jac: np.ndarray, size: int, other_sizes: np.ndarray) -> np.ndarray:
    """Estimated share of the smaller shingle set contained in the larger one."""
    sizes = np.asarray(other_sizes, dtype=float)
    inter = jac * (size + sizes) / (1.0 + jac)
    smaller = np.maximum(np.minimum(size, sizes), 1.0)
    return np.clip(inter / smaller, 0.0, 1.0)
