"""The fast paths of online ingest against the plain definitions they replace: MinHash without
datasketch's per-sketch object, pair features for all candidates at once, the lazily read
profile, TermStats by profile, the LSH buffer's dict, the cached candidates, and term counts
written at commit. Each must give what the definition gives (floats to ~1e-12). And the store
finds an article's copies, and the articles of a span of time, by index."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest
from conftest import load_dataset
from datasketch import MinHash

from storyclust import minhash
from storyclust.features import pair_feature_matrix, pair_features
from storyclust.lsh_index import LSHIndex
from storyclust.normalize import clean
from storyclust.profile import _SENTENCE_SPLIT, _TOKEN, Profile, build_profile, clean_lines
from storyclust.store import Store
from storyclust.term_stats import TermStats

ROWS = [r for r in load_dataset("ecbplus-dev", limit=400) if r.get("text")]
ODD_TEXTS = ["\U0001F600\U0001F600", "!!! ???", "one", "two words", "<b>x</b>\r\nA. B.\u2028C d e f",
             "Line one.\n\nLine two? Yes!\n" * 40]


@pytest.fixture(scope="module")
def profiles() -> list[Profile]:
    # English, and every fifth without a language: weekdays known and unknown (NaN features).
    return [build_profile(r.get("title"), r["text"], None if i % 5 == 4 else "en") for i, r in enumerate(ROWS)]


def test_signature_equals_datasketch():
    for text in [r["text"] for r in ROWS[:150]] + ODD_TEXTS:
        shingle_set = minhash.shingles(text, 3)
        reference = MinHash(num_perm=128, seed=minhash.SEED, scheme=minhash.SCHEME)
        reference.update_batch(shingle_set)
        assert np.array_equal(minhash.signature(shingle_set, 128), reference.hashvalues)


def test_shingles_are_the_word_ngrams():
    for text in [r["text"] for r in ROWS[:50]] + ODD_TEXTS:
        words = minhash.words(text)
        for size in (1, 3):
            if len(words) >= size:
                expected = {" ".join(words[i:i + size]).encode("utf-8") for i in range(len(words) - size + 1)}
                assert minhash.shingles(text, size) == expected


def test_profile_reads_the_same_tokens_and_sentences_as_the_whole_text(profiles):
    """The profile stops reading early (600 words, 48 sentences / 1,500 words, line by line):
    its sentences must be those of splitting the whole cleaned text."""
    from storyclust import profile as module

    for r in ROWS[:120] + [{"title": None, "text": t} for t in ODD_TEXTS]:
        text = r["text"]
        assert module._tokens(text, 600) == _TOKEN.findall(clean(text))[:600]
        expected, words = [], 0
        for sentence in _SENTENCE_SPLIT.split(clean_lines(text)):
            tokens = _TOKEN.findall(sentence)
            words += len(tokens)
            stems = {module._stem_bucket(t) for t in module._content_terms(tokens)}
            if len(stems) >= 4:
                expected.append(tuple(sorted(stems)))
            if len(expected) >= 48 or words >= 1500:
                break
        assert module._sentences(text) == tuple(expected)


def test_feature_matrix_equals_pair_features(profiles):
    stats = TermStats()
    for p in profiles[:300]:
        stats.add(p.all_terms())
    rng = random.Random(5)
    empty = Profile(*(frozenset(),) * 5)
    for _ in range(40):
        mine = rng.choice(profiles)
        others = rng.sample(profiles[:300], 20) + [empty]
        when = [rng.choice([None, 1.6e9 + rng.random() * 1e6]) for _ in others]
        my_ts = rng.choice([None, 1.6e9])
        cosines = np.array([rng.random() for _ in others])
        aligned = np.array([rng.random() for _ in others])
        expected = [pair_features(mine, my_ts, cosines[k], o, when[k], stats, float(aligned[k]))
                    for k, o in enumerate(others)]
        got = pair_feature_matrix(mine, my_ts, cosines, others, when, stats, aligned)
        assert np.allclose(got, expected, rtol=0, atol=1e-12, equal_nan=True)
        stats.add(mine.all_terms())  # the counts move between calls, as online


def test_add_profile_counts_as_add(profiles):
    by_terms, by_profile = TermStats(), TermStats()
    for p in profiles[:200]:
        by_terms.add(p.all_terms())
        by_profile.add_profile(p)
    for p in profiles[:30]:
        by_terms.remove(p.all_terms())
        by_profile.remove(p.all_terms())
    assert by_terms.df == by_profile.df and by_terms.docs == by_profile.docs
    assert by_terms._log_df == by_profile._log_df
    assert np.array_equal(by_terms._stem_log_df, by_profile._stem_log_df)
    assert np.array_equal(by_terms.sentence_df, by_profile.sentence_df) and by_profile.sentence_df.sum() > 1000
    counted = Counter(t for p in profiles[30:200] for t in p.all_terms())  # as the store's term_df
    assert np.array_equal(TermStats(dict(counted), 170).sentence_df, by_profile.sentence_df)
    terms = list(profiles[250].all_terms())
    assert [by_terms.idf(t) for t in terms] == [by_profile.idf(t) for t in terms]
    reopened = TermStats(dict(by_profile.df), by_profile.docs)
    assert np.array_equal(reopened._stem_log_df, by_profile._stem_log_df)
    for profile in profiles[200:240]:
        mine = reopened.slots(profile)
        assert np.allclose(reopened.slot_idf(mine // 5), by_profile.slot_idf(by_profile.slots(profile) // 5))


def brute_force(signatures: dict[int, np.ndarray], index: LSHIndex, query: np.ndarray) -> list[int]:
    keys = index.band_keys(query)[0]
    return sorted(k for k, s in signatures.items() if (index.band_keys(s)[0] == keys).any())


def test_lsh_buffer_and_arrays_find_exactly_the_band_matches():
    rng = np.random.default_rng(3)
    base = rng.integers(0, 2**32, size=(600, 128), dtype=np.uint64).astype(np.uint32)
    base[1::2, :60] = base[0::2, :60]  # pairs sharing bands
    index, live = LSHIndex(128, 0.3, buffer=64), {}
    for i, signature in enumerate(base):
        index.add(i + 1, signature)
        live[i + 1] = signature
        if i % 9 == 4:
            gone = sorted(live)[i % len(live)]
            index.remove(gone)
            del live[gone]
        if i % 50 == 0:
            for q in (signature, base[rng.integers(0, i + 1)]):
                assert index.query(q) == brute_force(live, index, q)
    assert len(index) == len(live)


def test_term_counts_are_written_with_the_commit_and_dropped_on_rollback(tmp_path, profiles):
    store = Store(tmp_path, fsync=False)
    signature, embedding = np.zeros(128, dtype=np.uint32), np.zeros(384, dtype=np.float32)

    def insert(i: int) -> None:
        store.insert(article_id=f"a{i}", fingerprint="f", title=None, text="t", published_at=None,
                     published_ts=None, lang="en", source=None, url=None, content_hash=f"h{i}", lead_hash=None, shingles=1,
                     signature=signature, embedding=embedding, profile=profiles[i], cluster_id=f"s{i}",
                     relation="new_story", duplicate_of=None, score=0.0, evidence=None)

    store.begin()
    for i in range(5):
        insert(i)
    store.commit()
    expected = Counter()
    for p in profiles[:5]:
        expected.update(p.all_terms())
    assert store.term_df() == (dict(expected), 5)
    store.begin()
    insert(5)
    store.rollback()
    assert store.term_df() == (dict(expected), 5)
    store.begin()
    insert(6)
    store.delete("a6")  # added and removed in one transaction: counted zero
    store.delete("a0")
    store.commit()
    expected.subtract(profiles[0].all_terms())
    assert store.term_df()[0] == {t: c for t, c in expected.items() if c > 0}
    insert(7)  # outside a transaction: written at once
    expected.update(profiles[7].all_terms())
    assert store.term_df() == ({t: c for t, c in expected.items() if c > 0}, 5)
    store.close()


def test_cached_candidates_read_the_current_story(tmp_path, profiles):
    store = Store(tmp_path, fsync=False)
    rowids = []
    for i in range(4):
        rowids.append(store.insert(
            article_id=f"a{i}", fingerprint="f", title=None, text="t", published_at=None,
            published_ts=1.0 * i, lang="en", source=None, url=None, content_hash=f"h{i}", lead_hash=None, shingles=i,
            signature=np.full(128, i, dtype=np.uint32), embedding=np.zeros(384, dtype=np.float32),
            profile=profiles[i], cluster_id=f"s{i}", relation="new_story", duplicate_of=None, score=0.0,
            evidence=None))
    fresh = store.candidates(list(reversed(rowids)))
    assert [c.rowid for c in fresh] == sorted(rowids)
    known = {c.rowid: c for c in fresh[:2]}
    store.db.execute("UPDATE articles SET cluster_id='merged' WHERE rowid=?", (rowids[0],))  # a recluster
    cached = store.candidates(rowids + [rowids[1]], known)
    assert [c.rowid for c in cached] == sorted(rowids)
    assert [c.cluster_id for c in cached] == ["merged", "s1", "s2", "s3"]
    assert cached[1] is known[rowids[1]]  # unchanged: the cached object itself
    for c, f in zip(cached, fresh):
        assert (c.id, c.lang, c.published_ts, c.shingles, c.profile) == (f.id, f.lang, f.published_ts, f.shingles, f.profile)
        assert np.array_equal(c.signature, f.signature)
    store.close()


def test_a_removal_finds_the_copies_of_what_it_removes_by_index(tmp_path):
    """DELETE and an expiry pass an article's place on to its copies: found by scanning the
    whole table, that cost 83 ms an article in a store of 100k (bench/expire.py)."""
    store = Store(tmp_path)
    try:
        for sql in ("SELECT rowid, id FROM articles WHERE duplicate_of=? ORDER BY rowid",
                    "UPDATE articles SET duplicate_of=? WHERE duplicate_of=?"):
            plan = " ".join(row[-1] for row in store.db.execute("EXPLAIN QUERY PLAN " + sql, ("a",) * sql.count("?")))
            assert "USING INDEX articles_copies" in plan, plan
    finally:
        store.close()


def test_the_job_and_retention_find_articles_by_time_through_the_index(tmp_path):
    """Both select by ``store.PLACED``, the one expression SQLite matches to its index."""
    from storyclust.recluster import _scope_sql
    from storyclust.store import PLACED

    store = Store(tmp_path)
    try:
        scope, args = _scope_sql([(1.0, 2.0)])
        for sql, values in ((f"SELECT rowid FROM articles WHERE {scope}", args),
                            (f"SELECT id FROM articles WHERE {PLACED} < ? ORDER BY {PLACED} LIMIT ?", [1.0, 100])):
            plan = " ".join(row[-1] for row in store.db.execute("EXPLAIN QUERY PLAN " + sql, values))
            assert "USING INDEX articles_placed" in plan, plan
    finally:
        store.close()
