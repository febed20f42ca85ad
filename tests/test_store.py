"""The SQLite store is the source of truth: a reopened engine reads back what was decided, the
FAISS file is derived (rebuilt when missing or corrupt), repeats are idempotent, and the same id
with new content is an update."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from conftest import load_dataset

from storyclust.article import parse_article
from storyclust.config import Settings
from storyclust.engine import Engine
from storyclust.normalize import HASH_VERSION, content_hash, lead_hash
from storyclust.profile import SENTENCE_BUCKETS
from storyclust.store import Store


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    """Two ECB+ topics (4 events; 29_1/29_5/29_9ecbplus are one wire story) and a planted copy."""
    ecb = load_dataset("ecbplus-dev")
    wire = [r for r in ecb if r["id"].startswith("29_") and r["id"].endswith("ecbplus")]
    other = [r for r in ecb if r["id"].startswith("3_")][:8]
    assert {"29_1ecbplus", "29_5ecbplus", "29_9ecbplus"} <= {r["id"] for r in wire}
    mixed = [x for pair in zip(wire, other) for x in pair] + wire[len(other):]
    return mixed + [{**mixed[0], "id": "planted-copy", "title": "Re-run"}]


def snapshot(engine: Engine) -> dict:
    """Everything a reader can see: articles, decisions and cluster membership."""
    store = engine.store
    articles = {}
    for article_id, *_ in store.assignments():
        a = store.get(article_id)
        articles[article_id] = {**a.public(), "content_hash": a.content_hash, "fingerprint": a.fingerprint,
                                "shingles": a.shingles, "rowid": a.rowid}
    clusters = {c: sorted(m.id for m in store.cluster_members(c)) for c, _ in store.recent_clusters(None, 10_000)}
    return {"articles": articles, "clusters": clusters, "assignments": store.assignments()}


@pytest.fixture(scope="module")
def built(tmp_path_factory, encoder, rows):
    """A data dir with ``rows`` ingested and the vector file saved: (dir, decisions, snapshot)."""
    data_dir = tmp_path_factory.mktemp("built") / "data"
    engine = Engine(Settings(data_dir=data_dir), encoder=encoder)
    decisions = engine.ingest([parse_article(r) for r in rows])
    engine.save_indexes()
    state = snapshot(engine)
    engine.store.close()
    return data_dir, decisions, state


@pytest.fixture
def copy_of_built(built, settings) -> Settings:
    shutil.copytree(built[0], settings.data_dir)
    return settings


def test_round_trip_through_a_reopened_engine(copy_of_built, encoder, built, rows):
    _, decisions, before = built
    assert {d.relation for d in decisions} >= {"new_story", "exact_duplicate", "near_duplicate"}
    engine = Engine(copy_of_built, encoder=encoder)
    try:
        assert snapshot(engine) == before
        assert engine.store.count() == len(rows) and engine.indexes_match_store()
        assert engine.store.cluster_count() == len(before["clusters"]) == len({d.cluster_id for d in decisions})
        for d, r in zip(decisions, rows):
            stored = engine.store.get(d.id)
            assert (stored.cluster_id, stored.relation, stored.duplicate_of) == (d.cluster_id, d.relation, d.duplicate_of)
            assert round(stored.score, 4) == d.line()["score"]
            assert stored.text == r["text"] and stored.title == r["title"]
            assert stored.public()["evidence"]["matches"] == d.matches
        # Posting everything again is idempotent: same answers, nothing stored twice.
        again = engine.ingest([parse_article(r) for r in rows])
        assert [d.line() for d in again] == [d.line() for d in decisions]
        assert all(d.stored is False for d in again)
        assert snapshot(engine) == before
    finally:
        engine.store.close()


@pytest.mark.parametrize("damage", ["deleted", "garbage", "truncated", "empty"])
def test_vector_index_is_rebuilt_when_missing_or_corrupt(copy_of_built, encoder, built, rows, damage):
    _, decisions, _ = built
    path = copy_of_built.data_dir / "vectors.zip"
    assert path.stat().st_size > len(rows) * 384 * 2  # fp16 codes
    if damage == "deleted":
        path.unlink()
    elif damage == "garbage":
        path.write_bytes(os.urandom(path.stat().st_size))
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path.write_bytes(b"")

    engine = Engine(copy_of_built, encoder=encoder)
    try:
        assert len(engine.vectors) == engine.store.count() == len(rows) and engine.indexes_match_store()
        # Search finds every stored article by its own embedding.
        vectors = engine.store.embeddings(engine.store.rowids().tolist(), engine.encoder.dim)
        for rowid, vector in vectors.items():
            ids, cosines = engine.vectors.search(vector, 3)
            assert rowid in ids.tolist() and cosines[0] > 0.999
        # And a new copy of a stored article is found through the rebuilt index.
        original = next(d for d, r in zip(decisions, rows) if r["id"] == "29_5ecbplus")
        copy = {**rows[[r["id"] for r in rows].index("29_5ecbplus")], "id": "late-copy", "title": "New headline"}
        copy["text"] = "LONDON (Reuters) - " + copy["text"].split("\n", 1)[-1] + "\n(Editing by Jane Doe)"
        late = engine.ingest([parse_article(copy)])[0]
        assert late.relation == "near_duplicate" and late.cluster_id == original.cluster_id
        engine.save_indexes()
    finally:
        engine.store.close()
    engine = Engine(copy_of_built, encoder=encoder)  # the rebuilt file is good again
    try:
        assert len(engine.vectors) == len(rows) + 1 and engine.indexes_match_store()
    finally:
        engine.store.close()


def test_stale_vector_file_is_caught_up(copy_of_built, encoder, rows):
    """Articles committed after the vector file was saved (a crash before the next save), and
    articles deleted since, are reconciled at start."""
    engine = Engine(copy_of_built, encoder=encoder)
    engine.ingest([parse_article({**rows[1], "id": "unsaved", "text": rows[1]["text"] + " More."})])
    engine.delete(rows[0]["id"])
    engine.store.close()  # no save_indexes
    engine = Engine(copy_of_built, encoder=encoder)
    try:
        assert len(engine.vectors) == engine.store.count() == len(rows) and engine.indexes_match_store()
        assert sorted(engine.vectors.ids().tolist()) == sorted(engine.store.rowids().tolist())
    finally:
        engine.store.close()


def test_repeat_is_idempotent_and_changed_content_is_an_update(engine, rows):
    a, b = rows[0], rows[1]
    first = engine.ingest([parse_article(a), parse_article(b)])
    rowid = engine.store.get(a["id"]).rowid
    repeat = engine.ingest([parse_article({**a, "event_id": "ignored"})])[0]
    assert repeat.line() == first[0].line() and repeat.stored is False
    assert engine.store.get(a["id"]).rowid == rowid and engine.store.count() == 2

    # Same id, new content: b's text under a's id is now an exact copy of b.
    updated = engine.ingest([parse_article({**a, "text": b["text"]})])[0]
    assert updated.stored is True
    assert engine.store.count() == 2 and engine.indexes_match_store()
    stored = engine.store.get(a["id"])
    assert stored.text == b["text"] and stored.rowid != rowid
    assert (updated.relation, updated.duplicate_of, updated.cluster_id) == ("exact_duplicate", b["id"], first[1].cluster_id)
    assert (stored.relation, stored.duplicate_of) == ("exact_duplicate", b["id"])
    assert rowid not in engine.vectors.ids().tolist()  # the old vector went with the old content
    # Posting the update again is now the idempotent repeat.
    assert engine.ingest([parse_article({**a, "text": b["text"]})])[0].stored is False
    assert engine.store.count() == 2


def in_memory(counts: Counter) -> tuple[dict, np.ndarray]:
    """Stored term counts as ``TermStats`` holds them: whole sentences ("=<bucket>") by bucket in
    an array, everything else in the dict."""
    sentences = np.zeros(SENTENCE_BUCKETS, dtype=np.int32)
    for term, count in counts.items():
        if term.startswith("="):
            sentences[int(term[1:])] = count
    return {t: c for t, c in counts.items() if not t.startswith("=")}, sentences


def test_term_statistics_survive_updates_deletes_and_reopen(copy_of_built, encoder, rows):
    engine = Engine(copy_of_built, encoder=encoder)
    engine.ingest([parse_article({**rows[0], "text": rows[2]["text"] + " Updated."})])  # update
    engine.delete(rows[1]["id"])
    df, docs = engine.store.term_df()
    live, live_docs, live_sentences = dict(engine.stats.df), engine.stats.docs, engine.stats.sentence_df.copy()
    engine.store.close()
    engine = Engine(copy_of_built, encoder=encoder)
    try:
        n = len(rows) - 1
        assert docs == engine.store.count() == n
        recount: Counter = Counter()  # a fresh count from the stored profiles
        for profile in engine.store.profiles(engine.store.rowids().tolist()).values():
            recount.update(profile.all_terms())
        assert {t: c for t, c in df.items() if c} == dict(recount)
        words, sentences = in_memory(recount)
        assert sentences.sum() > 100
        assert {t: c for t, c in live.items() if c} == words and live_docs == n
        assert np.array_equal(live_sentences, sentences)
        assert {t: c for t, c in engine.stats.df.items() if c} == words and engine.stats.docs == n
        assert np.array_equal(engine.stats.sentence_df, sentences)
    finally:
        engine.store.close()


def test_term_counts_are_checkpointed_not_written_per_article(settings, encoder, rows):
    """An ingest leaves the term_df table alone until the checkpoint (its rows would be most of
    every commit's pages); the counts stay exact across a checkpoint, deletes on either side of
    it, and a reopen with no final checkpoint (as after a kill)."""
    settings = settings.model_copy(update={"term_df_checkpoint": 4})
    engine = Engine(settings, encoder=encoder)

    def table() -> dict:
        return dict(engine.store.db.execute("SELECT term, df FROM term_df WHERE df > 0"))

    engine.ingest([parse_article(r) for r in rows[:3]])
    assert table() == {} and len(engine.store.uncounted_rowids()) == 3
    engine.ingest([parse_article(rows[3])], dry_run=True)  # stores nothing, so counts nothing
    assert table() == {}
    engine.ingest([parse_article(rows[3])])  # the fourth since the last checkpoint: one now
    assert engine.store.uncounted_rowids() == [] and sum(table().values()) > 100
    engine.ingest([parse_article(r) for r in rows[4:6]])
    engine.delete(rows[0]["id"])  # counted in the table
    engine.delete(rows[5]["id"])  # not counted there yet
    live, live_sentences = {t: c for t, c in engine.stats.df.items() if c}, engine.stats.sentence_df.copy()
    engine.store.close()
    reopened = Engine(settings, encoder=encoder)
    try:
        recount: Counter = Counter()
        for profile in reopened.store.profiles(reopened.store.rowids().tolist()).values():
            recount.update(profile.all_terms())
        words, sentences = in_memory(recount)
        assert live == words and np.array_equal(live_sentences, sentences) and sentences.sum() > 10
        assert {t: c for t, c in reopened.stats.df.items() if c} == words and reopened.stats.docs == 4
        assert np.array_equal(reopened.stats.sentence_df, sentences)
    finally:
        reopened.store.close()


def test_a_store_counted_by_an_earlier_version_is_recounted_when_opened(copy_of_built, encoder):
    """A store made before whole sentences were counted (no "=" rows in term_df, no
    ``term_df_keys``) would never see its stored footers as boilerplate: opening it recounts
    every stored profile and writes the counts as a checkpoint at once."""
    old = Store(copy_of_built.data_dir)
    old.db.execute("DELETE FROM term_df WHERE term LIKE '=%'")
    old.db.execute("DELETE FROM meta WHERE key='term_df_keys'")
    assert old.uncounted_rowids() == [] and old.count() > 10  # all counted, without sentences
    old.close()
    engine = Engine(copy_of_built.model_copy(update={"term_df_checkpoint": 4}), encoder=encoder)
    try:
        recount: Counter = Counter()
        for profile in engine.store.profiles(engine.store.rowids().tolist()).values():
            recount.update(profile.all_terms())
        words, sentences = in_memory(recount)
        assert sentences.sum() > 100 and np.array_equal(engine.stats.sentence_df, sentences)
        assert {t: c for t, c in engine.stats.df.items() if c} == words
        assert engine.store.uncounted_rowids() == []
        assert dict(engine.store.db.execute("SELECT term, df FROM term_df WHERE df > 0")) == dict(recount)
    finally:
        engine.store.close()


def test_a_store_made_before_lead_hashes_opens_and_stores_them_from_then_on(copy_of_built, encoder, built, rows):
    """The lead hash is an added column: an older store gets it (empty) at open, keeps every
    decision, and new articles are stored with theirs."""
    old = Store(copy_of_built.data_dir)
    old.db.execute("DROP INDEX articles_lead")
    old.db.execute("ALTER TABLE articles DROP COLUMN lead_hash")
    old.close()
    engine = Engine(copy_of_built, encoder=encoder)
    try:
        assert snapshot(engine) == built[2]
        assert engine.store.db.execute("SELECT COUNT(*) FROM articles WHERE lead_hash IS NOT NULL").fetchone()[0] == 0
        late = {**rows[1], "id": "excerpt", "text": rows[1]["text"][: len(rows[1]["text"]) // 3]}
        engine.ingest([parse_article(late)])
        stored = engine.store.db.execute("SELECT lead_hash FROM articles WHERE id='excerpt'").fetchone()[0]
        assert stored == lead_hash(rows[1]["text"]) and stored is not None
    finally:
        engine.store.close()


def test_a_copy_differing_in_direction_marks_only_is_exact_also_in_a_store_hashed_before(settings, encoder):
    """Right-to-left pages set direction marks around figures and Latin words, and another
    site's copy of the same article lacks them: the copy is an exact duplicate. A store hashed
    before the marks were dropped (``hash_version`` missing) re-hashes its marked texts when
    opened, so the unmarked copy posted after an upgrade still finds its original."""
    original = load_dataset("semeval2022-pairs-sample", lang="ar", limit=1)[0]
    marked_text = re.sub(r"([0-9A-Za-z]+)", "\u200e\\1\u200e", original["text"]).replace(".", ".\u200f")
    assert marked_text != original["text"]
    web_copy = {"id": "web-copy", "text": marked_text, "title": original["title"]}
    engine = Engine(settings, encoder=encoder)
    engine.ingest([parse_article(web_copy)])
    engine.store.db.execute("UPDATE articles SET content_hash='hashed-by-v1', lead_hash=NULL WHERE id='web-copy'")
    engine.store.db.execute("DELETE FROM meta WHERE key='hash_version'")
    engine.store.close()
    engine = Engine(settings, encoder=encoder)
    try:
        assert engine.store.get_meta("hash_version") == str(HASH_VERSION)
        stored = engine.store.db.execute("SELECT content_hash, lead_hash FROM articles WHERE id='web-copy'").fetchone()
        assert stored == (content_hash(original["text"]), lead_hash(original["text"]))
        decision = engine.ingest([parse_article({**original, "id": "agency-copy"})])[0]
        assert (decision.relation, decision.duplicate_of) == ("exact_duplicate", "web-copy")
    finally:
        engine.store.close()


def test_duplicate_links_stay_consistent_after_the_original_changes(engine, rows):
    """CONTRACT: copies belong to the story of the article they copy. When that article is
    updated to other content (or deleted), its copies must not point at an article that is now
    in another story (or gone)."""
    by_id = {r["id"]: r for r in rows}
    a, b, c = by_id["3_10ecbplus"], by_id["29_10ecbplus"], by_id["3_1ecb"]
    engine.ingest([parse_article(a), parse_article({**a, "id": "copy-of-a"}), parse_article(c),
                   parse_article({**c, "id": "copy-of-c"})])
    engine.ingest([parse_article({**a, "text": b["text"], "title": b["title"]})])  # a's id, another story
    engine.delete(c["id"])
    problems = []
    for article_id, cluster_id, _, duplicate_of, _ in engine.store.assignments():
        if duplicate_of is not None:
            original = engine.store.get(duplicate_of)
            if original is None:
                problems.append(f"{article_id} copies {duplicate_of}, which is deleted")
            elif original.cluster_id != cluster_id:
                problems.append(f"{article_id} copies {duplicate_of}, which is in another story")
    assert problems == []


def test_engine_refuses_a_store_built_with_other_settings(copy_of_built, encoder):
    with pytest.raises(RuntimeError, match="num_perm"):
        Engine(copy_of_built.model_copy(update={"num_perm": 64}), encoder=encoder)


def test_vectors_are_unit_length(built, encoder):
    engine = Engine(Settings(data_dir=built[0]), encoder=encoder)
    try:
        vectors = engine.store.embeddings(engine.store.rowids().tolist(), engine.encoder.dim)
        assert len(vectors) == engine.store.count()
        assert all(abs(float(np.linalg.norm(v)) - 1.0) < 1e-4 for v in vectors.values())
    finally:
        engine.store.close()


@pytest.mark.parametrize("fsync", [True, False])
def test_committed_writes_survive_a_sigkill_in_either_durability_mode(tmp_path, fsync):
    """A child process commits writes (as the engine does, one transaction each) and reports each
    after its commit; killed with SIGKILL, every reported write is there when the store reopens."""
    assert Store(tmp_path, fsync=fsync).db.execute("PRAGMA synchronous").fetchone()[0] == (2 if fsync else 1)
    child = subprocess.Popen([sys.executable, "-c", (
        "import sys\nfrom storyclust.store import Store\n"
        f"store = Store({str(tmp_path)!r}, fsync={fsync})\n"
        "for i in range(100000):\n"
        "    store.begin(); store.set_meta(f'k{i}', 'x' * 2000); store.commit()\n"
        "    print(i, flush=True)\n")], stdout=subprocess.PIPE, text=True)
    reported = []
    while len(reported) < 200:
        reported.append(int(child.stdout.readline()))
    child.send_signal(signal.SIGKILL)
    child.wait()
    reported += [int(line) for line in child.stdout.read().split()]
    store = Store(tmp_path)
    assert all(store.get_meta(f"k{i}") == "x" * 2000 for i in reported)
