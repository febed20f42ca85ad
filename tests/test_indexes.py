"""The compact in-memory indexes on real articles: the NumPy band table finds exactly the pairs
datasketch's MinHashLSH finds, through adds, buffer merges, removes and a reused row id; the
fp16 FAISS index returns the float32 cosines within 1e-3 and the same neighbours; both are
rebuilt from the store when their saved form is missing or of an older layout."""

from __future__ import annotations

import faiss
import numpy as np
import pytest
from conftest import load_dataset
from datasketch import LeanMinHash, MinHashLSH

from storyclust import minhash
from storyclust.article import parse_article
from storyclust.config import Settings
from storyclust.engine import Engine, embed_text
from storyclust.lsh_index import LSHIndex
from storyclust.vector_index import VectorIndex, span_for_window

ROWS = load_dataset("ecbplus-dev")
SETTINGS = Settings()


@pytest.fixture(scope="module")
def signatures() -> np.ndarray:
    return minhash.signatures([r["text"] for r in ROWS], SETTINGS.num_perm, SETTINGS.shingle_size)[0]


def reference(signatures: np.ndarray, keys: list[int]) -> MinHashLSH:
    lsh = MinHashLSH(threshold=SETTINGS.lsh_threshold, num_perm=SETTINGS.num_perm)
    for k in keys:
        lsh.insert(k, LeanMinHash(seed=minhash.SEED, hashvalues=signatures[k], scheme=minhash.SCHEME))
    return lsh


def query_both(index: LSHIndex, ref: MinHashLSH, signatures: np.ndarray) -> tuple[list, list]:
    ours, theirs = [], []
    for s in signatures:
        ours.append(sorted(index.query(s)))
        theirs.append(sorted(ref.query(LeanMinHash(seed=minhash.SEED, hashvalues=s, scheme=minhash.SCHEME))))
    return ours, theirs


def test_band_table_finds_what_datasketch_finds(signatures):
    keys = list(range(len(signatures)))
    index = LSHIndex(SETTINGS.num_perm, SETTINGS.lsh_threshold, buffer=100)  # several merges
    for start in range(0, len(keys), 37):
        index.add_many((k, signatures[k]) for k in keys[start:start + 37])
    ours, theirs = query_both(index, reference(signatures, keys), signatures)
    assert ours == theirs
    assert sum(len(q) > 1 for q in ours) > 20  # ECB+ has copies: some queries find others
    assert len(index) == len(keys) and all(k in index for k in (0, len(keys) - 1))


def test_band_table_removes_and_takes_a_reused_id(signatures):
    keys = list(range(len(signatures)))
    index = LSHIndex(SETTINGS.num_perm, SETTINGS.lsh_threshold, buffer=64)
    index.add_many((k, signatures[k]) for k in keys)
    index.add(len(keys), signatures[5])  # in the buffer
    gone = keys[::7] + [len(keys)]
    for k in gone:
        index.remove(k)
    index.remove(10**6)  # absent: nothing happens
    left = [k for k in keys if k not in set(gone)]
    ours, theirs = query_both(index, reference(signatures, left), signatures)
    assert ours == theirs and len(index) == len(left)
    # A row id reused after a delete (SQLite reuses the largest) answers with its new bands only.
    index.add(keys[7], signatures[8])
    assert keys[7] in index.query(signatures[8]) and keys[7] not in index.query(signatures[7])
    index.add(keys[7], signatures[9])  # already present: ignored
    assert keys[7] not in index.query(signatures[9]) or signatures[9].tobytes() == signatures[8].tobytes()


def test_band_table_rejects_ids_it_cannot_pack(signatures):
    with pytest.raises(ValueError):
        LSHIndex(SETTINGS.num_perm, SETTINGS.lsh_threshold).add(2**32, signatures[0])


@pytest.fixture(scope="module")
def embeddings(encoder) -> np.ndarray:
    return encoder.encode([embed_text(parse_article(r), SETTINGS.max_seq_length) for r in ROWS[:200]])


def test_fp16_index_gives_float32_cosines_and_neighbours(embeddings, tmp_path):
    ids = np.arange(len(embeddings)) * 3 + 1
    index = VectorIndex(embeddings.shape[1])
    index.add(ids, embeddings)
    exact = embeddings @ embeddings.T
    worst, overlap = 0.0, []
    for q in range(0, len(embeddings), 5):
        found, cos = index.search(embeddings[q], 10)
        worst = max(worst, float(np.abs(cos - exact[q][(found - 1) // 3]).max()))
        overlap.append(len(set(found.tolist()) & set((np.argsort(-exact[q])[:10] * 3 + 1).tolist())) / 10)
    assert worst < 1e-3
    assert np.mean(overlap) >= 0.99
    index.remove([ids[0], ids[5]])
    assert len(index) == len(ids) - 2 and ids[5] not in index.search(embeddings[5], 3)[0]
    index.save(tmp_path / "v.faiss")
    loaded = VectorIndex.load(tmp_path / "v.faiss", embeddings.shape[1])
    assert loaded is not None and np.array_equal(np.sort(loaded.ids()), np.sort(index.ids()))
    assert loaded.nbytes() == (len(ids) - 2) * (embeddings.shape[1] * 2 + 8)


def test_a_dated_search_reads_only_the_partitions_of_its_window_and_the_undated(embeddings, tmp_path):
    day = 86_400.0
    n = len(embeddings)
    ids = np.arange(1, n + 1)
    # Four groups: undated, and dated on days 100, 103 and 130 (noon); partitions of one day.
    published = [None if i % 4 == 0 else (100, 103, 130)[i % 4 - 1] * day + day / 2 for i in range(n)]
    index = VectorIndex(embeddings.shape[1], span=day)
    index.add(ids, embeddings, published)
    assert len(index) == n and index.partitions() == 4

    def days_found(index, query: int, around, within, k: int = n):
        found, _ = index.search(embeddings[query], k, around=around, within=within)
        return {published[i - 1] // day if published[i - 1] else None for i in found.tolist()}

    assert days_found(index, 1, 100.5 * day, 2 * day) == {None, 100}
    assert days_found(index, 1, 101.5 * day, 2 * day) == {None, 100, 103}
    assert days_found(index, 1, 100.5 * day, None) == days_found(index, 1, None, 7 * day) == {None, 100, 103, 130}
    # Within its partitions the search is exact and ordered: the k best of the window's vectors.
    window = [i for i in range(n) if published[i] is None or published[i] // day == 130]
    exact = embeddings[window] @ embeddings[3]
    found, cosines = index.search(embeddings[3], 10, around=130.2 * day, within=day)
    assert found.tolist() == [window[j] + 1 for j in np.argsort(-exact)[:10]]
    assert np.all(np.diff(cosines) <= 1e-6)
    # Partitions survive a save and a load; a removal empties and drops a partition.
    index.save(tmp_path / "v.zip")
    assert VectorIndex.load(tmp_path / "v.zip", embeddings.shape[1], span=7 * day) is None  # another layout
    loaded = VectorIndex.load(tmp_path / "v.zip", embeddings.shape[1], span=day)
    assert loaded is not None and loaded.partitions() == 4
    assert loaded.search(embeddings[3], 10, around=130.2 * day, within=day)[0].tolist() == found.tolist()
    loaded.remove([i + 1 for i in range(n) if published[i] and published[i] // day == 103])
    assert loaded.partitions() == 3
    assert len(loaded) == n - sum(1 for t in published if t and t // day == 103)
    # Week-wide partitions (the engine's, for its 7-day window): days 100 and 103 share one.
    weekly = VectorIndex(embeddings.shape[1], span=7 * day)
    weekly.add(ids, embeddings, published)
    assert weekly.partitions() == 3
    assert days_found(weekly, 1, 100.5 * day, day) == {None, 100, 103}


def test_a_dated_search_never_misses_an_article_of_its_window(embeddings):
    """Times spread over ten weeks either side of the epoch (negative partition keys too), queries
    anywhere, the engine's rule (7-day window, partitions one window wide): every stored article
    within the window, and every undated one, comes back; nothing from outside the partitions
    that overlap the window does."""
    day, window = 86_400.0, 7 * 86_400.0
    rng = np.random.default_rng(7)
    n = len(embeddings)
    published = [None if i % 5 == 0 else float(rng.uniform(-35, 35)) * day for i in range(n)]
    index = VectorIndex(embeddings.shape[1], span=span_for_window(window))
    index.add(np.arange(n), embeddings, published)
    for around in rng.uniform(-40, 40, size=25) * day:
        found = set(index.search(embeddings[0], n, around=float(around), within=window)[0].tolist())
        inside = {i for i, t in enumerate(published) if t is None or abs(t - around) <= window}
        reachable = {i for i, t in enumerate(published)
                     if t is None or around - window - index.span <= t <= around + window + index.span}
        assert inside <= found <= reachable


def test_a_partition_past_its_limit_becomes_an_inverted_file_that_still_finds_the_neighbours(tmp_path):
    """20,000 undated vectors in 400 topics (one partition, as an undated feed is), limit 5,000:
    ``approximate`` turns the partition into an inverted file; its 10 nearest are the exact
    ones for at least 95% (random unit vectors have no structure for cells to follow; these
    have, as embeddings do), each stored vector finds itself, removals and new vectors hold,
    and the saved file loads as the same inverted file."""
    rng = np.random.default_rng(7)
    dim, n = 64, 20_000
    centres = rng.standard_normal((400, dim)).astype(np.float32)
    vectors = centres[rng.integers(0, 400, n)] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(n, dtype=np.int64) * 2 + 1
    index = VectorIndex(dim, approximate_from=5_000)
    index.add(ids, vectors)
    assert index.approximate() == 1 and index.approximate() == 0  # once
    part = next(iter(index._parts.values()))
    assert isinstance(part, faiss.IndexIVF) and len(index) == n
    queries = rng.choice(n, 200, replace=False)
    exact = np.argsort(-(vectors[queries] @ vectors.T), axis=1)[:, :10]
    recall = np.mean([len(set(index.search(vectors[q], 10)[0].tolist()) & set((exact[i] * 2 + 1).tolist())) / 10
                      for i, q in enumerate(queries)])
    assert recall >= 0.95, recall
    assert all(index.search(vectors[q], 1)[0][0] == ids[q] for q in queries)
    gone = ids[queries[:50]].tolist()
    index.remove(gone)
    assert len(index) == n - 50 and not set(gone) & set(index.ids().tolist())
    assert all(ids[q] not in index.search(vectors[q], 10)[0] for q in queries[:50])
    extra = centres[:5] / np.linalg.norm(centres[:5], axis=1, keepdims=True)
    index.add(np.array([10**9 + i for i in range(5)]), extra)
    assert [index.search(v, 1)[0][0] for v in extra] == [10**9 + i for i in range(5)]
    index.save(tmp_path / "v.zip")
    loaded = VectorIndex.load(tmp_path / "v.zip", dim)
    assert loaded is not None and isinstance(next(iter(loaded._parts.values())), faiss.IndexIVF)
    assert np.array_equal(np.sort(loaded.ids()), np.sort(index.ids()))
    for q in queries[50:80]:
        assert np.array_equal(loaded.search(vectors[q], 10)[0], index.search(vectors[q], 10)[0])


def test_engine_makes_a_large_partition_approximate_at_start_up_and_saves_it(tmp_path, encoder):
    """An undated feed of 120 articles with the limit at 100: the next start-up turns its one
    partition into an inverted file and saves it; decisions still find their candidates."""
    settings = Settings(data_dir=tmp_path / "data", vector_approximate_from=100)
    engine = Engine(settings, encoder=encoder)
    engine.ingest([parse_article({**r, "published_at": None}) for r in ROWS[:120]])
    engine.store.close()
    engine = Engine(settings, encoder=encoder)  # start-up: caught up from the saved file, then turned
    assert isinstance(next(iter(engine.vectors._parts.values())), faiss.IndexIVF)
    assert engine.indexes_match_store()
    saved = VectorIndex.load(engine.vector_path, encoder.dim, span_for_window(settings.time_window_seconds))
    assert saved is not None and isinstance(next(iter(saved._parts.values())), faiss.IndexIVF)
    articles = [parse_article({**r, "published_at": None}) for r in ROWS[:10]]
    for article, vector in zip(articles, encoder.encode([embed_text(a, settings.max_seq_length) for a in articles])):
        assert engine.vectors.search(vector, 1)[0][0] == engine.store.get(article.id).rowid  # each finds itself
    engine.store.close()


def test_engine_rebuilds_an_index_of_the_old_layout_and_deletes_from_both(tmp_path, encoder):
    settings = Settings(data_dir=tmp_path / "data")
    engine = Engine(settings, encoder=encoder)
    engine.ingest([parse_article(r) for r in ROWS[:40]])
    engine.store.close()
    old = faiss.IndexIDMap2(faiss.IndexFlatIP(encoder.dim))  # what earlier versions saved
    faiss.write_index(old, str(settings.data_dir / "vectors.faiss"))
    engine = Engine(settings, encoder=encoder)
    assert engine.indexes_match_store() and len(engine.vectors) == 40
    victim = ROWS[3]["id"]
    rowid = engine.store.get(victim).rowid
    signature = engine.store.candidates([rowid])[0].signature
    assert rowid in engine.lsh.query(signature)
    assert engine.delete(victim)
    assert engine.indexes_match_store() and rowid not in engine.lsh.query(signature)
    assert rowid not in engine.vectors.ids()
    engine.store.close()
